"""The stamp policy: which frames a camera's stamps let in, so that one bad stamp can neither wipe a
camera's memory nor lock the camera out.

A stamp is plausible when it is at or after the camera's last stamp, at most `stamp_max_gap_s` after
it, and not more than `stamp_max_future_s` ahead of the machine's clock. Anything else is a suspect:
refused as an outlier unless `stamp_confirm_frames` consecutive suspects agree on a new time base (each
at or after the previous one, within the gap). Only then is the jump taken: a jump ahead continues the
stream (a camera that paused); a jump back is a new stream (a looping bag), which resets the camera's
memory under `on_stamp_jump_back=reset` (after archiving it) and is refused for good under `refuse`.
A step back of at most `stamp_jitter_s` is a late frame: refused, never the start of a new stream.
A camera whose stamps agree with the clock never jumps ahead of it, however many frames say so (frames
lost in transport can line up bad stamps); only a camera with no stamps yet may start ahead of the
clock (another machine's clock), and it then keeps its own time base.
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


@dataclass
class _Candidate:
    last: float                                # newest stamp of the suspect run
    count: int                                 # consecutive suspects that agree so far
    back: bool                                 # the run went back from the camera's last stamp


class StampPolicy:
    """Per-camera suspect runs; the caller holds the lock and keeps the cameras' last stamps."""

    def __init__(self) -> None:
        self._runs: dict[str, _Candidate] = {}

    def judge(self, camera: str, stamp: float, last: float | None, now: float | None, cfg: EngineConfig) -> Verdict:
        """What to do with a frame of `camera` stamped `stamp`, given the camera's last accepted stamp and
        the clock (None: unknown). Finite positive stamps only (the caller refuses the others)."""
        suspect, confirmable = self._suspect(stamp, last, now, cfg)
        if suspect is None:
            self._runs.pop(camera, None)                # a good frame ends any run of outliers
            return Verdict.ACCEPT
        if not confirmable:
            return suspect
        back = suspect is Verdict.BACK
        if back and cfg.on_stamp_jump_back == "refuse":
            return Verdict.BACK
        run = self._runs.get(camera)
        if run is not None and run.last <= stamp <= run.last + cfg.stamp_max_gap_s:
            run.last, run.count = stamp, run.count + 1
        else:
            run = self._runs[camera] = _Candidate(stamp, 1, back)
        if run.count < cfg.stamp_confirm_frames:
            return suspect
        del self._runs[camera]                          # confirmed: the new time base is taken
        return Verdict.NEW_STREAM if run.back else Verdict.ACCEPT

    @staticmethod
    def _suspect(stamp: float, last: float | None, now: float | None,
                 cfg: EngineConfig) -> tuple[Verdict | None, bool]:
        """(what the stamp is suspected of, or None; whether consecutive frames may confirm it)."""
        horizon = math.inf if now is None else now + cfg.stamp_max_future_s
        if last is None:
            return (Verdict.AHEAD, True) if stamp > horizon else (None, True)
        if stamp < last:
            return (Verdict.LATE, False) if last - stamp <= cfg.stamp_jitter_s else (Verdict.BACK, True)
        if stamp > horizon and last <= horizon:        # from the clock's time base into the future: never
            return Verdict.AHEAD, False
        if stamp - last > cfg.stamp_max_gap_s:
            return Verdict.AHEAD, True
        return None, True

    def forget(self, camera: str | None = None) -> None:
        if camera is None:
            self._runs.clear()
        else:
            self._runs.pop(camera, None)
