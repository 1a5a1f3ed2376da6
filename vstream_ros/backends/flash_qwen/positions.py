"""M-RoPE positions of the memory tokens, as upstream gives them to Qwen2-VL's language model ("AM-RoPE").

Qwen2-VL rotates each token by a (t, h, w) position; text tokens have t = h = w. Upstream lays one
video out as its DAM block then its CSM block (get_rope_index) and then replaces the visual positions
by the memory's times (calc_am_rope). With p0 the position where the video starts:
- DAM token (row r, column c of a key frame's merged grid, the frame at time index t): p0 + (t, r, c);
- CSM token (row r, column c of a slot's merged grid, the slot's mean time index t): p0 + S + (t, r, c),
  S being the number of DAM tokens;
- the text after the video starts at p0 + S + max(C - 1, hc - 1, wc - 1) + 1, C being the number of CSM
  slots and (hc, wc) their merged grid: the layout training used (upstream's streaming server puts it
  at p0 + N instead, N the number of visual tokens, which the model never saw in training).

Time indices count temporal tokens: training's clock is one index per token of two consecutive frames (a
video of at most 240 frames, 120 tokens, indexed 0..119). Here a read's time is counted on that clock,
one index per two frame intervals of the camera (`token_interval`), from the read's first frame, and
compressed to the trained 120 positions when it spans more: a long stream spans the range a training
video spanned. The stream's first frames are tokens of two frames, as in training, and the frames after
them single (tiled) tokens on the same clock. Upstream's streaming server counts its first clip's tokens
(0..59) and then frames (120, 121, ... without bound), a clock the model never saw; that is not copied.
Several cameras are several videos, laid out one after the other as get_rope_index does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vstream_ros.memory import TokenGroup


def time_indices(groups: Sequence[TokenGroup], token_interval: float, positions: int) -> list[int]:
    """Each group's temporal index: (stamp - first start) in token intervals (seconds per temporal token: two
    frame intervals), compressed so that the whole span fits `positions` indices."""
    if not groups:
        return []
    t0, t1 = min(g.start for g in groups), max(g.end for g in groups)
    unit = max(token_interval if token_interval > 0 else 1.0, (t1 - t0) / max(positions - 1, 1))
    return [min(positions - 1, max(0, round((g.stamp - t0) / unit))) for g in groups]


def block_positions(groups: Sequence[TokenGroup], times: Sequence[int], merge: int,
                    start: int) -> tuple[torch.Tensor, int]:
    """Positions [3, n] of one camera's memory tokens (its groups in read order: DAM then CSM, each group's
    merged tokens row-major) starting at `start`, and the position of the text that follows."""
    grids = [group_grid(g, merge) for g in groups]
    spa = sum(h * w for (h, w), g in zip(grids, groups, strict=True) if g.kind == "retrieved")
    out, last_layout = [], None
    for g, (h, w), t in zip(groups, grids, times, strict=True):
        base = start + (0 if g.kind == "retrieved" else spa)
        rows = torch.arange(h).repeat_interleave(w)
        cols = torch.arange(w).repeat(h)
        out.append(torch.stack([torch.full((h * w,), t), rows, cols]) + base)
    for kind, offset in (("temporal", spa), ("retrieved", 0)):
        block = [hw for hw, g in zip(grids, groups, strict=True) if g.kind == kind]
        if block:
            last_layout = start + offset + max(len(block) - 1, max(h for h, _ in block) - 1,
                                               max(w for _, w in block) - 1) + 1
            break
    positions = torch.cat(out, dim=1) if out else torch.zeros(3, 0, dtype=torch.long)
    return positions, (start if last_layout is None else last_layout)


def group_grid(group: TokenGroup, merge: int) -> tuple[int, int]:
    """The merged (language-model) grid of a group's map."""
    if group.grid is None or group.kind not in ("retrieved", "temporal"):
        raise ValueError(f"a {group.kind} group without a map grid: this model reads Flash Memory reads only")
    h, w = group.grid
    if h % merge or w % merge or h * w != group.length:
        raise ValueError(f"a {h}x{w} map of {group.length} tokens cannot be merged {merge}x{merge}")
    return h // merge, w // merge
