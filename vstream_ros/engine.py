"""StreamEngine: frames in, questions answered, memory kept. Plain Python + torch, no ROS.

Threads and what they own:
- callers (ROS subscription callbacks, replay and eval tools) call `offer()`: it samples by stamp and
  overwrites a per-camera latest slot. It never runs a model and never waits for one.
- the encoder worker takes the due slots, encodes them in one batch across cameras and updates the
  memory (the only writer).
- the answer worker takes questions from a bounded queue, reads the memory (a consistent copy, taken
  under a lock held only for the read) and generates outside any lock, so ingest never waits for it.
- the autosave timer writes a snapshot when the memory changed.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from vstream_ros.memory import MemoryConfig, MemoryRead, MultiCameraMemory, SnapshotError, TokenGroup, quarantine
from vstream_ros.memory.snapshot import write_snapshot
from vstream_ros.models.base import Backend

log = logging.getLogger(__name__)


@dataclass
class EngineConfig:
    sample_rate_hz: float = 1.0            # frames kept per camera per second of header.stamp
    on_stamp_jump_back: str = "reset"      # "reset" the camera's memory (a looping bag) or "refuse"
    encoder_batch_size: int = 8
    max_question_chars: int = 2000
    default_max_new_tokens: int = 128
    max_new_tokens_limit: int = 512
    answer_queue_size: int = 4
    answer_timeout_s: float = 120.0
    snapshot_path: str = ""                # empty: no persistence
    autosave_period_s: float = 60.0        # 0: only on save() / close()

    def __post_init__(self) -> None:
        if self.on_stamp_jump_back not in ("reset", "refuse"):
            raise ValueError(f"on_stamp_jump_back must be 'reset' or 'refuse', got {self.on_stamp_jump_back!r}")
        if not self.sample_rate_hz > 0:
            raise ValueError("sample_rate_hz must be positive")


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
    resets: int = 0
    last_encode_latency_s: float = 0.0
    ingest_lag_s: float = 0.0              # from offer() to the memory update, newest encoded frame


@dataclass(frozen=True)
class FrameTiming:
    """One encoded frame: for benchmarks and evaluation reports (the engine keeps the newest ones)."""

    camera: str
    stamp: float
    encode_s: float        # the encoder's batch time divided by the frames in the batch
    update_s: float        # the memory update of this frame
    lag_s: float           # from offer() to the end of the update
    done_wall: float       # time.time() at the end of the update (to compare with header stamps)


@dataclass
class QueryResult:
    success: bool
    error: str = ""
    answer: str = ""
    evidence: list[TokenGroup] = field(default_factory=list)
    latency_s: float = 0.0
    frames_in_memory: int = 0
    tokens: int = 0
    limitations: str = ""
    stats: dict = field(default_factory=dict)


class QuestionJob:
    """A question in flight. `on_piece(text_so_far, tokens)` is called from the answer worker."""

    def __init__(self, question: str, window, cameras, max_new_tokens: int,
                 on_piece: Callable[[str, int], None] | None) -> None:
        self.question, self.window, self.cameras = question, window, cameras
        self.max_new_tokens, self.on_piece = max_new_tokens, on_piece
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.submitted = time.monotonic()
        self.result: QueryResult | None = None

    def wait(self, timeout: float | None = None) -> QueryResult:
        if not self.done.wait(timeout):
            self.cancel.set()
            self.done.wait(5.0)
        return self.result or QueryResult(False, "timed out waiting for the answer")

    def finish(self, result: QueryResult) -> None:
        result.latency_s = time.monotonic() - self.submitted
        self.result = result
        self.done.set()


class _Slot:
    __slots__ = ("frame", "stamp", "offered", "reset_first")

    def __init__(self, frame: np.ndarray, stamp: float, offered: float, reset_first: bool) -> None:
        self.frame, self.stamp, self.offered, self.reset_first = frame, stamp, offered, reset_first


class StreamEngine:
    def __init__(self, backend: Backend, config: EngineConfig | None = None,
                 memory_config: MemoryConfig | None = None) -> None:
        self.backend = backend
        self.config = config or EngineConfig()
        enc = backend.encoder
        self.memory = MultiCameraMemory(memory_config or backend.memory_config, enc.dim, enc.feature_grid,
                                        device=enc.device, dtype=enc.dtype, encoder_id=enc.id)
        self.memory.set_abstract_projections(*backend.answerer.abstract_projections())
        self.stats: dict[str, CameraStats] = {}
        self._slots: dict[str, _Slot] = {}
        self._next_due: dict[str, float] = {}
        self._last_stamp: dict[str, float] = {}
        self._ingest_lock = threading.Lock()          # slots, sampler state and counters
        self._frames_ready = threading.Condition(self._ingest_lock)
        self._memory_lock = threading.Lock()          # the memory: one update or one read at a time
        self._questions: queue.Queue[QuestionJob] = queue.Queue(maxsize=self.config.answer_queue_size)
        self._stop = threading.Event()
        self._dirty = False
        self.last_answer_latency_s = 0.0
        self.snapshot_status = "no snapshot path"
        self._threads: list[threading.Thread] = []
        self._encoding = False                        # the encoder worker holds a batch
        self.frame_log: deque[FrameTiming] = deque(maxlen=100_000)   # bounded: about 10 MB at most
        self._last_save = time.monotonic()

    # ---------------------------------------------------------------- life
    def warm_up(self) -> float:
        """Run the encoder and a one-token answer once, so the first real frame and question do not pay
        for lazy initialisation (kernel selection, allocator growth) while cameras stream. Seconds taken."""
        t0 = time.perf_counter()
        enc = self.backend.encoder
        feats = enc.encode(np.zeros((2, 64, 64, 3), np.uint8))
        scratch = MultiCameraMemory(self.memory.config, enc.dim, enc.feature_grid, enc.device, enc.dtype, enc.id)
        scratch.update("warm-up", feats, [1.0, 2.0])
        self.backend.answerer.answer(scratch.read(), "What is this?", 1).text()
        return time.perf_counter() - t0

    def start(self) -> None:
        self._stop.clear()
        self._threads = [threading.Thread(target=t, name=n, daemon=True) for t, n in (
            (self._encode_loop, "vstream-encoder"), (self._answer_loop, "vstream-answer"),
            (self._autosave_loop, "vstream-autosave"))]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        with self._frames_ready:
            self._frames_ready.notify_all()
        for t in self._threads:
            t.join(timeout=10.0)
        self._threads = []
        while True:   # questions still queued are answered with an error, not left hanging
            try:
                self._questions.get_nowait().finish(QueryResult(False, "the engine stopped"))
            except queue.Empty:
                break

    def close(self) -> None:
        """Stop, save the memory if there is a snapshot path, release the models."""
        self.stop()
        self.save()
        self.backend.close()

    # -------------------------------------------------------------- ingest
    def offer(self, camera: str, stamp: float, frame: np.ndarray | Callable[[], np.ndarray],
              wait: bool = False) -> str:
        """Offer one frame (uint8 [H, W, 3] RGB, or a callable that decodes it) with its stamp in seconds.

        Returns what happened: "sampled", "dropped" (not due yet by stamp) or "rejected: <reason>".
        A callable is only called for frames that are due, so compressed frames that are skipped by
        sampling are never decoded; it raises FrameRejected for a frame it cannot decode. Cheap and
        non-blocking: safe in a subscription callback. Frames of one camera must come in from one
        thread at a time (they are ordered by stamp); different cameras may be offered concurrently.
        `wait=True` (offline tools: replay into the engine, evaluation) blocks until the camera's slot
        is free instead of overwriting it, so no sampled frame is lost.
        """
        # `received` is counted together with the outcome, so that received = sampled + dropped +
        # rejected holds whenever the counters are read, also while a frame is being decoded.
        now = time.monotonic()
        with self._ingest_lock:
            st = self.stats.setdefault(camera, CameraStats())
            if not math.isfinite(stamp) or stamp <= 0.0:
                st.received += 1
                return self._reject(st, "bad_stamp")
            reset_first = False
            last = self._last_stamp.get(camera)
            if last is not None and stamp < last:
                if self.config.on_stamp_jump_back == "refuse":
                    st.received += 1
                    return self._reject(st, "stamp_jumped_back")
                reset_first = True                     # a new stream: start this camera's memory again
                st.resets += 1
                self._next_due.pop(camera, None)
            due = self._next_due.get(camera)
            if due is not None and stamp < due:
                self._last_stamp[camera] = stamp
                st.received += 1
                st.dropped += 1
                return "dropped"
        # decode outside the lock: it may take milliseconds
        try:
            image = check_rgb(frame() if callable(frame) else frame)
        except FrameRejected as e:
            with self._ingest_lock:
                st.received += 1
                return self._reject(st, e.reason, detail=str(e))
        with self._frames_ready:
            while wait and camera in self._slots and not self._stop.is_set():
                self._frames_ready.wait(0.1)
            period = 1.0 / self.config.sample_rate_hz
            due = self._next_due.get(camera)
            self._next_due[camera] = stamp + period if due is None or stamp - due >= period else due + period
            self._last_stamp[camera] = stamp
            old = self._slots.get(camera)
            if old is not None:                         # not encoded yet: the newer frame wins
                st.sampled -= 1
                st.dropped += 1
                st.overwritten += 1
                reset_first = reset_first or old.reset_first
            self._slots[camera] = _Slot(image, stamp, now, reset_first)
            st.received += 1
            st.sampled += 1
            self._frames_ready.notify()
        return "sampled"

    def reject(self, camera: str, error: FrameRejected) -> str:
        """Count a frame the caller refused before offering it (a malformed message, say)."""
        with self._ingest_lock:
            st = self.stats.setdefault(camera, CameraStats())
            st.received += 1
            return self._reject(st, error.reason, detail=str(error))

    def _reject(self, st: CameraStats, reason: str, detail: str = "") -> str:
        st.rejected += 1
        st.rejected_by_reason[reason] += 1
        if detail:
            log.debug("rejected frame: %s", detail)
        return f"rejected: {reason}"

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every offered frame has been encoded (for tools and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._ingest_lock:
                pending = bool(self._slots) or self._encoding
            if not pending:
                return True
            time.sleep(0.005)
        return False

    def _encode_loop(self) -> None:
        while not self._stop.is_set():
            with self._frames_ready:
                while not self._slots and not self._stop.is_set():
                    self._frames_ready.wait(0.5)
                if self._stop.is_set():
                    return
                cams = sorted(self._slots, key=lambda c: self._slots[c].offered)[: self.config.encoder_batch_size]
                batch = [(c, self._slots.pop(c)) for c in cams]
                self._encoding = True
                self._frames_ready.notify_all()     # offers waiting for a free slot
            try:
                self.encode_batch(batch)
            finally:
                with self._ingest_lock:
                    self._encoding = False

    def encode_batch(self, batch: list[tuple[str, _Slot]]) -> None:
        """Encode frames of several cameras (grouped by image size) and write them into the memory."""
        by_shape: dict[tuple, list[tuple[str, _Slot]]] = {}
        for cam, slot in batch:
            by_shape.setdefault(slot.frame.shape, []).append((cam, slot))
        for group in by_shape.values():
            t0 = time.perf_counter()
            try:
                feats = self.backend.encoder.encode(np.stack([s.frame for _, s in group]))
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                self._fail(group, "out_of_memory", "the GPU ran out of memory while encoding")
                continue
            except Exception as e:   # a model error must not kill ingest; count and go on
                log.exception("encoder failed")
                self._fail(group, "encode_failed", str(e))
                continue
            encode_s = time.perf_counter() - t0
            for (cam, slot), f in zip(group, feats, strict=True):
                t1 = time.perf_counter()
                try:
                    with self._memory_lock:
                        if slot.reset_first:
                            self.memory.reset(cam)
                        self.memory.update(cam, f, slot.stamp)
                        self._dirty = True
                except (ValueError, torch.OutOfMemoryError) as e:
                    self._fail([(cam, slot)], "memory_update", str(e))
                    continue
                lag = time.monotonic() - slot.offered
                self.frame_log.append(FrameTiming(cam, slot.stamp, encode_s / len(group), time.perf_counter() - t1,
                                                  lag, time.time()))
                with self._ingest_lock:
                    st = self.stats[cam]
                    st.encoded += 1
                    st.last_encode_latency_s = encode_s / len(group)
                    st.ingest_lag_s = lag

    def _fail(self, group, reason: str, detail: str) -> None:
        log.warning("dropping %d frame(s): %s", len(group), detail)
        with self._ingest_lock:
            for cam, _ in group:
                st = self.stats[cam]
                st.sampled -= 1
                self._reject(st, reason)

    # ----------------------------------------------------------- questions
    def ask(self, question: str, window: tuple[float, float] | None = None, cameras: list[str] | None = None,
            max_new_tokens: int = 0, on_piece: Callable[[str, int], None] | None = None) -> QuestionJob:
        """Queue a question; returns at once. A job refused here is already finished with an error."""
        job = QuestionJob(question, window, list(cameras or []), max_new_tokens, on_piece)
        error = self._validate(job)
        if error:
            job.finish(QueryResult(False, error, frames_in_memory=self.memory.frames_seen))
            return job
        try:
            self._questions.put_nowait(job)
        except queue.Full:
            job.finish(QueryResult(False, f"too many questions waiting ({self.config.answer_queue_size}); "
                                          "try again shortly"))
        return job

    def _validate(self, job: QuestionJob) -> str:
        c = self.config
        q = job.question.strip() if isinstance(job.question, str) else ""
        if not q:
            return "the question is empty"
        if len(job.question) > c.max_question_chars:
            return f"the question has {len(job.question)} characters; the limit is {c.max_question_chars}"
        job.question = q
        n = job.max_new_tokens or c.default_max_new_tokens
        job.max_new_tokens = max(1, min(int(n), c.max_new_tokens_limit))
        if self._stop.is_set() or not self._threads:
            return "the engine is not running"
        with self._memory_lock:   # the encoder worker may be adding a camera
            known = self.memory.cameras
            frames = self.memory.frames_seen
            spans = {c: m.stamp_range() for c, m in self.memory.memories.items()}
        unknown = [x for x in job.cameras if x not in known]
        if unknown:
            return f"no frames from camera(s) {unknown}; cameras with frames: {known}"
        if not known or frames == 0:
            return "the memory is empty: no frame has been encoded yet"
        if job.window is not None:
            t0, t1 = job.window
            if t0 > t1:
                return f"the time window starts ({t0:.3f}) after it ends ({t1:.3f})"
            if not any(s and s[1] >= t0 and s[0] <= t1 for c, s in spans.items() if c in (job.cameras or known)):
                return f"nothing in memory between {t0:.3f} and {t1:.3f}"
        return ""

    def read(self, cameras: list[str] | None = None, window=None) -> MemoryRead:
        with self._memory_lock:
            return self.memory.read(cameras or None, window)

    def _answer_loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._questions.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                job.finish(self._answer(job))
            except Exception as e:   # keep answering the next questions
                log.exception("answer failed")
                if isinstance(e, torch.OutOfMemoryError):
                    torch.cuda.empty_cache()
                job.finish(QueryResult(False, f"answer failed: {type(e).__name__}: {e}"))
            self.last_answer_latency_s = job.result.latency_s

    def _answer(self, job: QuestionJob) -> QueryResult:
        deadline = job.submitted + self.config.answer_timeout_s
        if job.cancel.is_set():
            return QueryResult(False, "cancelled before it started")
        if time.monotonic() > deadline:
            return QueryResult(False, f"timed out after {self.config.answer_timeout_s:.0f} s in the queue")
        read = self.read(job.cameras, job.window)
        if read.num_tokens == 0:
            return QueryResult(False, "nothing in memory for that time window and camera selection",
                               frames_in_memory=self.memory.frames_seen)
        ans = self.backend.answerer.answer(read, job.question, job.max_new_tokens, job.cancel)
        text, tokens = "", 0
        for piece in ans.pieces:
            text += piece
            tokens = ans.stats.get("tokens", tokens + 1)
            if job.on_piece:
                job.on_piece(text, tokens)
            if time.monotonic() > deadline:
                job.cancel.set()
        if job.cancel.is_set() and time.monotonic() > deadline:
            return QueryResult(False, f"timed out after {self.config.answer_timeout_s:.0f} s", text, ans.evidence,
                               frames_in_memory=read.frames_seen, tokens=tokens)
        return QueryResult(True, "", text.strip(), ans.evidence, frames_in_memory=read.frames_seen,
                           tokens=ans.stats.get("tokens", tokens), limitations=ans.limitations, stats=ans.stats)

    @property
    def queue_length(self) -> int:
        return self._questions.qsize()

    # ---------------------------------------------------------- persistence
    def restore(self) -> str:
        """Load the snapshot at snapshot_path if there is one. An unusable one is moved aside and the
        memory starts empty; the returned text says what happened (also in `snapshot_status`)."""
        path = self.config.snapshot_path
        if not path:
            return self.snapshot_status
        p = Path(path).expanduser()
        if not p.exists():
            self.snapshot_status = f"no snapshot at {p}; starting empty"
        else:
            try:
                with self._memory_lock:
                    self.memory.load(p)
                self.snapshot_status = (f"restored {self.memory.frames_seen} frames of "
                                        f"{len(self.memory.cameras)} camera(s) from {p}")
                for cam, m in self.memory.memories.items():   # stamps continue after the restored ones
                    self._last_stamp[cam] = m.last_stamp or 0.0
            except SnapshotError as e:
                aside = quarantine(p)
                self.snapshot_status = f"ERROR: {e}; moved it to {aside} and started with an empty memory"
                log.error(self.snapshot_status)
        return self.snapshot_status

    def save(self) -> str | None:
        """Write the snapshot now (atomically). Returns the path, or None without a snapshot path."""
        if not self.config.snapshot_path:
            return None
        with self._memory_lock:
            tensors, meta = self.memory.state_dict()
            self._dirty = False
        return str(write_snapshot(self.config.snapshot_path, tensors, meta))

    def reset(self) -> None:
        with self._memory_lock:
            self.memory.memories.clear()
            self._dirty = True
        with self._ingest_lock:
            self._next_due.clear()
            self._last_stamp.clear()

    def _autosave_loop(self) -> None:
        while not self._stop.wait(min(1.0, self.config.autosave_period_s or 1.0)):
            period = self.config.autosave_period_s
            if period > 0 and self._dirty and time.monotonic() - self._last_save >= period:
                try:
                    self.save()
                except OSError as e:
                    log.error("autosave failed: %s", e)
                self._last_save = time.monotonic()

    # ---------------------------------------------------------------- state
    def update_config(self, **changes) -> None:
        """Change run-time settings (sample rate, token limits, question limits) without a restart."""
        allowed = {f.name for f in fields(EngineConfig)} - {"answer_queue_size", "snapshot_path"}
        bad = set(changes) - allowed
        if bad:
            raise ValueError(f"cannot change {sorted(bad)} at run time")
        self.config = replace(self.config, **changes)

    def camera_state(self) -> dict[str, dict]:
        """Per camera: counters, memory tokens and bytes, stamp range (for ~/memory_state)."""
        with self._ingest_lock:
            stats = {c: replace(s, rejected_by_reason=Counter(s.rejected_by_reason)) for c, s in self.stats.items()}
        out = {}
        with self._memory_lock:
            for cam in self.memory.cameras:      # restored from a snapshot, no frame received yet
                stats.setdefault(cam, CameraStats())
            for cam, st in sorted(stats.items()):
                m = self.memory.memories.get(cam)
                out[cam] = {"stats": st, "tokens": m.tokens_by_kind() if m else {},
                            "bytes": m.nbytes() if m else {"device": 0, "host": 0},
                            "stamp_range": m.stamp_range() if m else None}
        return out


class FrameRejected(ValueError):
    """A frame that cannot be used; `reason` is the short name it is counted under."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def check_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}"
        raise FrameRejected("bad_image", f"expected uint8 [H, W, 3] RGB, got {desc}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise FrameRejected("zero_size", f"image of {image.shape[1]}x{image.shape[0]} pixels")
    return image
