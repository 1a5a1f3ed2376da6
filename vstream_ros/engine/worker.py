"""The life of an engine thread, shared by the encoder, the answer worker and the autosaver.

No exception ends a worker: `_run` is restarted after a short pause, and every failure (there or
reported by the worker itself) is counted. Failures in a row and the last error are what the health
check reads; a success resets the streak. Logging is rate-limited, so a fault that repeats on every
frame costs one line every few seconds, not one per frame.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

LOG_EVERY_S = 5.0           # at most one failure line per worker this often (the count says how many)
RESTART_PAUSE_S = (0.05, 5.0)   # the pause before `_run` is entered again: doubled per failure, capped


class Worker:
    """A daemon thread running `_run` until `stop()`; `_run` loops while `self._stop` is not set."""

    thread_name = "vstream-worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0                  # failures in a row (0 after a success)
        self.failures_total = 0
        self.last_error = ""
        self._logged_at = -1e9
        self._unlogged = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._guarded, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _guarded(self) -> None:
        """The last resort: whatever escapes `_run` is counted and logged, and `_run` starts again."""
        pause = RESTART_PAUSE_S[0]
        while not self._stop.is_set():
            try:
                self._run()
                return
            except Exception as e:
                self.failed(f"{type(e).__name__}: {e}", exc_info=True)
                self._stop.wait(pause)
                pause = min(2 * pause, RESTART_PAUSE_S[1])

    def failed(self, error: str, exc_info: bool = False) -> None:
        """Count a failure of this worker's job (a batch, an answer, a save) and log it, rate-limited."""
        self.failures += 1
        self.failures_total += 1
        self.last_error = error[:500]
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            more = f" ({self._unlogged} more since the last report)" if self._unlogged else ""
            log.error("%s failed (%d in a row): %s%s", self.thread_name, self.failures, self.last_error, more,
                      exc_info=exc_info)
            self._logged_at, self._unlogged = now, 0
        else:
            self._unlogged += 1

    def succeeded(self) -> None:
        self.failures = 0

    def _run(self) -> None:
        raise NotImplementedError
