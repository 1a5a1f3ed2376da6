"""The encoder worker: the one thread that turns sampled frames into memory.

Owns the encoder thread and the per-frame timing log (the failure record is the Worker's). It takes
the due frames from the ingest, encodes them in one batch per image size, and writes them into the
memory (the memory's only writer), with what the encoder observed in each (tracks, text: the
encoder's `observe`) into the camera's tables. No exception ends the thread: a failing batch is
counted against its frames, and repeated failures show in the engine's health.

Frame pairs (contract.PairingEncoder, flash_vstream_qwen): while a camera's memory keeps its last frame
alone and open to pairing (the stream's first frames, memory/flash.py), the worker keeps that frame's
pixels, encodes the next frame together with it, and the pair's token replaces the lone one. So every
frame is in memory as soon as it is encoded, and the memory holds the tokens training made of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vstream_ros.backends.contract import NOTHING_OBSERVED, FrameEncoder, Observation, PairingEncoder
from vstream_ros.engine.ingest import Ingest, PendingFrame
from vstream_ros.engine.poses import PoseBuffer
from vstream_ros.engine.shedding import ENGINE_LEVELS, LoadShedder, shed_levels
from vstream_ros.engine.worker import Worker
from vstream_ros.memory import MultiCameraMemory

LATE_WAIT_S = 5.0       # how long stop() waits for background observations (a text read: 0.4-1 s)


@dataclass(frozen=True)
class FrameTiming:
    """One encoded frame: for benchmarks and evaluation reports."""

    camera: str
    stamp: float
    encode_s: float        # the encoder's batch time divided by the frames in the batch
    update_s: float        # the memory update of this frame
    lag_s: float           # from offer() to the end of the update
    done_wall: float       # time.time() at the end of the update (to compare with header stamps)


class FrameLog:
    """The newest `capacity` frame timings in fixed arrays: its size never grows with the stream."""

    _FIELDS = ("stamp", "encode_s", "update_s", "lag_s", "done_wall")

    def __init__(self, capacity: int = 8192) -> None:
        self.capacity = capacity
        # filled now, so that every page is resident from the start and the log never grows the process
        self._cols = {f: np.full(capacity, 0.0) for f in self._FIELDS}
        self._camera = np.full(capacity, 0, np.int32)
        self._names: list[str] = []
        self._total = 0
        self._lock = threading.Lock()

    def append(self, t: FrameTiming) -> None:
        with self._lock:
            i = self._total % self.capacity
            if t.camera not in self._names:
                self._names.append(t.camera)
            self._camera[i] = self._names.index(t.camera)
            for f in self._FIELDS:
                self._cols[f][i] = getattr(t, f)
            self._total += 1

    def __len__(self) -> int:
        """Frames logged since the start (the oldest beyond `capacity` are gone)."""
        return self._total

    def since(self, start: int = 0) -> list[FrameTiming]:
        """Timings of frames logged at or after position `start` that are still kept, oldest first."""
        with self._lock:
            first = max(start, self._total - self.capacity)
            rows = [k % self.capacity for k in range(first, self._total)]
            return [FrameTiming(self._names[self._camera[i]], *(float(self._cols[f][i]) for f in self._FIELDS))
                    for i in rows]


class EncoderWorker(Worker):
    thread_name = "vstream-encoder"

    def __init__(self, ingest: Ingest, encoder: FrameEncoder, memory: MultiCameraMemory,
                 batch_size: Callable[[], int], poses: PoseBuffer | None = None,
                 new_stream: Callable[[str], None] | None = None,
                 shedding: Callable[[], bool] = lambda: True,
                 observed: Callable[[str, float, object, object], None] | None = None,
                 in_step: Callable[[], bool] = lambda: False,
                 changes: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.ingest, self.encoder, self.memory, self.poses = ingest, encoder, memory, poses
        self._batch_size = batch_size
        self._in_step = in_step        # one frame at a time, its background observations written before the next
        # called before the first frame of a new stream is written: archives and clears the camera
        self._new_stream = new_stream or memory.reset
        self.frame_log = FrameLog()
        self._encoder_levels = shed_levels(encoder)
        # the engine's levels hold change frames back: nothing to hold while change sampling is off (`changes`)
        self.shedder = LoadShedder(ENGINE_LEVELS + self._encoder_levels, holding=len(ENGINE_LEVELS),
                                   inert=lambda level: level <= len(ENGINE_LEVELS) and not changes())
        self._shedding = shedding
        self.observed = observed     # each frame the memory took (the sightings index's feed); must not block
        self._pairs = isinstance(encoder, PairingEncoder)
        self._lone: dict[str, tuple[float, np.ndarray]] = {}   # per camera: its frame open to pairing
        self._lag = 0.0                        # the longest offer-to-memory wait of the batch (the shedder's)
        self._late_lock = threading.Lock()     # taking late observations and writing them: one step to `observing`

    def _run(self) -> None:
        while not self._stop.is_set():
            self._lag = 0.0
            in_step = self._in_step()
            batch = self.ingest.take(1 if in_step else self._batch_size())
            self._write_late()
            if not batch:
                self._shed(0.0, 0)                # idle time counts too: it lets levels be given back
                continue
            t0 = time.perf_counter()
            try:
                self.encode_batch(batch)
            except Exception as e:   # the thread must outlive any one batch
                self._failed(batch, "worker_error", f"{type(e).__name__}: {e}")
            finally:
                if in_step:
                    self._settle()
                self.ingest.batch_done()
            self._shed(time.perf_counter() - t0, len(batch))

    def stop(self) -> None:
        """Stop the thread, then wait (a few seconds at most) for what the encoder observes in the background
        (a text read under way) and write it: nothing of ingest runs once this returns."""
        super().stop()
        self._settle()

    def _settle(self, deadline: float | None = None) -> None:
        """Wait for what the encoder observes in the background, until `deadline` (monotonic; default LATE_WAIT_S
        from now) at most, and write it."""
        deadline = time.monotonic() + LATE_WAIT_S if deadline is None else deadline
        while self.observing() and time.monotonic() < deadline:
            self._write_late()
            time.sleep(0.01)
        self._write_late()

    def read_now(self, cameras: list[str], deadline: float) -> None:
        """Have the encoder observe each camera's newest frame again (`read_newest`: a question about the text in
        view) and write what it finds into the memory before returning; until `deadline` (monotonic) at most.
        On the asking thread: one read at a time, so each camera waits for the reads before it."""
        for camera in cameras:
            while not self.encoder.read_newest(camera):
                if time.monotonic() >= deadline:
                    return
                self._write_late()
                time.sleep(0.01)
        self._settle(deadline)

    def _write_late(self) -> None:
        """Write what the encoder observed after its frames' batch (text read on its own thread)."""
        with self._late_lock:
            try:
                for camera, seen in self.encoder.observed_late():
                    self.memory.observe(camera, seen.tracks, seen.texts)
            except Exception as e:               # a reader's error costs that read, not the thread
                self.failed(f"observe_failed: {type(e).__name__}: {e} (a late observation lost)")

    def observing(self) -> bool:
        """Whether the encoder still has observations under way that the memory has not taken."""
        with self._late_lock:
            return self.encoder.observing()

    def _shed(self, busy_s: float, frames: int) -> None:
        """Let the load-shedding policy (shedding.py) see this batch; apply a change of level."""
        level = self.shedder.observe(busy_s, frames, self.ingest.overwritten_total(), self._shedding(),
                                     self.ingest.held_back_total(), self._lag)
        if level is not None:
            self.set_load_level(level)

    def set_load_level(self, level: int) -> None:
        """The engine's steps (ENGINE_LEVELS: the sampler's change frames), then the encoder's own."""
        self.ingest.follow_changes = level < 1
        if self._encoder_levels:
            self.encoder.set_load_level(max(0, level - len(ENGINE_LEVELS)))

    def encode_batch(self, batch: list[PendingFrame]) -> None:
        """Encode frames of several cameras (grouped by image size) and write them into the memory."""
        by_shape: dict[tuple, list[PendingFrame]] = {}
        for p in batch:
            by_shape.setdefault(p.frame.shape, []).append(p)
        for group in by_shape.values():
            t0 = time.perf_counter()
            try:
                frames = np.stack([p.frame for p in group])
                partners = [self._partner(p) for p in group]
                feats = self._encode(frames, partners)
                ann = self.encoder.annotate(frames, feats) if self.memory.annotation_dim else None
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                self._failed(group, "out_of_memory", "the GPU ran out of memory while encoding")
                continue
            except Exception as e:   # a model error must not kill ingest; count and go on
                self._failed(group, "encode_failed", f"{type(e).__name__}: {e}")
                continue
            seen = self._observe(group, frames)
            encode_s = (time.perf_counter() - t0) / len(group)
            for k, (p, f) in enumerate(zip(group, feats, strict=True)):
                self._write(p, f, encode_s, None if ann is None else ann[k: k + 1], seen[k], partners[k] is not None)

    def _partner(self, p: PendingFrame) -> np.ndarray | None:
        """The frame this one pairs with: the camera's last frame, while its memory keeps it open to pairing."""
        lone = self._lone.get(p.camera)
        if lone is None or p.reset_first or lone[1].shape != p.frame.shape:
            return None
        ok = self.memory.pair_open(p.camera) and self.memory.last_stamp(p.camera) == lone[0]
        return lone[1] if ok else None

    def _encode(self, frames: np.ndarray, partners: list[np.ndarray | None]) -> torch.Tensor:
        """Features of the batch's frames: each with its partner in one token, or alone."""
        paired = [k for k, q in enumerate(partners) if q is not None]
        if not paired:
            return self.encoder.encode(frames)
        alone = [k for k, q in enumerate(partners) if q is None]
        parts = [self.encoder.encode_pairs(np.stack([partners[k] for k in paired]), frames[paired])]
        if alone:
            parts.append(self.encoder.encode(frames[alone]))
        feats = torch.cat(parts)
        return feats[torch.argsort(torch.tensor(paired + alone)).to(feats.device)]

    def _observe(self, group: list[PendingFrame], frames: np.ndarray) -> list[Observation]:
        """The encoder's tracks and text for these frames; a failure there costs them, not the frames."""
        try:
            seen = self.encoder.observe([p.camera for p in group], [p.stamp for p in group], frames)
            if len(seen) != len(group):
                raise ValueError(f"observe gave {len(seen)} observations for {len(group)} frames")
            return seen
        except Exception as e:   # a tracker's error must not drop the frames: they are encoded all the same
            self.failed(f"observe_failed: {type(e).__name__}: {e} (tracks and text of {len(group)} frame(s) lost)")
            return [NOTHING_OBSERVED] * len(group)

    def _write(self, p: PendingFrame, features: torch.Tensor, encode_s: float, annotation: torch.Tensor | None,
               seen: Observation = NOTHING_OBSERVED, paired: bool = False) -> None:
        t1 = time.perf_counter()
        try:
            if p.reset_first:
                self._new_stream(p.camera)
            pose = self.poses.at(p.stamp) if self.poses is not None else None
            pose_t = None if pose is None else torch.from_numpy(pose)[None]
            if paired:
                self.memory.pair_last(p.camera, features, p.stamp, annotation, pose_t)
            else:
                self.memory.update(p.camera, features, p.stamp, annotation, pose_t)
            if self._pairs and self.memory.pair_open(p.camera):
                self._lone[p.camera] = (p.stamp, p.frame)
            else:
                self._lone.pop(p.camera, None)
            if self.observed is not None:
                self.observed(p.camera, p.stamp, annotation, pose)
        except Exception as e:   # a stamp out of order, a GPU out of memory, a broken state: count it
            if isinstance(e, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
            self._failed([p], "memory_update", f"{type(e).__name__}: {e}")
            return
        try:
            self.memory.observe(p.camera, seen.tracks, seen.texts)
        except (KeyError, ValueError) as e:      # a broken record: the frame is in memory all the same
            self.failed(f"observe_failed: {type(e).__name__}: {e}")
        lag = time.monotonic() - p.offered
        self._lag = max(self._lag, lag)
        self.frame_log.append(FrameTiming(p.camera, p.stamp, encode_s, time.perf_counter() - t1, lag, time.time()))
        self.ingest.encoded(p, encode_s, lag)
        self.succeeded()

    def _failed(self, frames: list[PendingFrame], reason: str, detail: str) -> None:
        """Frames the encoder or the memory could not take: refused under `reason`, and a worker failure."""
        for p in frames:
            self.ingest.failed(p, reason)
        self.failed(f"{reason}: {detail} ({len(frames)} frame(s) dropped)")
