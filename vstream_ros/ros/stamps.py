"""builtin_interfaces/Time <-> seconds (the one conversion: the node, the pose messages, vstream-eval's
bags, the benches), a frame's stamp, and the zero-means-unbounded window of Query/Ask. Light on imports,
so tools and clients use it without loading the node."""

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
    """Any stamp with `sec` and `nanosec` (rclpy's Time, a rosbags message's) in seconds."""
    return t.sec + t.nanosec * 1e-9


def frame_stamp(header: Time, received_ns: int | None = None) -> float:
    """A frame's stamp in seconds: its header stamp. Zero means "never stamped" in ROS: where the receive
    time is known (a recorded bag's) it stands in; where it is not (a live subscription) the zero stays and
    the engine refuses the frame as `bad_stamp`. The node and vstream-eval both take stamps from here."""
    stamp = to_seconds(header)
    return stamp if stamp > 0 or received_ns is None else received_ns * 1e-9


NANOSEC_PER_SEC = 1_000_000_000


def check_time(t: Time, field: str) -> None:
    """A request's stamp must be a valid builtin_interfaces/Time: sec >= 0, nanosec < 1e9.
    ValueError says which field and why."""
    if t.sec < 0:
        raise ValueError(f"{field}.sec is negative ({t.sec}); stamps count seconds since the epoch (0: unbounded)")
    if t.nanosec >= NANOSEC_PER_SEC:
        raise ValueError(f"{field}.nanosec is {t.nanosec}; it must be below {NANOSEC_PER_SEC} "
                         f"(carry whole seconds into {field}.sec)")


def request_window(start: Time, end: Time) -> tuple[float, float] | None:
    """Query/Ask window: zero stamps mean unbounded; both zero: no window. ValueError for a stamp out
    of range (negative sec, nanosec of a second or more)."""
    check_time(start, "start")
    check_time(end, "end")
    t0, t1 = to_seconds(start), to_seconds(end)
    if t0 == 0 and t1 == 0:
        return None
    return (t0 if t0 > 0 else -math.inf, t1 if t1 > 0 else math.inf)
