"""Ingest: what happens to a frame between a camera callback and the encoder.

Owns, per camera: the sampler's state (the next stamp due, the last stamp offered), the slot of its
newest waiting frames (SLOT_FRAMES) the encoder worker takes from, and the counters. `offer()` never
runs a model and never waits for one (unless a tool asks it to wait for a free slot).

Sampling follows the stamps (`sample_rate_hz`) and the picture: a frame not yet due is kept anyway when
it differs strongly from the last kept one (`sample_on_change`: mean absolute difference of 16x16 grey
thumbnails), so a thing that comes into view between two due frames is looked at when it comes, not up
to a period later. Bounded: at most one such frame per period, half a period after the last kept frame,
so the encoder's load is at most twice the rate's; load shedding turns these off first (`follow_changes`,
engine/shedding.py) and counts the ones it held back. The thumbnail is a 32x32 grid of pixels (no model, no
decode: an array is sampled in place; a decoder offers it only through a cheap `thumbnail` attribute,
and frames without one are sampled by stamp alone). The memory owns what was encoded; the
sampler asks it for a camera's last stamp when it has none of its own (after a restart or reset).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.stamps import StampPolicy, Verdict
from vstream_ros.frames import FrameRejected, check_rgb


class Outcome(StrEnum):
    SAMPLED = "sampled"       # due by stamp: it waits in the camera's slot for the encoder
    DROPPED = "dropped"       # not due yet by stamp
    REJECTED = "rejected"     # unusable (the reason says why)


@dataclass(frozen=True)
class Offered:
    """What `offer()` did with a frame."""

    outcome: Outcome
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.outcome}: {self.reason}" if self.reason else str(self.outcome)


SAMPLED = Offered(Outcome.SAMPLED)
DROPPED = Offered(Outcome.DROPPED)


def rejected(reason: str) -> Offered:
    return Offered(Outcome.REJECTED, reason)


@dataclass
class CameraStats:
    """received = sampled + dropped + rejected at every moment; encoded <= sampled."""

    received: int = 0
    sampled: int = 0
    encoded: int = 0
    dropped: int = 0                       # skipped by sampling, or overwritten before encoding
    overwritten: int = 0                   # of dropped: sampled, then replaced by a newer frame
    rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    held_back: int = 0                     # of dropped: changed frames not kept while load shedding held them back
    resets: int = 0
    missed: int = 0                        # due sampling slots no frame arrived for (stamp gaps: lost in
                                           # transport, or a camera slower than the sample rate)
    last_arrival: float | None = None      # time.monotonic() of the newest message, whatever became of it
    watched_since: float | None = None     # time.monotonic() the camera was subscribed (None: not watched)
    clock_offset_s: float | None = None    # newest accepted frame: its stamp minus this machine's clock
    last_encode_latency_s: float = 0.0
    ingest_lag_s: float = 0.0              # newest encoded frame: from its offer() (the camera callback's
                                           # first call after the header checks) to the end of its memory update

    def silent_s(self, now: float) -> float | None:
        """Seconds without a message while watched (since subscribing when none came); None: not watched."""
        if self.watched_since is None:
            return None
        return now - max(self.watched_since, self.last_arrival or self.watched_since)

    def copy(self) -> CameraStats:
        return replace(self, rejected_by_reason=Counter(self.rejected_by_reason))


@dataclass(frozen=True, slots=True)
class Kept:
    """The last frame a camera's sampler kept: when, its thumbnail, and whether it was a change sample."""

    stamp: float
    thumb: np.ndarray | None
    extra: bool


def thumbnail(frame) -> np.ndarray | None:
    """16x16 grey levels of an RGB frame from a 32x32 grid of its pixels (microseconds); a decoder's own
    `thumbnail()` when it offers one; None when neither is cheap (a compressed frame)."""
    if callable(frame):
        cheap = getattr(frame, "thumbnail", None)
        if cheap is None:
            return None
        try:
            return cheap()
        except Exception:        # a broken message: the decoder will say why if the frame is due
            return None
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 2):
        return None
    h, w = frame.shape[:2]
    grid = frame[np.linspace(0, h - 1, 32).astype(np.intp)][:, np.linspace(0, w - 1, 32).astype(np.intp)]
    return grid.reshape(16, 2, 16, 2, 3).astype(np.float32).mean((1, 3, 4))


# Frames a camera may have waiting for the encoder before the oldest is overwritten. Two: a change frame
# comes at most half a period before the next due one, so with one place the due frame overwrote it
# whenever the encoder was busy with other cameras' frames for that long, although it kept up on
# average (bench/node.py, three cameras: 8 of 58 due frames lost while the node used 0.9 of 2 cores).
SLOT_FRAMES = 2


@dataclass(slots=True)
class PendingFrame:
    """A sampled frame waiting for the encoder."""

    camera: str
    frame: np.ndarray
    stamp: float
    offered: float                         # time.monotonic() of the offer
    reset_first: bool                      # a new stream began on this camera: forget its memory first


class Ingest:
    def __init__(self, config: Callable[[], EngineConfig], memory_last_stamp: Callable[[str], float | None],
                 clock: Callable[[], float | None] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._memory_last_stamp = memory_last_stamp
        self._now = clock                    # the clock stamps are judged against (None: unknown)
        self._mono = monotonic               # what the reset interval is measured with
        self._stamps = StampPolicy()
        self._new_stream: set[str] = set()   # a confirmed jump back: the next sampled frame resets first
        self.stats: dict[str, CameraStats] = {}
        self._slots: dict[str, list[PendingFrame]] = {}   # per camera its waiting frames, oldest first
        self._next_due: dict[str, float] = {}
        self._last_stamp: dict[str, float] = {}
        self._kept: dict[str, Kept] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._busy = False                 # the encoder holds a batch taken from here
        self.follow_changes = True         # False while load shedding holds change frames back
        self._closed = False

    # ------------------------------------------------------------------ offers
    def offer(self, camera: str, stamp: float, frame: np.ndarray | Callable[[], np.ndarray],
              wait: bool = False) -> Offered:
        """Offer one frame (uint8 [H, W, 3] RGB, or a callable that decodes it) with its stamp in seconds.

        A callable is only called for frames that are due, so compressed frames skipped by sampling
        are never decoded; whatever it raises is a refusal (FrameRejected says why; any other error is
        counted as `decode_failed`). The stamp policy (stamps.py) refuses outliers. Frames of one camera
        must come from one thread at a time; cameras may be offered concurrently. `wait=True` (offline
        tools) blocks until the camera's slot is free instead of overwriting it.
        """
        # `received` is counted together with the outcome, so that received = sampled + dropped +
        # rejected holds whenever the counters are read, also while a frame is being decoded.
        now = time.monotonic()
        cfg = self._config()
        with self._lock:
            st = self.stats.setdefault(camera, CameraStats())
            st.last_arrival = now
            if not math.isfinite(stamp) or stamp <= 0.0:
                st.received += 1
                return self._reject(st, "bad_stamp")
            last = self._last_stamp.get(camera)
            if last is None:
                last = self._memory_last_stamp(camera)
            clock = self._now()
            judged = self._stamps.judge(camera, stamp, last, clock, cfg)
            if not (judged.accepted or judged.confirmable):
                st.received += 1
                return self._reject(st, judged.verdict.value)
            due = self._next_due.get(camera)
            extra = False
            if judged.accepted and due is not None and stamp < due:
                extra = self._changed(camera, stamp, frame, cfg)
                if extra and not self.follow_changes:
                    st.held_back += 1
                    self._kept[camera] = replace(self._kept[camera], extra=True)   # one per period, as if kept
                    extra = False
            if judged.accepted and due is not None and stamp < due and not extra:
                self._last_stamp[camera] = stamp
                self._offset(st, stamp, clock)
                st.received += 1
                st.dropped += 1
                return DROPPED
        try:                                            # decode outside the lock: it may take milliseconds
            image = check_rgb(frame() if callable(frame) else frame)
        except Exception as e:                          # a decoder must not end the caller: count it
            with self._lock:
                if judged.confirmable:
                    self._stamps.broken(camera)         # a broken frame confirms no jump
                st.received += 1
                return self._reject(st, e.reason if isinstance(e, FrameRejected) else "decode_failed")
        with self._ready:
            if judged.confirmable:                      # a suspect that decoded: does it confirm a jump?
                verdict = self._stamps.confirm(camera, stamp, judged.verdict, image.shape, self._mono(), cfg)
                if verdict is Verdict.NEW_STREAM:       # start this camera's memory again
                    st.resets += 1
                    self._new_stream.add(camera)
                    self._next_due.pop(camera, None)
                elif verdict is not Verdict.ACCEPT:
                    st.received += 1
                    return self._reject(st, verdict.value)
            while wait and camera in self._slots and not self._closed:
                self._ready.wait(0.1)
            period = 1.0 / cfg.sample_rate_hz
            due = self._next_due.get(camera)
            if not extra:                               # a change sample leaves the schedule as it was
                if due is not None and not judged.confirmable and stamp - due >= period:
                    st.missed += int((stamp - due) / period)   # slots due, due + period, ... got no frame
                self._next_due[camera] = stamp + period if due is None or stamp - due >= period else due + period
            self._kept[camera] = Kept(stamp, thumbnail(image) if cfg.sample_on_change > 0 else None, extra)
            self._last_stamp[camera] = stamp
            self._offset(st, stamp, clock)
            reset_first = camera in self._new_stream
            self._new_stream.discard(camera)
            waiting = self._slots.setdefault(camera, [])
            if len(waiting) >= SLOT_FRAMES:             # the encoder is that far behind: the oldest gives way
                old = waiting.pop(0)
                st.sampled -= 1
                st.dropped += 1
                st.overwritten += 1
                if waiting:                             # a new stream starts at the next one still waiting
                    waiting[0].reset_first = waiting[0].reset_first or old.reset_first
                else:
                    reset_first = reset_first or old.reset_first
            waiting.append(PendingFrame(camera, image, stamp, now, reset_first))
            st.received += 1
            st.sampled += 1
            self._ready.notify_all()
        return SAMPLED

    def _changed(self, camera: str, stamp: float, frame, cfg: EngineConfig) -> bool:
        """A frame not due by stamp that is kept for its change (see the module's note)."""
        kept = self._kept.get(camera)
        if cfg.sample_on_change <= 0 or kept is None or kept.extra or kept.thumb is None:
            return False
        if stamp - kept.stamp < 0.5 / cfg.sample_rate_hz:
            return False
        thumb = thumbnail(frame)
        return thumb is not None and float(np.abs(thumb - kept.thumb).mean()) >= cfg.sample_on_change

    @staticmethod
    def _offset(st: CameraStats, stamp: float, clock: float | None) -> None:
        st.clock_offset_s = None if clock is None else stamp - clock

    def reject(self, camera: str, error: FrameRejected) -> Offered:
        """Count a frame the caller refused before offering it (a malformed message, say)."""
        with self._lock:
            st = self.stats.setdefault(camera, CameraStats())
            st.last_arrival = time.monotonic()
            st.received += 1
            return self._reject(st, error.reason)

    @staticmethod
    def _reject(st: CameraStats, reason: str) -> Offered:
        st.rejected += 1
        st.rejected_by_reason[reason] += 1
        return rejected(reason)

    # --------------------------------------------------------- the encoder side
    def take(self, max_frames: int, timeout: float = 0.5) -> list[PendingFrame]:
        """The oldest waiting frames, one per camera (empty after `timeout` or once closed); a camera's
        second waiting frame goes in the next batch (pairing and the tracker see a camera's frames one
        at a time, in order)."""
        with self._ready:
            if not self._slots and not self._closed:
                self._ready.wait(timeout)
            if self._closed or not self._slots:
                return []
            cams = sorted(self._slots, key=lambda c: self._slots[c][0].offered)[:max_frames]
            batch = [self._slots[c].pop(0) for c in cams]      # one per camera: its frames stay in order
            for c in cams:
                if not self._slots[c]:
                    del self._slots[c]
            self._busy = True
            self._ready.notify_all()                    # offers waiting for a free slot
            return batch

    def encoded(self, frame: PendingFrame, encode_s: float, lag_s: float) -> None:
        with self._lock:
            st = self.stats[frame.camera]
            st.encoded += 1
            st.last_encode_latency_s = encode_s
            st.ingest_lag_s = lag_s

    def failed(self, frame: PendingFrame, reason: str) -> None:
        """A sampled frame the encoder or the memory could not take: counted as rejected instead."""
        with self._lock:
            st = self.stats[frame.camera]
            st.sampled -= 1
            self._reject(st, reason)

    def batch_done(self) -> None:
        with self._ready:
            self._busy = False
            self._ready.notify_all()                    # answers waiting for the encoder to be idle

    def pending(self) -> bool:
        """Frames wait in a slot or are being encoded."""
        with self._lock:
            return bool(self._slots) or self._busy

    def due_hint(self) -> bool:
        """`pending()` without the lock: a cheap, possibly stale look for a hot path that re-checks."""
        return bool(self._slots) or self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no frame waits for the encoder or is being encoded (True), or `timeout` passes."""
        with self._ready:
            return self._ready.wait_for(lambda: self._closed or not (self._slots or self._busy), timeout)

    # ------------------------------------------------------------------- state
    def watch(self, cameras: list[str]) -> None:
        """The cameras subscribed now (replacing the previous set; empty: none): each is listed from now
        on, and its silence is measured from now until a message comes (the liveness check, health.py)."""
        now = time.monotonic()
        with self._lock:
            for name, st in self.stats.items():
                if name not in cameras:
                    st.watched_since = None
            for name in cameras:
                self.stats.setdefault(name, CameraStats()).watched_since = now

    def forget_stamps(self) -> None:
        """Drop the sampler's stamp state (after the memory was reset or restored): the memory's own
        last stamps decide what comes next."""
        with self._lock:
            self._next_due.clear()
            self._last_stamp.clear()
            self._kept.clear()
            self._new_stream.clear()
            self._stamps.forget()

    def open(self) -> None:
        with self._lock:
            self._closed = False

    def close(self) -> None:
        """Wake every waiter: offers waiting for a slot return, `take` returns empty."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def held_back_total(self) -> int:
        """Changed frames load shedding kept from the encoder, all cameras."""
        with self._lock:
            return sum(s.held_back for s in self.stats.values())

    def overwritten_total(self) -> int:
        """Sampled frames replaced in their slot before the encoder took them, all cameras (frames lost)."""
        with self._lock:
            return sum(s.overwritten for s in self.stats.values())

    def stats_copy(self) -> dict[str, CameraStats]:
        with self._lock:
            return {c: s.copy() for c, s in self.stats.items()}
