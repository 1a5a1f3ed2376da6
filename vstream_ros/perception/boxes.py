"""Box geometry the tracker and its motion stage share: boxes are (x0, y0, x1, y1) as fractions of the
frame. Plain functions, no model."""

from __future__ import annotations

import math
from collections.abc import Sequence

Box = tuple[float, float, float, float]

# a box covering at least this share of each of two stronger boxes of its kind is drawn around both (walkway
# at 3 s: 0.67 and 0.83 of the two women)
UNION_COVER = 0.6


def area(b: Sequence[float]) -> float:
    return max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)


def centre(b: Sequence[float]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def centre_distance(a: Sequence[float], b: Sequence[float]) -> float:
    (ax, ay), (bx, by) = centre(a), centre(b)
    return math.hypot(ax - bx, ay - by)


def intersection(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """The share of the smaller box that the two boxes have in common."""
    smaller = min(area(a), area(b))
    return intersection(a, b) / smaller if smaller > 0 else 0.0


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter = intersection(a, b)
    return inter / (area(a) + area(b) - inter) if inter > 0 else 0.0


def unions(boxes: Sequence[Sequence[float]], scores: Sequence[float]) -> set[int]:
    """Boxes drawn around two things at once: each covers UNION_COVER or more of two stronger boxes (NanoDet
    boxes two women walking side by side, and both again: the walkway clip at 3 s). Tracked, such a box
    starts a third identity, or takes one of theirs."""
    out = set()
    for j, b in enumerate(boxes):
        inside = [i for i, a in enumerate(boxes) if i != j and scores[i] > scores[j] and area(a) > 0
                  and intersection(a, b) >= UNION_COVER * area(a)]
        if len(inside) >= 2:
            out.add(j)
    return out
