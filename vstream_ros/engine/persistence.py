"""Persistence: the memory's snapshot file.

Owns the snapshot path's life: restore at start (an unusable file is moved aside and the memory
starts empty), atomic saves, and the autosave thread that writes when the memory changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.worker import Worker
from vstream_ros.memory import MultiCameraMemory, SnapshotError, quarantine
from vstream_ros.memory.snapshot import write_snapshot

log = logging.getLogger(__name__)


class Persistence(Worker):
    thread_name = "vstream-autosave"

    def __init__(self, config: Callable[[], EngineConfig], memory: MultiCameraMemory) -> None:
        super().__init__()
        self._config = config
        self.memory = memory
        self.status = "no snapshot path"
        self._saved_version = memory.version
        self._last_save = time.monotonic()
        self._save_lock = threading.Lock()      # one writer of the file at a time

    @property
    def path(self) -> Path | None:
        p = self._config().snapshot_path
        return Path(p).expanduser() if p else None

    def restore(self) -> str:
        """Load the snapshot if there is one; the returned text says what happened (also `status`)."""
        p = self.path
        if p is None:
            return self.status
        if not p.exists():
            self.status = f"no snapshot at {p}; starting empty"
            return self.status
        try:
            self.memory.load(p)
            self._saved_version = self.memory.version
            self.status = f"restored {self.memory.frames_seen} frames of {len(self.memory.cameras)} camera(s) from {p}"
        except SnapshotError as e:
            aside = quarantine(p)
            self.status = f"ERROR: {e}; moved it to {aside} and started with an empty memory"
            log.error(self.status)
        return self.status

    def save(self) -> str | None:
        """Write the snapshot now (atomically). Returns the path, or None without a snapshot path."""
        p = self.path
        if p is None:
            return None
        with self._save_lock:
            version = self.memory.version
            tensors, meta = self.memory.state_dict()
            out = write_snapshot(p, tensors, meta)
            self._saved_version = version
            self._last_save = time.monotonic()
        return str(out)

    @property
    def dirty(self) -> bool:
        return self.memory.version != self._saved_version

    def _run(self) -> None:   # autosave
        while not self._stop.wait(min(1.0, self._config().autosave_period_s or 1.0)):
            period = self._config().autosave_period_s
            if period > 0 and self.dirty and time.monotonic() - self._last_save >= period:
                try:
                    self.save()
                except Exception as e:   # a full disk must not end autosaving for good
                    log.error("autosave failed: %s", e)
                    self._last_save = time.monotonic()
