"""The life of an engine thread, shared by the encoder, the answer worker and the autosaver."""

from __future__ import annotations

import threading


class Worker:
    """A daemon thread running `_run` until `stop()`; `_run` loops while `self._stop` is not set."""

    thread_name = "vstream-worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        raise NotImplementedError
