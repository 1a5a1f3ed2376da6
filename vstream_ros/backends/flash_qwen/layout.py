"""Token orders of Qwen2-VL's vision path, in one place.

Qwen2-VL's processor lays a frame's patches out merge window by merge window (rows of windows, then
the m x m patches inside each), and its patch merger turns each run of m^2 consecutive patch features
into one language-model token. The memory keeps maps in plain row-major order; these functions convert.
"""

from __future__ import annotations

import torch


def patchify(x: torch.Tensor, patch: int, merge: int, temporal: int) -> torch.Tensor:
    """Normalised frames [B, C, H, W] -> pixel patches [B, (H/p)(W/p), C*temporal*p*p] in the processor's
    order (Qwen2VLImageProcessor: one frame tiled `temporal` times, as upstream streams a single frame)."""
    b, c, h, w = x.shape
    gh, gw = h // patch, w // patch
    if gh * patch != h or gw * patch != w or gh % merge or gw % merge:
        raise ValueError(f"frame {h}x{w} is not a whole number of {patch * merge}-pixel merge windows")
    t = x[:, None].expand(b, temporal, c, h, w)
    t = t.reshape(b, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    t = t.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)      # B, h/m, w/m, m, m, C, temporal, p, p
    return t.reshape(b, gh * gw, c * temporal * patch * patch)


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
