"""The answer service: questions in, answers with evidence out, never in the way of ingest.

Owns the bounded question queue, the checks a question passes before it is queued, and the answer
worker thread. The worker reads the memory (a copy, under the memory's lock only for the read) and
generates outside any lock, so encoding never waits for an answer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from vstream_ros.answering.question import Question, parse
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.worker import Worker
from vstream_ros.memory import MultiCameraMemory, TokenGroup
from vstream_ros.models.base import Answerer

log = logging.getLogger(__name__)
ADJACENT = 1.5       # "at 12 s" means frames within this many frame intervals of 12 s
CANCELLED = "cancelled"            # QueryResult.error of a question its asker cancelled


@dataclass
class QueryResult:
    success: bool
    error: str = ""
    answer: str = ""
    intent: str = ""                       # how the question was understood (answering.question.Intent)
    partial: bool = False                  # cut short: a timeout or a cancel; `answer` holds the text so far
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


class AnswerService(Worker):
    thread_name = "vstream-answer"

    def __init__(self, config: Callable[[], EngineConfig], memory: MultiCameraMemory, answerer: Answerer) -> None:
        super().__init__()
        self._config = config
        self.memory, self.answerer = memory, answerer
        self._queue: queue.Queue[QuestionJob] = queue.Queue(maxsize=config().answer_queue_size)
        self.last_answer_latency_s = 0.0

    # ---------------------------------------------------------------- life
    def stop(self) -> None:
        """Stop the worker; questions still queued are answered with an error, not left hanging."""
        super().stop()
        while True:
            try:
                self._queue.get_nowait().finish(QueryResult(False, "the engine stopped"))
            except queue.Empty:
                break

    @property
    def queue_length(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------ questions
    def ask(self, question: str, window: tuple[float, float] | None = None, cameras: list[str] | None = None,
            max_new_tokens: int = 0, on_piece: Callable[[str, int], None] | None = None) -> QuestionJob:
        """Queue a question; returns at once. A job refused here is already finished with an error."""
        job = QuestionJob(question, window, list(cameras or []), max_new_tokens, on_piece)
        error = self._validate(job)
        if error:
            job.finish(QueryResult(False, error, frames_in_memory=self.memory.frames_seen))
            return job
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            job.finish(QueryResult(False, f"too many questions waiting ({self._queue.maxsize}); try again shortly"))
        return job

    def _validate(self, job: QuestionJob) -> str:
        c = self._config()
        q = job.question.strip() if isinstance(job.question, str) else ""
        if not q:
            return "the question is empty"
        if len(job.question) > c.max_question_chars:
            return f"the question has {len(job.question)} characters; the limit is {c.max_question_chars}"
        job.question = q
        n = job.max_new_tokens or c.default_max_new_tokens
        job.max_new_tokens = max(1, min(int(n), c.max_new_tokens_limit))
        if not self.alive:
            return "the engine is not running"
        return self.check_scope(job.cameras, job.window)

    def check_scope(self, cameras: list[str], window: tuple[float, float] | None) -> str:
        """Why the memory cannot be asked about these cameras and this window ("" when it can)."""
        known = self.memory.cameras
        unknown = [x for x in cameras if x not in known]
        if unknown:
            return f"no frames from camera(s) {unknown}; cameras with frames: {known}"
        if not known or self.memory.frames_seen == 0:
            return "the memory is empty: no frame has been encoded yet"
        if window is not None:
            t0, t1 = window
            if t0 > t1:
                return f"the time window starts ({t0:.3f}) after it ends ({t1:.3f})"
            spans = [self.memory.stamp_range(cam) for cam in (cameras or known)]
            if not any(s and s[1] >= t0 and s[0] <= t1 for s in spans):
                return f"nothing in memory between {t0:.3f} and {t1:.3f}"
        return ""

    def scope(self, job: QuestionJob) -> tuple[Question, tuple[float, float] | None]:
        """The question parsed, with the stream's times filled in, and the memory window to read: the
        request's window narrowed by the question's own time ("in the last 30 seconds")."""
        q = parse(job.question)
        cams = job.cameras or None
        first, newest = self.memory.stamp_range(cams[0] if cams and len(cams) == 1 else None) or (0.0, 0.0)
        interval = self.memory.frame_interval(cams) or 1.0 / self._config().sample_rate_hz
        window = job.window
        if q.time is not None:
            own = q.time.window(first, newest, tolerance=max(0.5, ADJACENT * interval))
            if own is not None:
                window = own if window is None else (max(window[0], own[0]), min(window[1], own[1]))
        return replace(q, origin=first, newest=newest, window=window, frame_interval=interval), window

    # --------------------------------------------------------------- worker
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=0.5)
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
        timeout = self._config().answer_timeout_s
        deadline = job.submitted + timeout
        if job.cancel.is_set():
            return QueryResult(False, CANCELLED, partial=True, frames_in_memory=self.memory.frames_seen)
        if time.monotonic() > deadline:
            return QueryResult(False, f"timed out after {timeout:.0f} s in the queue")
        question, window = self.scope(job)
        if window is not None and window[0] > window[1]:
            return QueryResult(False, "the question's time and the request's window do not overlap",
                               intent=question.intent, frames_in_memory=self.memory.frames_seen)
        read = self.memory.read(job.cameras or None, window)
        if read.num_tokens == 0:
            return QueryResult(False, "nothing in memory for that time window and camera selection",
                               intent=question.intent, frames_in_memory=self.memory.frames_seen)
        ans = self.answerer.answer(read, question, job.max_new_tokens, job.cancel)
        text, tokens = "", 0
        for piece in ans.pieces:
            text += piece
            tokens = ans.stats.get("tokens", tokens + 1)
            if job.on_piece:
                job.on_piece(text, tokens)
            if time.monotonic() > deadline:
                job.cancel.set()
        if job.cancel.is_set():   # cut short: the deadline passed, or the asker cancelled
            error = f"timed out after {timeout:.0f} s" if time.monotonic() > deadline else CANCELLED
            return QueryResult(False, error, text.strip(), question.intent, True, ans.evidence,
                               frames_in_memory=read.frames_seen, tokens=tokens, limitations=ans.limitations,
                               stats=ans.stats)
        return QueryResult(True, "", text.strip(), question.intent, False, ans.evidence,
                           frames_in_memory=read.frames_seen,
                           tokens=ans.stats.get("tokens", tokens), limitations=ans.limitations, stats=ans.stats)
