"""StreamEngine: frames in, questions answered, memory kept. Plain Python + torch, no ROS.

A short composer of parts that each own one job:
- `Ingest` (ingest.py): stamp sampling, the latest-frame slot per camera, the counters;
- `EncoderWorker` (encoding.py): the thread that encodes due frames into the memory;
- `MultiCameraMemory` (memory/): what was seen, per camera, with its stamps (thread-safe);
- `AnswerService` (answers.py): the question queue and the answer worker;
- `Persistence` (persistence.py): restore, save, autosave, archives of cleared memory;
- `HealthMonitor` (health.py): levels and thresholds for diagnostics.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np

from vstream_ros.answering import phrases
from vstream_ros.answering.question import parse
from vstream_ros.backends.contract import Backend, contract_gaps
from vstream_ros.backends.shared.tensors import device_memory_used
from vstream_ros.config import runtime_names
from vstream_ros.engine.answers import AnswerService
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.encoding import EncoderWorker, FrameLog
from vstream_ros.engine.health import CameraInput, Health, HealthMonitor, WorkerState
from vstream_ros.engine.ingest import CameraStats, Ingest, Offered
from vstream_ros.engine.jobs import QueryResult, QuestionJob
from vstream_ros.engine.persistence import Persistence
from vstream_ros.engine.poses import PoseBuffer
from vstream_ros.engine.shedding import ShedState
from vstream_ros.engine.sightings import SightingsFeed, locate_with_index, open_index
from vstream_ros.frames import FrameRejected
from vstream_ros.memory import MemoryConfig, MemoryRead, MultiCameraMemory
from vstream_ros.memory.multi import CameraSummary

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CameraReport:
    """A camera's counters and what its memory holds (None: no frame encoded yet)."""

    stats: CameraStats
    memory: CameraSummary | None


class StreamEngine:
    def __init__(self, backend: Backend, config: EngineConfig | None = None,
                 memory_config: MemoryConfig | None = None) -> None:
        self.backend = backend
        self.config = config or EngineConfig()
        enc = backend.encoder
        if missing := contract_gaps(enc):
            raise TypeError(f"backend {backend.name!r}: its encoder lacks {', '.join(missing)} of the FrameEncoder "
                            "contract (backends/contract.py; inherit Unannotated / Unobserved for what it does not do)")
        self.memory = MultiCameraMemory(memory_config or backend.memory_config, enc.dim, enc.feature_grid,
                                        device=enc.device, dtype=enc.dtype, encoder_id=enc.id,
                                        annotation_names=tuple(enc.annotation_names))
        self.poses = PoseBuffer(max_gap_s=self.config.pose_max_gap_s)
        self.memory.set_abstract_projections(*backend.answerer.abstract_projections())
        cfg = lambda: self.config   # noqa: E731  (parts see run-time changes of the config)
        self.clock: Callable[[], float | None] = time.time   # what stamps are judged against (stamps.py)
        self.monotonic: Callable[[], float] = time.monotonic  # what the reset interval is measured with
        self.ingest = Ingest(cfg, self.memory.last_stamp, lambda: self.clock(), lambda: self.monotonic())
        self.encoder = EncoderWorker(self.ingest, enc, self.memory, lambda: self.config.encoder_batch_size,
                                     self.poses, new_stream=lambda camera: self.forget([camera], "new stream"),
                                     shedding=lambda: self.config.load_shedding, observed=self._observed,
                                     in_step=lambda: self.config.observe_in_step,
                                     changes=lambda: self.config.sample_on_change > 0)
        self.sightings: SightingsFeed | None = None       # the long-term index's feed (opened by start)
        self._warmed = False
        self.answers = AnswerService(cfg, self.memory, backend.answerer, self.ingest)
        self.answers.sightings = lambda: self.sightings    # where/when answers reach the index (recall.py)
        self.answers.read_text = self.encoder.read_now      # "what does the sign say": the newest frames read
        self.persistence = Persistence(cfg, self.memory, getattr(enc, "annotation_history", ()))
        self._health = HealthMonitor()

    # ---------------------------------------------------------------- life
    def warm_up(self) -> float:
        """Run the encoder and a one-token answer once, so the first real frame and question do not pay
        for lazy initialisation (kernel selection, allocator growth) while cameras stream. Seconds taken."""
        t0 = time.perf_counter()
        self._warmed = True                         # start() warms the sightings index too
        phrases.warm_up()                           # the question grammar's lexicon (see its docstring)
        enc = self.backend.encoder
        frames = np.zeros((2, 64, 64, 3), np.uint8)
        feats = enc.encode(frames)
        scratch = MultiCameraMemory(self.memory.config, enc.dim, enc.feature_grid, enc.device, enc.dtype, enc.id,
                                    self.memory.annotation_dim)
        ann = enc.annotate(frames, feats)
        scratch.update("warm-up", feats, [1.0, 2.0], ann)
        self.backend.answer(scratch.read(), parse("What did you see?"), 1).text()
        self.backend.locate(scratch.read(), "something seen", 1.0)  # a phrase no table knows: the matcher's set-up
        return time.perf_counter() - t0

    def _observed(self, camera: str, stamp: float, annotation, pose) -> None:
        if self.sightings is not None:
            self.sightings.frame(camera, stamp, annotation, pose)

    def _interval(self, camera: str) -> float:
        return self.memory.frame_interval([camera]) or 1.0 / self.config.sample_rate_hz

    def start(self) -> None:
        if self.sightings is None:
            self.sightings = open_index(self.config, getattr(self.backend.answerer, "name_run", None), self._interval)
            if self.sightings is not None and self.sightings.namer is not None and self._warmed:
                self.sightings.index.warm()       # its embedder and engine load now, not at the first sighting
        self.ingest.open()
        self.encoder.start()
        self.answers.start()
        self.persistence.start()

    def stop(self) -> None:
        self.ingest.close()
        self.encoder.stop()
        self.answers.stop()
        self.persistence.stop()
        feed, self.sightings = self.sightings, None
        if feed is not None:
            feed.close_all()              # the open runs are sightings too
            feed.index.close()            # written (or backlogged) before it returns

    def close(self) -> None:
        """Stop, save the memory if there is a snapshot path, release the models."""
        self.stop()
        self.save()
        self.backend.close()

    # -------------------------------------------------------------- ingest
    def offer(self, camera: str, stamp: float, frame: np.ndarray | Callable[[], np.ndarray],
              wait: bool = False) -> Offered:
        """Offer one frame (or a decoder of it) with its stamp in seconds; see `Ingest.offer`."""
        return self.ingest.offer(camera, stamp, frame, wait)

    def reject(self, camera: str, error: FrameRejected) -> Offered:
        """Count a frame the caller refused before offering it (a malformed message, say)."""
        return self.ingest.reject(camera, error)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every offered frame has been encoded, and what the encoder observed of them in the
        background (text) is in the memory (for tools and tests)."""
        deadline = time.monotonic() + timeout
        while self.ingest.pending() or self.encoder.observing():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    @property
    def stats(self) -> dict[str, CameraStats]:
        return self.ingest.stats

    @property
    def frame_log(self) -> FrameLog:
        return self.encoder.frame_log

    # ----------------------------------------------------------- questions
    def ask(self, question: str, window: tuple[float, float] | None = None, cameras: list[str] | None = None,
            max_new_tokens: int = 0, on_piece: Callable[[str, int], None] | None = None,
            relative: bool = False) -> QuestionJob:
        """Queue a question; returns at once (see `AnswerService.ask`). `relative`: the window counts
        seconds since the memory's first frame (`time_origin`), else absolute stamps."""
        return self.answers.ask(question, window, cameras, max_new_tokens, on_piece, relative)

    def time_origin(self, cameras: list[str] | None = None) -> float:
        """The stamp answers' times count from (the first frame in memory of these cameras); 0: empty."""
        return self.answers.origin(cameras or [])

    def locate(self, phrase: str, window: tuple[float, float] | None = None, cameras: list[str] | None = None,
               max_results: int = 0, robot: str = "", relative: bool = False) -> QueryResult:
        """Where and when a thing was seen: its sightings in time order (evidence with label, score and
        pose), answered at once in the caller's thread: no queue, no language model. At most `max_results`
        of them (0: the setting `locate_max_results`), the newest. `robot`: "" this robot, "*" the fleet, or
        a name; the sightings index answers what the memory no longer holds (engine/sightings.py), and the
        result's `source` says who answered. `relative` as for `ask`."""
        if relative:
            window = self.answers.absolute(window, cameras or [])
        mine = self.locate_memory(phrase, window, cameras, max_results) if robot in ("", self.robot) else None
        return locate_with_index(self, mine, phrase, window, cameras, max_results, robot)

    @property
    def robot(self) -> str:
        """This robot's name in the sightings index ("" when the index is off)."""
        return self.sightings.index.robot if self.sightings is not None else ""

    def locate_memory(self, phrase: str, window: tuple[float, float] | None = None, cameras: list[str] | None = None,
                      max_results: int = 0) -> QueryResult:
        """`locate` from the STAR memory alone (absolute stamps)."""
        error = self.answers.check_scope(cameras or [], window)
        if not error and not phrase.strip():
            error = "the object to locate is empty"
        if not error and len(phrase) > self.config.max_question_chars:
            error = f"the object has {len(phrase)} characters; the limit is {self.config.max_question_chars}"
        if error:
            return QueryResult(False, error, frames_in_memory=self.memory.frames_seen)
        t0 = time.perf_counter()
        read = self.memory.read(cameras or None, window, tokens=False)     # runs and poses, no features
        interval = self.memory.frame_interval(cameras) or 1.0 / self.config.sample_rate_hz
        found = self.backend.locate(read, phrase.strip(), interval, window)
        if found.error:
            return QueryResult(False, found.error, frames_in_memory=read.frames_seen)
        keep = max_results if max_results > 0 else self.config.locate_max_results
        sightings = found.evidence[-keep:]
        return QueryResult(True, "", evidence=sightings, frames_in_memory=read.frames_seen,
                           latency_s=time.perf_counter() - t0, source="memory")

    def read(self, cameras: list[str] | None = None, window=None) -> MemoryRead:
        return self.memory.read(cameras or None, window)

    @property
    def queue_length(self) -> int:
        return self.answers.queue_length

    @property
    def last_answer_latency_s(self) -> float:
        return self.answers.last_answer_latency_s

    # ---------------------------------------------------------- persistence
    def restore(self) -> str:
        status = self.persistence.restore()
        self.ingest.forget_stamps()
        return status

    def save(self) -> str | None:
        return self.persistence.save()

    def reset(self) -> str:
        """Forget every camera's memory (archived first); returns what was done, for the caller to say."""
        text = self.forget(None, "reset")
        self.ingest.forget_stamps()
        if self.sightings is not None:       # the open runs were seen: they go to the index, which stays
            self.sightings.close_all()
            kept = (f"the sightings index at {self.sightings.index.uri} is kept (the long-term record: a reset "
                    "does not clear it)")
            log.warning("memory reset: %s", kept)
            text += f"; {kept}"
        return text

    def forget(self, cameras: list[str] | None, why: str) -> str:
        """Clear the memory of `cameras` (None: all), archiving it first, and log a warning that says what
        was discarded and where it went. Never raises for the archive: a memory that cannot be archived
        (a full disk) is still cleared, and the warning says it is lost."""
        names = self.memory.cameras if cameras is None else [c for c in cameras if c in self.memory.cameras]
        held = {c: (self.memory.camera_frames(c), self.memory.stamp_range(c)) for c in names}
        frames = sum(n for n, _ in held.values())
        kept = "nothing to archive"
        if frames:
            try:
                where = self.persistence.archive(cameras, why)
                kept = f"archived to {where}" if where else (
                    "not archived (snapshot_archives is 0)" if self.config.snapshot_path else
                    "not archived (no snapshot_path)")
            except Exception as e:   # a full disk: the memory is cleared all the same, and the log says so
                kept = f"LOST: the archive could not be written ({type(e).__name__}: {e})"
        for c in [None] if cameras is None else cameras:
            self.memory.reset(c)
        if not frames:
            return "the memory was empty"
        spans = ", ".join(f"{c}: {n} frames{f' {r[0]:.3f}..{r[1]:.3f}' if r else ''}" for c, (n, r) in held.items())
        text = f"{why}: cleared {frames} frames ({spans}); {kept}"
        log.warning("memory %s", text)
        return text

    @property
    def snapshot_status(self) -> str:
        return self.persistence.status

    # ---------------------------------------------------------------- state
    def update_config(self, **changes) -> None:
        """Change the settings declared run-time (sample rate, token limits, ...) without a restart."""
        bad = set(changes) - runtime_names(EngineConfig)
        if bad:
            raise ValueError(f"cannot change {sorted(bad)} at run time")
        self.config = dataclasses.replace(self.config, **changes)

    def load_state(self) -> ShedState:
        """The encoder's load-shedding policy and what it is doing now (engine/shedding.py)."""
        return self.encoder.shedder.state()

    def camera_state(self) -> dict[str, CameraReport]:
        """Per camera (also restored ones no frame has reached yet): counters and memory summary."""
        stats = self.ingest.stats_copy()
        names = sorted(set(stats) | set(self.memory.cameras))
        return {c: CameraReport(stats.get(c) or CameraStats(), self.memory.summary(c)) for c in names}

    def watch(self, cameras: list[str]) -> None:
        """The cameras subscribed now (empty: none): listed from now on, their silence watched (health)."""
        self.ingest.watch(cameras)

    def health(self, period: float, sources: dict[str, CameraInput] | None = None) -> list[Health]:
        """Each camera's and the engine's health, judged since the previous call (`period` apart);
        `sources` (per camera: its topic and publishers) lets a silent camera's warning say why."""
        now = time.monotonic()
        sources = sources or {}
        out = [self._health.camera(c, r.stats, now, period, self.config, sources.get(c))
               for c, r in self.camera_state().items()]
        workers = [WorkerState(name, w.alive, w.failures, w.last_error) for name, w in (
            ("encoder", self.encoder), ("answer worker", self.answers), ("autosave", self.persistence))]
        out.append(self._health.engine(
            self.queue_length, self.config.answer_queue_size, self.last_answer_latency_s, self.memory.frames_seen,
            self.snapshot_status, workers, device_memory_used(self.backend.encoder.device), self.load_state(),
            self.warnings))
        return out

    @property
    def warnings(self) -> list[str]:
        """What the node runs without (the backend's missing parts); empty when it is whole."""
        return list(self.backend.degraded)
