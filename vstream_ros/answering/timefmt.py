"""How times are written in answers, one way everywhere: seconds since the stream's first frame (for a
replayed bag or video, its first frame, as vstream-eval reports them). The evidence carries the
absolute stamps; the text never states a time that is not one of them."""

from __future__ import annotations

import math


def since(t: float, origin: float) -> str:
    """12.0 s; from an hour on, h:mm:ss."""
    d = max(0.0, t - origin)
    if d < 3600:
        return f"{d:.1f} s"
    h, rest = divmod(int(round(d)), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def span(start: float, end: float, origin: float) -> str:
    """'at 3.0 s' for one moment, else 'from 3.0 s to 9.0 s'."""
    if since(start, origin) == since(end, origin):
        return f"at {since(start, origin)}"
    return f"from {since(start, origin)} to {since(end, origin)}"


def ago(t: float, newest: float) -> str:
    d = max(0.0, newest - t)
    return "just now" if d < 0.5 else f"{d:.0f} seconds before the newest frame"


def covered_s(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) spans: a thing seen by two cameras over the same 9 s
    was seen for 9 s, not 18 (answers say how long; stretches of different cameras overlap)."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total
