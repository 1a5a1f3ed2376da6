"""Token orders of Qwen2-VL's vision path, in one place.

Qwen2-VL's processor lays a frame's patches out merge window by merge window (rows of windows, then
the m x m patches inside each), and its patch merger turns each run of m^2 consecutive patch features
into one language-model token. The memory keeps maps in plain row-major order; these functions convert.
A temporal token is `temporal_patch_size` (2) frames: a video's consecutive frames, or one frame tiled.
"""

from __future__ import annotations

import torch


def patchify(x: torch.Tensor, patch: int, merge: int, temporal: int) -> torch.Tensor:
    """Normalised frames -> pixel patches [B, (H/p)(W/p), C*temporal*p*p] in the processor's order, one
    temporal token per item: [B, C, H, W] tiles each frame `temporal` times (Qwen2VLImageProcessor's rule
    for a lone frame), [B, temporal, C, H, W] takes `temporal` frames per token (a video's consecutive frames)."""
    if x.dim() == 4:
        x = x[:, None].expand(x.shape[0], temporal, *x.shape[1:])
    b, frames, c, h, w = x.shape
    if frames != temporal:
        raise ValueError(f"a temporal token holds {temporal} frames, got {frames}")
    gh, gw = h // patch, w // patch
    if gh * patch != h or gw * patch != w or gh % merge or gw % merge:
        raise ValueError(f"frame {h}x{w} is not a whole number of {patch * merge}-pixel merge windows")
    t = x.reshape(b, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    t = t.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)      # B, h/m, w/m, m, m, C, temporal, p, p
    return t.reshape(b, gh * gw, c * temporal * patch * patch)


def clip_tokens(n: int, temporal: int = 2) -> list[tuple[int, ...]]:
    """The frames (indices into a clip of n frames) of each temporal token, as upstream's offline pipeline
    groups them: `temporal` consecutive distinct frames per token; a clip whose length is no multiple is
    padded with copies of its last frame (qwen_vl_utils.fetch_video), so a lone last frame is tiled."""
    return [tuple(min(i + k, n - 1) for k in range(temporal)) for i in range(0, n, temporal)]


def to_windows(maps: torch.Tensor, merge: int) -> torch.Tensor:
    """Row-major maps [..., h, w, D] -> [..., h*w, D] in merge-window order."""
    *lead, h, w, d = maps.shape
    x = maps.reshape(*lead, h // merge, merge, w // merge, merge, d)
    n = len(lead)
    x = x.permute(*range(n), n, n + 2, n + 1, n + 3, n + 4)
    return x.reshape(*lead, h * w, d)


def from_windows(tokens: torch.Tensor, h: int, w: int, merge: int) -> torch.Tensor:
    """[..., h*w, D] in merge-window order -> row-major maps [..., h, w, D]."""
    *lead, _, d = tokens.shape
    x = tokens.reshape(*lead, h // merge, w // merge, merge, merge, d)
    n = len(lead)
    x = x.permute(*range(n), n, n + 2, n + 1, n + 3, n + 4)
    return x.reshape(*lead, h, w, d)
