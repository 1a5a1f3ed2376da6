"""The answer service: questions in, answers with evidence out, never in the way of ingest.

Owns the bounded question queue, the checks a question passes before it is queued, and the answer
worker thread. The worker reads the memory (a copy, under the memory's lock only for the read) and
generates outside any lock, so encoding never waits for an answer; while the encoder has frames to
encode, the answer waits instead (priority.py). A cancel ends a queued question at once and a running
one before the model's next module.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

import torch

from vstream_ros.answering.question import Intent, Question, parse
from vstream_ros.backends.contract import Answerer
from vstream_ros.engine import recall
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.ingest import Ingest
from vstream_ros.engine.jobs import CANCELLED, MAX_REQUEST_CAMERAS, QueryResult, QuestionJob, listing
from vstream_ros.engine.priority import AnswerStopped, Gate, gated
from vstream_ros.engine.worker import Worker
from vstream_ros.memory import MultiCameraMemory

log = logging.getLogger(__name__)

AT_TOLERANCE = 1.5   # "at 12 s" means frames within this many frame intervals of 12 s


def _secs(t: float, digits: int = 3) -> str:
    return f"{t:.{digits}f}" if math.isfinite(t) else ("the start" if t < 0 else "the end")


def named_camera(question: str, known: list[str]) -> str:
    """The one known camera the question names ("camera cam1", "the front camera"); "" for none or several."""
    named = [c for c in known if re.search(rf"\bcamera\s+{re.escape(c)}\b|\b{re.escape(c)}\s+camera\b",
                                           question, re.I)]
    return named[0] if len(named) == 1 else ""


class AnswerService(Worker):
    thread_name = "vstream-answer"

    def __init__(self, config: Callable[[], EngineConfig], memory: MultiCameraMemory, answerer: Answerer,
                 ingest: Ingest | None = None) -> None:
        super().__init__()
        self._config = config
        self.memory, self.answerer = memory, answerer
        self._ingest = ingest             # ingest first: answers wait while it has frames to encode
        self._size = config().answer_queue_size
        self._queue: deque[QuestionJob] = deque()
        self._ready = threading.Condition()
        self.last_answer_latency_s = 0.0
        self.yielded_s = 0.0              # time answers waited for the encoder, in total
        self._current: QuestionJob | None = None
        self.sightings: Callable[[], object] = lambda: None   # the long-term index's feed (engine/recall.py)
        # a question about the text in view: the newest frames read first (EncoderWorker.read_now)
        self.read_text: Callable[[list[str], float], None] = lambda cameras, deadline: None

    # ---------------------------------------------------------------- life
    def stop(self) -> None:
        """Stop the worker (an answer in progress stops before its next layer); questions still queued
        are answered with an error, not left hanging."""
        current = self._current
        if current is not None:
            current.cancel.set()
        super().stop()
        with self._ready:
            jobs, self._queue = list(self._queue), deque()
        for job in jobs:
            job.finish(QueryResult(False, "the engine stopped"))

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------ questions
    def ask(self, question: str, window: tuple[float, float] | None = None, cameras: list[str] | None = None,
            max_new_tokens: int = 0, on_piece: Callable[[str, int], None] | None = None,
            relative: bool = False) -> QuestionJob:
        """Queue a question; returns at once. A job refused here is already finished with an error.
        `relative`: the window counts seconds since the memory's first frame (`origin`)."""
        job = QuestionJob(question, window, list(cameras or []), max_new_tokens, on_piece)
        job.relative = relative
        error = self._validate(job)
        if error:
            job.finish(QueryResult(False, error, frames_in_memory=self.memory.frames_seen))
            return job
        with self._ready:
            if len(self._queue) >= self._size:
                full = True
            else:
                full = False
                job._withdraw = self._withdraw
                self._queue.append(job)
                self._ready.notify()
        if full:
            job.finish(QueryResult(False, f"too many questions waiting ({self._size}, the answer_queue_size); "
                                          "try again when an answer is out"))
        return job

    def _withdraw(self, job: QuestionJob) -> None:
        """A cancelled job leaves the queue at once, freeing its place."""
        with self._ready:
            try:
                self._queue.remove(job)
            except ValueError:
                pass

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
        if len(job.cameras) > MAX_REQUEST_CAMERAS:
            return f"the request names {len(job.cameras)} cameras; the limit is {MAX_REQUEST_CAMERAS}"
        if not job.cameras:   # "what did camera cam1 see": the question's camera narrows it as the field does
            job.cameras = [c for c in [named_camera(q, self.memory.cameras)] if c]
        if job.relative:
            job.window, job.relative = self.absolute(job.window, job.cameras), False
        error = self.check_scope(job.cameras, job.window)
        if error and self.sightings() is not None and recall.askable(parse(q)):
            job.scope_error, error = error, ""     # the index may hold what the memory does not (_recall)
        return error

    def origin(self, cameras: list[str]) -> float:
        """The stamp answers' times count from: the first frame in memory (of the one camera asked about,
        else of all); 0 when the memory is empty."""
        rng = self.memory.stamp_range(cameras[0] if len(cameras) == 1 else None)
        return rng[0] if rng else 0.0

    def absolute(self, window: tuple[float, float] | None, cameras: list[str]) -> tuple[float, float] | None:
        """A window in seconds since the memory's first frame as absolute stamps (unbounded ends stay so)."""
        if window is None:
            return None
        o = self.origin(cameras)
        return window[0] + o, window[1] + o

    def check_scope(self, cameras: list[str], window: tuple[float, float] | None) -> str:
        """Why the memory cannot be asked about these cameras and this window ("" when it can)."""
        known = self.memory.cameras
        unknown = [x for x in cameras if x not in known]
        if unknown:
            return f"no frames from camera(s) {listing(unknown)}; cameras with frames: {listing(known)}"
        if not known or self.memory.frames_seen == 0:
            return "the memory is empty: no frame has been encoded yet"
        if window is not None:
            t0, t1 = window
            if t0 > t1:
                return f"the time window starts ({t0:.3f}) after it ends ({t1:.3f})"
            spans = [self.memory.stamp_range(cam) for cam in (cameras or known)]
            if not any(s and s[1] >= t0 and s[0] <= t1 for s in spans):
                return self._empty_window(t0, t1, cameras)
        return ""

    def _empty_window(self, t0: float, t1: float, cameras: list[str]) -> str:
        """The error for a window the memory holds nothing of: the window and the memory's span, each as
        absolute stamps and as seconds since the memory's first frame (the answers' frame)."""
        o = self.origin(cameras)
        first, last = self.memory.stamp_range(cameras[0] if len(cameras) == 1 else None) or (o, o)
        text = (f"nothing in memory between {_secs(t0)} and {_secs(t1)} (absolute stamps; {_secs(t0 - o, 1)} to "
                f"{_secs(t1 - o, 1)} s since the memory's first frame); the memory holds {first:.3f} to {last:.3f} "
                f"(0.0 to {last - o:.1f} s since its first frame)")
        if t1 < o and 0 <= t0 < 1e8:   # small numbers against epoch stamps: meant since the first frame?
            text += "; for seconds since the first frame set relative: true"
        return text

    def scope(self, job: QuestionJob) -> tuple[Question, tuple[float, float] | None]:
        """The question parsed, with the stream's times filled in, and the memory window to read: the
        request's window narrowed by the question's own time ("in the last 30 seconds")."""
        q = parse(job.question)
        cams = job.cameras or None
        first, newest = self.memory.stamp_range(cams[0] if cams and len(cams) == 1 else None) or (0.0, 0.0)
        interval = self.memory.frame_interval(cams) or 1.0 / self._config().sample_rate_hz
        window = job.window
        if q.time is not None:
            own = q.time.window(first, newest, tolerance=max(0.5, AT_TOLERANCE * interval))
            if own is not None:
                window = own if window is None else (max(window[0], own[0]), min(window[1], own[1]))
        return replace(q, origin=first, newest=newest, window=window, frame_interval=interval), window

    # --------------------------------------------------------------- worker
    def _next(self) -> QuestionJob | None:
        with self._ready:
            if not self._queue:
                self._ready.wait(0.5)
            return self._queue.popleft() if self._queue else None

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._next()
            if job is None or not job.begin():
                continue
            self._current = job
            try:
                job.finish(self._answer(job))
                self.succeeded()
            except Exception as e:   # keep answering the next questions
                if isinstance(e, torch.OutOfMemoryError):
                    torch.cuda.empty_cache()
                self.failed(f"{type(e).__name__}: {e}", exc_info=True)
                job.finish(QueryResult(False, f"answer failed: {type(e).__name__}: {e}"))
            finally:
                self._current = None
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
        got, why = self._recall(job, question, window)
        if got is not None:
            return QueryResult(True, "", got.text, question.intent, evidence=got.evidence, source=got.source,
                               frames_in_memory=self.memory.frames_seen, time_origin=got.origin)
        if job.scope_error:
            return QueryResult(False, f"{job.scope_error}{why}", intent=question.intent,
                               frames_in_memory=self.memory.frames_seen)
        wait = self._config().text_read_wait_s
        about_text = question.intent is Intent.TEXT or question.attribute == "text"   # "when was EXIT on screen"
        if wait > 0 and about_text and (window is None or window[1] >= question.newest):
            self.read_text(job.cameras or self.memory.cameras, min(deadline, time.monotonic() + wait))
        read = self.memory.read(job.cameras or None, window)
        if read.num_tokens == 0:
            return QueryResult(False, "nothing in memory for that time window and camera selection",
                               intent=question.intent, frames_in_memory=self.memory.frames_seen)
        ing = self._ingest
        gate = Gate(job.cancel, deadline, ing.due_hint if ing else (lambda: False),
                    ing.wait_idle if ing else (lambda _t: True))
        text, tokens, ans, stopped = "", 0, None, ""
        try:
            with gated(gate):
                ans = self.answerer.answer(read, question, job.max_new_tokens, job.cancel)
                for piece in ans.pieces:
                    text += piece
                    tokens = max(ans.stats.get("tokens", 0), tokens + 1)   # a template's pieces count too
                    if job.on_piece:
                        job.on_piece(text, tokens)
                    if job.cancel.is_set() or time.monotonic() > deadline:
                        break
        except AnswerStopped as e:
            stopped = e.why
        finally:
            self.yielded_s += gate.yielded_s
        if not stopped and time.monotonic() > deadline:
            stopped = "timed out"
        if not stopped and job.cancel.is_set():
            stopped = CANCELLED
        evidence = ans.evidence if ans else []
        if stopped:   # cut short: the deadline passed, or the asker cancelled; the text so far is kept
            error = f"timed out after {timeout:.0f} s" if stopped == "timed out" else CANCELLED
            return QueryResult(False, error, text.strip(), question.intent, True, evidence,
                               frames_in_memory=read.frames_seen, tokens=tokens,
                               limitations=ans.limitations if ans else "", stats={"yielded_s": gate.yielded_s},
                               time_origin=question.origin)
        stats = {**ans.stats, "yielded_s": gate.yielded_s}
        return QueryResult(True, "", text.strip(), question.intent, False, evidence,
                           frames_in_memory=read.frames_seen,
                           tokens=ans.stats.get("tokens", tokens), limitations=ans.limitations, stats=stats,
                           source="memory", time_origin=question.origin)

    def _recall(self, job: QuestionJob, question: Question,
                window: tuple[float, float] | None) -> tuple[recall.Recalled | None, str]:
        """A where/when answer from the sightings index when the memory no longer holds it (engine/recall.py),
        else None and, when the index failed, why (the memory's answer stands)."""
        feed = self.sightings()
        if feed is None or not recall.askable(question):
            return None, ""
        cams = job.cameras or None
        interval = self.memory.frame_interval(cams) or 1.0 / self._config().sample_rate_hz

        def locate(w):
            found = self.answerer.locate(self.memory.read(cams, w, tokens=False), question.subject.strip(), interval, w)
            return [] if found.error else list(found.evidence)
        try:
            return recall.recall(feed, self.memory, locate, question, window, job.cameras,
                                 self._config().locate_max_results), ""
        except Exception as e:      # noqa: BLE001 - a server that is down: the memory answers alone
            log.warning("a where/when answer could not ask the sightings index: %s: %s", type(e).__name__, e)
            return None, f"; the sightings index did not answer: {type(e).__name__}: {e}"[:300]
