"""builtin_interfaces/Time <-> seconds, and the zero-means-unbounded window of Query/Ask. Light on
imports, so tools and clients use it without loading the node."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time


def to_time(t: float) -> Time:
    if not math.isfinite(t) or t <= 0:
        return Time()
    sec = math.floor(t)
    ns = round((t - sec) * 1e9)
    if ns >= 1_000_000_000:
        sec, ns = sec + 1, ns - 1_000_000_000
    return Time(sec=int(sec), nanosec=int(ns))


def to_seconds(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


def request_window(start: Time, end: Time) -> tuple[float, float] | None:
    """Query/Ask window: zero stamps mean unbounded; both zero: no window."""
    t0, t1 = to_seconds(start), to_seconds(end)
    if t0 == 0 and t1 == 0:
        return None
    return (t0 if t0 > 0 else -math.inf, t1 if t1 > 0 else math.inf)
