"""The robot's pose over time, so each encoded frame can be given where it was taken.

Owns a bounded, time-ordered buffer of poses (from /odom, /amcl_pose or any pose topic, adapted by
the node). `at(stamp)` interpolates between the two poses around a stamp (linear for position,
slerp for orientation), or gives None when no pose lies within `max_gap_s` of it: a frame without a
trustworthy pose is better than one with an invented place.

Poses must come in time order. One a little older than the newest is refused (and counted); one older by
more than `JUMP_BACK_S` starts a new stream (a bag that loops, a simulator restarted): the buffer is
cleared first, as the cameras' memories are.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque

import numpy as np

JUMP_BACK_S = 1.0      # a pose this much older than the newest one starts a new stream


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions (x, y, z, w), the shorter way round."""
    q0, q1 = q0 / np.linalg.norm(q0), q1 / np.linalg.norm(q1)
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:                        # nearly the same: linear, then normalise
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = math.acos(min(1.0, dot))
    s = math.sin(theta)
    return (math.sin((1 - t) * theta) / s) * q0 + (math.sin(t * theta) / s) * q1


class PoseBuffer:
    def __init__(self, capacity: int = 4096, max_gap_s: float = 0.5, frame_id: str = "") -> None:
        self.capacity, self.max_gap_s, self.frame_id = capacity, max_gap_s, frame_id
        self._stamps: deque[float] = deque(maxlen=capacity)
        self._poses: deque[np.ndarray] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.refused = 0                    # out-of-order, non-finite or zero-quaternion poses

    def add(self, stamp: float, position: tuple[float, float, float], orientation: tuple[float, float, float, float],
            frame_id: str = "") -> bool:
        """Add a pose (orientation as x, y, z, w, normalised here); False (and counted) when it is unusable
        or a little older than the newest one (see JUMP_BACK_S for a stream that starts again)."""
        p = np.asarray([*position, *orientation], np.float64)
        if not (math.isfinite(stamp) and stamp > 0 and np.isfinite(p).all() and np.linalg.norm(p[3:]) > 1e-9):
            self.refused += 1
            return False
        p[3:] /= np.linalg.norm(p[3:])
        with self._lock:
            if self._stamps and stamp < self._stamps[-1]:
                if stamp > self._stamps[-1] - JUMP_BACK_S:
                    self.refused += 1
                    return False
                self._stamps.clear()
                self._poses.clear()
            self._stamps.append(stamp)
            self._poses.append(p)
            if frame_id:
                self.frame_id = frame_id
        return True

    def __len__(self) -> int:
        return len(self._stamps)

    def at(self, stamp: float) -> np.ndarray | None:
        """[8] = x y z qx qy qz qw 1 at `stamp`, or None when no pose is near enough in time."""
        with self._lock:
            if not self._stamps:
                return None
            stamps = self._stamps
            k = bisect.bisect_left(stamps, stamp)
            before = k - 1 if k > 0 else None
            after = k if k < len(stamps) else None
            if before is not None and after is not None and stamps[after] - stamps[before] <= 2 * self.max_gap_s:
                t0, t1 = stamps[before], stamps[after]
                t = 0.0 if t1 == t0 else (stamp - t0) / (t1 - t0)
                a, b = self._poses[before], self._poses[after]
                out = np.concatenate([a[:3] + t * (b[:3] - a[:3]), slerp(a[3:], b[3:], t), [1.0]])
                return out.astype(np.float32)
            near = min((i for i in (before, after) if i is not None), key=lambda i: abs(stamps[i] - stamp))
            if abs(stamps[near] - stamp) > self.max_gap_s:
                return None
            return np.concatenate([self._poses[near], [1.0]]).astype(np.float32)
