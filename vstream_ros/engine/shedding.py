"""Load shedding: when the encoder cannot keep up, its work is degraded in the order the encoder itself
declares (`shed_levels`, see the FrameEncoder contract), one step per window, before sampled frames are
overwritten in their slots; and given back step by step once there is room.

The signal is the encoder's own, over windows of `WINDOW_S`: the share of wall time it was busy, and
whether sampled frames were overwritten (frames lost). Busy above `HIGH`, or any frame lost: one step
more. One step less only when the previous level's measured cost per frame (twice this one's until
measured) would keep the encoder under `TARGET`: so a level is not given back just to be taken again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 3.0
HIGH = 0.85                  # busy share that takes one step more, before frames are lost
TARGET = 0.70                # busy share the previous level must be expected to stay under to be restored


def shed_levels(encoder: object) -> tuple[str, ...]:
    """What an encoder gives up, in order (empty: it declares nothing and is never degraded)."""
    levels = tuple(getattr(encoder, "shed_levels", ()))
    return levels if hasattr(encoder, "set_load_level") else ()


@dataclass(frozen=True)
class ShedState:
    """What the policy is doing now (for ~/memory_state and the diagnostics)."""

    enabled: bool
    level: int                       # 0: full work; n: the first n of `levels` are in force
    levels: tuple[str, ...]
    busy: float                      # the encoder's busy share over the last window

    @property
    def doing(self) -> str:
        return "full work" if self.level == 0 else self.levels[self.level - 1]


class LoadShedder:
    """Called by the encoder thread after each batch (and when idle); says when to change level."""

    def __init__(self, levels: tuple[str, ...], clock: Callable[[], float] = time.monotonic) -> None:
        self.levels = levels
        self.level = 0
        self.enabled = True
        self._clock = clock
        self._start = clock()
        self._busy_s = 0.0
        self._frames = 0
        self._lost0: int | None = None
        self._busy = 0.0
        self._cost: dict[int, float] = {}       # seconds per frame measured at each level

    def observe(self, busy_s: float, frames: int, lost_total: int, enabled: bool) -> int | None:
        """Account one batch (`frames` encoded in `busy_s`; `lost_total`: frames overwritten so far). The
        new level when it changes, else None."""
        self._busy_s += busy_s
        self._frames += frames
        if not enabled or not self.levels:
            self.enabled = enabled
            return self._set(0)
        self.enabled = True
        now = self._clock()
        if self._lost0 is None:
            self._lost0 = lost_total
        if now - self._start < WINDOW_S:
            return None
        busy = self._busy = min(1.0, self._busy_s / (now - self._start))
        lost = lost_total - self._lost0
        if self._frames:
            self._cost[self.level] = self._busy_s / self._frames
        self._start, self._busy_s, self._frames, self._lost0 = now, 0.0, 0, lost_total
        if (lost > 0 or busy > HIGH) and self.level < len(self.levels):
            return self._set(self.level + 1)
        if self.level > 0 and self._cost.get(self.level):
            ratio = self._cost.get(self.level - 1, 2 * self._cost[self.level]) / self._cost[self.level]
            if busy * ratio < TARGET:
                return self._set(self.level - 1)
        return None

    def _set(self, level: int) -> int | None:
        if level == self.level:
            return None
        self.level = level
        return level

    def state(self) -> ShedState:
        return ShedState(self.enabled and bool(self.levels), self.level, self.levels, self._busy)
