"""A question in flight and what comes back: the job the asker holds (wait, cancel) and its result,
with the limits on what a request and an error text may hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vstream_ros.memory import TokenGroup

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
    source: str = ""                       # who answered: "memory", "index" (the sightings index) or both
    time_origin: float = 0.0               # the stamp the answer's times count from (the memory's first frame)


MAX_REQUEST_CAMERAS = 64          # a request naming more cameras is refused
MAX_ERROR_CHARS = 500             # no error text is longer (an echoed name can be anything)


def short(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f" ... ({len(text) - limit + 40} more characters)"


def listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n[:64]) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class _CancelFlag(threading.Event):
    """The job's cancel Event; setting it also finishes a job that has not started yet."""

    def __init__(self, on_set: Callable[[], None]) -> None:
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()


class QuestionJob:
    """A question in flight. `on_piece(text_so_far, tokens)` is called from the answer worker.
    Setting `cancel` stops it: at once while it waits in the queue, within a module's forward while
    it is being answered."""

    def __init__(self, question: str, window, cameras, max_new_tokens: int,
                 on_piece: Callable[[str, int], None] | None) -> None:
        self.question, self.window, self.cameras = question, window, cameras
        self.max_new_tokens, self.on_piece = max_new_tokens, on_piece
        self.relative = False              # the window counts seconds since the memory's first frame
        self.scope_error = ""               # why the memory holds nothing for it (the index may still answer)
        self._state = threading.Lock()
        self._started = False
        self._withdraw: Callable[[QuestionJob], None] = lambda job: None
        self.cancel = _CancelFlag(self._cancelled)
        self.done = threading.Event()
        self.submitted = time.monotonic()
        self.result: QueryResult | None = None

    def wait(self, timeout: float | None = None) -> QueryResult:
        if not self.done.wait(timeout):
            self.cancel.set()
            self.done.wait(5.0)
        return self.result or QueryResult(False, "timed out waiting for the answer")

    def finish(self, result: QueryResult) -> None:
        """Set the result once (later calls are ignored) and wake the waiters."""
        with self._state:
            if self.done.is_set():
                return
            result.latency_s = time.monotonic() - self.submitted
            result.error = short(result.error)
            self.result = result
            self.done.set()

    def begin(self) -> bool:
        """The worker takes the job; False if it was cancelled (and finished) while it waited."""
        with self._state:
            if self._started or self.done.is_set():
                return False
            self._started = True
            return True

    def _cancelled(self) -> None:
        with self._state:
            if self._started or self.done.is_set():
                return                  # being answered: the answer stops itself
            self._started = True
        self._withdraw(self)
        self.finish(QueryResult(False, CANCELLED, partial=True))
