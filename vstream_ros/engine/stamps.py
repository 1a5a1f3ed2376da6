"""The stamp policy: which frames a camera's stamps let in, so that one bad stamp can neither wipe a
camera's memory nor lock the camera out, and a publisher with broken stamps cannot cycle it away.

Jumps are judged, not drift. A stamp at or after the camera's last one and at most `stamp_max_gap_s`
after it continues the stream, wherever the machine's clock is: a camera whose clock runs fast, a bag
replayed faster than real time, a machine whose clock drifts are all smooth streams (how far a camera
runs from the clock is a diagnostic, health.py). Anything else is a suspect: refused as an outlier
unless `stamp_confirm_frames` consecutive suspects agree on a new time base. Agreeing frames are
well-formed (they decoded), of one image size, and strictly increasing within the gap; the caller
decodes a suspect and hands it to `confirm`. Only then is the jump taken: a jump ahead continues the
stream (a camera that paused); a jump back is a new stream (a looping bag), which resets the camera's
memory under `on_stamp_jump_back=reset` (after archiving it), at most once per
`stamp_reset_min_interval_s` per camera (frames of a new stream wait, refused, until then), and is
refused for good under `refuse`. A step back of at most `stamp_jitter_s` is a late frame: refused, never
the start of a new stream. A single stamp far ahead of the clock stays refused: a jump from a stamp
within the clock's horizon (`stamp_max_future_s`) to one beyond it is never confirmed, however many
frames agree (frames lost in transport can line up bad stamps); only a camera with no stamps yet may
start ahead of the clock (another machine's clock), and it then keeps its own time base.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from vstream_ros.engine.config import EngineConfig


class Verdict(StrEnum):
    ACCEPT = "accept"                          # plausible, or a confirmed jump ahead
    NEW_STREAM = "new_stream"                  # a confirmed jump back under on_stamp_jump_back=reset
    LATE = "stamp_out_of_order"                # a small step back (refusal reasons from here on)
    BACK = "stamp_jumped_back"                 # a jump back not (yet) confirmed, or refused by policy
    AHEAD = "stamp_jumped_ahead"               # a jump ahead (of the last stamp or the clock) not yet confirmed
    HELD = "stamp_reset_rate_limited"          # a confirmed new stream waiting for the reset interval


@dataclass(frozen=True)
class Judgement:
    """What the stamp alone says: ACCEPT, a refusal, or a suspect the frame itself may help confirm."""

    verdict: Verdict
    confirmable: bool = False                  # decode the frame and call `confirm`

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPT


@dataclass
class _Run:
    last: float                                # newest stamp of the suspect run
    count: int                                 # consecutive well-formed suspects that agree so far
    back: bool                                 # the run went back from the camera's last stamp
    shape: tuple[int, ...]                     # their image size


class StampPolicy:
    """Per-camera suspect runs and reset times; the caller holds the lock and keeps the last stamps."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._last_reset: dict[str, float] = {}

    def judge(self, camera: str, stamp: float, last: float | None, now: float | None,
              cfg: EngineConfig) -> Judgement:
        """What to make of a frame of `camera` stamped `stamp`, given the camera's last accepted stamp and
        the clock (None: unknown). Finite positive stamps only (the caller refuses the others)."""
        suspect, confirmable = self._suspect(stamp, last, now, cfg)
        if suspect is None:
            self._runs.pop(camera, None)                # a good frame ends any run of outliers
            return Judgement(Verdict.ACCEPT)
        if suspect is Verdict.BACK and cfg.on_stamp_jump_back == "refuse":
            confirmable = False
        return Judgement(suspect, confirmable)

    def confirm(self, camera: str, stamp: float, suspect: Verdict, shape: tuple[int, ...], mono: float,
                cfg: EngineConfig) -> Verdict:
        """A confirmable suspect that decoded to an image of `shape`: extends (or starts) the camera's run
        and returns ACCEPT or NEW_STREAM once the run is confirmed, else the refusal. `mono` is a
        monotonic time for the reset interval."""
        back = suspect is Verdict.BACK
        run = self._runs.get(camera)
        agrees = run is not None and run.back == back and run.shape == shape
        if agrees and run.last < stamp <= run.last + cfg.stamp_max_gap_s:
            run.last, run.count = stamp, run.count + 1
        else:
            run = self._runs[camera] = _Run(stamp, 1, back, shape)
        if run.count < cfg.stamp_confirm_frames:
            return suspect
        if back:
            since = mono - self._last_reset.get(camera, -math.inf)
            if since < cfg.stamp_reset_min_interval_s:
                return Verdict.HELD                     # the run stays: a later frame confirms it
            self._last_reset[camera] = mono
        del self._runs[camera]                          # confirmed: the new time base is taken
        return Verdict.NEW_STREAM if back else Verdict.ACCEPT

    def broken(self, camera: str) -> None:
        """A suspect frame that did not decode: it agrees with nothing, the run starts again."""
        self._runs.pop(camera, None)

    @staticmethod
    def _suspect(stamp: float, last: float | None, now: float | None,
                 cfg: EngineConfig) -> tuple[Verdict | None, bool]:
        """(what the stamp is suspected of, or None; whether consecutive frames may confirm it)."""
        horizon = math.inf if now is None else now + cfg.stamp_max_future_s
        if last is None:
            return (Verdict.AHEAD, True) if stamp > horizon else (None, True)
        if stamp < last:
            return (Verdict.LATE, False) if last - stamp <= cfg.stamp_jitter_s else (Verdict.BACK, True)
        if stamp - last > cfg.stamp_max_gap_s:          # a jump; from the clock's time base into the future: never
            return Verdict.AHEAD, not (stamp > horizon and last <= horizon)
        return None, True                               # the stream goes on, wherever the clock is

    def forget(self, camera: str | None = None) -> None:
        """Drop suspect runs (the reset times stay: a reset of the memory does not lift the rate limit)."""
        if camera is None:
            self._runs.clear()
        else:
            self._runs.pop(camera, None)
