"""The node's last line of defence, and its logging that costs nothing per frame.

rclpy's executors re-raise an exception from any callback and end their spin: one bad message would
stop the node. Every subscription, service, parameter and timer callback therefore runs under a guard
that counts what it caught, logs it (at most once every few seconds) and gives the caller a reply that
says what went wrong. (The action server's execute callback is guarded by rclpy itself: it logs and
aborts the goal.) Refused frames are not logged one by one: the state timer writes one line per camera
every few seconds when some were refused, with the counts by reason.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable

from vstream_ros.engine import Health, Level

LOG_EVERY_S = 5.0           # at most one line this often for caught exceptions
REFUSALS_EVERY_S = 10.0     # and for each camera's refused frames
ERROR_CHARS = 500


class CallbackGuard:
    """Counts exceptions the node's callbacks did not handle; the state timer reports them."""

    def __init__(self, logger) -> None:
        self._logger = logger
        self.total = 0
        self.last_error = ""
        self._reported = 0
        self._logged_at = -1e9
        self._unlogged = 0

    def caught(self, where: str, e: BaseException) -> None:
        self.total += 1
        self.last_error = f"{where}: {type(e).__name__}: {e}"[:ERROR_CHARS]
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_S:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last report)" if self._unlogged else ""
        tb = "".join(traceback.format_exception(e)[-3:])
        self._logger.error(f"caught in {self.last_error}{more}\n{tb}")
        self._logged_at, self._unlogged = now, 0

    def health(self) -> Health:
        h = Health("vstream: node callbacks")
        h.values = {"errors_total": str(self.total), "last_error": self.last_error}
        if self.total > self._reported:
            h.worse(Level.WARN, f"{self.total - self._reported} callback errors caught (last: {self.last_error})")
        self._reported = self.total
        return h


def guarded(fallback: Callable) -> Callable:
    """Run a node callback under its guard: an exception is counted and logged, and
    `fallback(self, *args, error=text)` makes the reply (a response saying what went wrong)."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(self, *args):
            try:
                return fn(self, *args)
            except Exception as e:
                self._guard.caught(fn.__name__, e)
                return fallback(self, *args, error=f"internal error: {type(e).__name__}: {e}"[:ERROR_CHARS])
        return inner
    return wrap


class RefusalLog:
    """One log line per camera every REFUSALS_EVERY_S while its frames are being refused."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, int, dict[str, int]]] = {}

    def report(self, cameras, logger) -> None:
        """`cameras`: CameraMemoryState messages (rejected counts in total and by reason)."""
        now = time.monotonic()
        for c in cameras:
            at, count, before = self._seen.get(c.camera, (-1e9, 0, {}))
            if c.frames_rejected <= count or now - at < REFUSALS_EVERY_S:
                continue
            reasons = dict(zip(c.rejected_reasons, c.rejected_counts, strict=True))
            new = {r: n - before.get(r, 0) for r, n in reasons.items() if n > before.get(r, 0)}
            logger.warning(f"camera {c.camera}: {c.frames_rejected - count} frames refused "
                           f"({', '.join(f'{r}: {n}' for r, n in sorted(new.items()))})")
            self._seen[c.camera] = (now, c.frames_rejected, reasons)


def say(logger, ok: bool, text: str) -> None:
    """Log `text` as INFO when `ok`, else ERROR. rclpy ties a call site to one severity ("Logger severity
    cannot be changed between calls"), so each severity has its own line here."""
    if ok:
        logger.info(text)
    else:
        logger.error(text)
