"""Load shedding: when the encoder cannot keep up, its work is degraded in the order the encoder itself
declares (`shed_levels`, see the FrameEncoder contract), one step per window, before sampled frames are
overwritten in their slots; and given back step by step once there is room.

The engine's own step comes first (`ENGINE_LEVELS`): the sampler stops keeping frames for a change
of picture between two due ones (ingest.py), so the encoder gets the sample rate it was promised and
no more. Those extras are the cheapest work to give up: each is a whole encode, and they can double
the frames a busy scene sends, while the rate's frames are what the memory is built on. Then the
encoder's steps, which make each frame cheaper. While change sampling is off (`sample_on_change: 0`, the
default) that first step would hold nothing back, so it is passed over both ways (`inert`).

The signal is the encoder's own, over windows of `WINDOW_S`: the share of wall time it was busy,
whether sampled frames were overwritten (frames lost), and how long the frames waited from the offer
to the memory (the longest in the window). Busy above `HIGH`, any frame lost, or a frame that took over
`LAG_HIGH` to reach the memory: one step more. One step less only when the previous level's measured
cost per frame (twice this one's until measured), times the frames it would get (those a frame-holding
level held back counted in), would keep the encoder under `TARGET`, and no frame of the window took
over half `LAG_HIGH`: so a level is not given back just to be taken again.

Why the lag: an encoder busy 60-70 % of the time keeps up, yet a frame that arrives as a batch of four
cameras begins waits for that batch and then its own. With four cameras on this 2-core CPU, p95 from
offer to memory was 1.1-1.6 s at level 1 with the encoder's thread 0.4 core busy (bench/node.py): a
robot asking what was just seen would not find it for over a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 3.0
HIGH = 0.85                  # busy share that takes one step more, before frames are lost
TARGET = 0.70                # busy share the previous level must be expected to stay under to be restored
LAG_HIGH = 1.0               # seconds from offer to memory that take one step more (the p95 goal)
# steps the engine itself takes, before the encoder's: these hold frames back rather than make them cheaper
ENGINE_LEVELS = ("no frames for a change of picture between due ones",)


def shed_levels(encoder: object) -> tuple[str, ...]:
    """What an encoder gives up, in order (empty: it declares nothing and is never made cheaper)."""
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

    def __init__(self, levels: tuple[str, ...], clock: Callable[[], float] = time.monotonic,
                 holding: int = 0, inert: Callable[[int], bool] = lambda level: False) -> None:
        self.levels = levels
        self.holding = holding                  # the first `holding` levels hold frames back (ENGINE_LEVELS)
        self.inert = inert                      # a level that would change nothing now: passed over both ways
        self.level = 0
        self.enabled = True
        self._clock = clock
        self._start = clock()
        self._busy_s = 0.0
        self._frames = 0
        self._lost0: int | None = None
        self._held0: int | None = None
        self._busy = 0.0
        self._lag = 0.0                         # the longest offer-to-memory wait of the window
        self._cost: dict[int, float] = {}       # seconds per frame measured at each level

    def observe(self, busy_s: float, frames: int, lost_total: int, enabled: bool, held_total: int = 0,
                lag_s: float = 0.0) -> int | None:
        """Account one batch (`frames` encoded in `busy_s`; `lost_total`: frames overwritten so far;
        `held_total`: frames the frame-holding levels kept from the encoder so far; `lag_s`: the longest
        a frame of the batch took from its offer to the memory). The new level when it changes, else None."""
        self._busy_s += busy_s
        self._frames += frames
        self._lag = max(self._lag, lag_s)
        if not enabled or not self.levels:
            self.enabled = enabled
            return self._set(0)
        self.enabled = True
        now = self._clock()
        if self.level == 0 and self._frames == frames:
            # at full work a window starts with its first batch: idle time before the cameras stream
            # would thin its busy share, and the first step would come a window late
            self._start = now - busy_s
        if self._lost0 is None:
            self._lost0, self._held0 = lost_total, held_total
        span = now - self._start
        if span < WINDOW_S:
            return None
        busy = self._busy = min(1.0, self._busy_s / span)
        lost, held, frames = lost_total - self._lost0, held_total - (self._held0 or 0), self._frames
        if frames:
            self._cost[self.level] = self._busy_s / frames
        lag, self._lag = self._lag, 0.0
        self._start, self._busy_s, self._frames, self._lost0, self._held0 = now, 0.0, 0, lost_total, held_total
        if (lost > 0 or busy > HIGH or lag > LAG_HIGH) and self.level < len(self.levels):
            return self._set(self._past_inert(self.level + 1, 1))
        cost = self._cost.get(self.level)
        if self.level > 0 and cost and lag <= LAG_HIGH / 2:
            # one level down: its cost per frame, for the frames it would get (the held ones too)
            down = self._past_inert(self.level - 1, -1)
            more = held if down < self.holding else 0
            if (frames + more) * self._cost.get(down, 2 * cost) / span < TARGET:
                return self._set(down)
        return None

    def _past_inert(self, level: int, step: int) -> int:
        """`level`, or the next one in the direction of `step` that is not inert (the change frames' level while
        change sampling is off: no step is spent on it)."""
        while 0 < level < len(self.levels) and self.inert(level):
            level += step
        return level

    def _set(self, level: int) -> int | None:
        if level == self.level:
            return None
        self.level = level
        return level

    def state(self) -> ShedState:
        return ShedState(self.enabled and bool(self.levels), self.level, self.levels, self._busy)

    def costs(self) -> dict[int, float]:
        """Seconds per encoded frame last measured at each level (what each step bought)."""
        return dict(self._cost)
