"""Association by motion, for boxes too far apart to overlap: the tracker's second stage at slow rates.

At 1 Hz a person walking across the frame moves further than a box between samples (walkway clip:
0.3-0.45 of their height a second, their boxes a second apart do not overlap), so ByteTrack's IoU match
finds nothing: of 27 person boxes 5 got an id. What links them here: the centre's move from where the
thing was (or from where its last velocity puts it), in its own heights per second, and a height that
changed little. Boxes are matched greedily, cheapest pair first (each box and each track once), as
CenterTrack does: with the few boxes of a frame the optimal assignment rarely differs.

Why these bounds (hand-set from the walkway and swing clips of the tuning half, bench/perception.py
--clips): people walk 0.3-0.45 heights a second there; GATE allows 1.0 height a second (a brisk walk
across a near camera), and at most GATE_MAX heights whatever the gap. A height ratio over HEIGHT_RATIO
is another thing (the child swinging past where the man stood is a smaller box).
"""

from __future__ import annotations

import math

from vstream_ros.perception.boxes import Box, centre

GATE = 1.0                 # heights a second a centre may move
GATE_MAX = 2.0             # heights, whatever the gap
HEIGHT_RATIO = 1.3


def velocity(a: Box, ta: float, b: Box, tb: float) -> tuple[float, float]:
    """The centre's velocity from box a at ta to box b at tb (fractions of the frame a second)."""
    if tb <= ta:
        return 0.0, 0.0
    (ax, ay), (bx, by) = centre(a), centre(b)
    return (bx - ax) / (tb - ta), (by - ay) / (tb - ta)


def cost(last: Box, last_t: float, vel: tuple[float, float], box: Box, t: float) -> float | None:
    """How far `box` at `t` is from where a thing last seen at `last` (at `last_t`, moving at `vel`)
    should be, as a share of the allowed move; None beyond it, or when the heights differ too much."""
    dt = t - last_t
    h0, h1 = last[3] - last[1], box[3] - box[1]
    if dt <= 0 or h0 <= 0 or h1 <= 0 or max(h0, h1) / min(h0, h1) > HEIGHT_RATIO:
        return None
    (px, py), (cx, cy) = centre(last), centre(box)
    moved = math.hypot(cx - px, cy - py)
    guessed = math.hypot(cx - px - vel[0] * dt, cy - py - vel[1] * dt)
    allowed = min(GATE * dt, GATE_MAX) * (h0 + h1) / 2
    d = min(moved, guessed)
    return d / allowed if d <= allowed else None


def greedy(costs: dict[tuple[int, int], float]) -> list[tuple[int, int]]:
    """Pairs (a, b) of the cheapest costs first, each a and each b at most once."""
    used_a, used_b, out = set(), set(), []
    for (a, b), _ in sorted(costs.items(), key=lambda kv: kv[1]):
        if a not in used_a and b not in used_b:
            used_a.add(a)
            used_b.add(b)
            out.append((a, b))
    return out
