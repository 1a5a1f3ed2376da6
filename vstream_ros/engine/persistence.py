"""Persistence: the memory's snapshot file and its archives.

Owns the snapshot path's life: restore at start (temporary files of a save that was killed are
removed first; a file that is unreadable, fails its checksum or holds an inconsistent state is moved
aside and the memory starts empty), atomic saves, the autosave thread that writes when the memory
changed, and the archives: before a memory is cleared (~/reset_memory, a new stream on a camera) it is
written beside the snapshot as `<name>.archive-<time>-<why>.safetensors`, a snapshot file like any
other; `snapshot_archives` of them are kept, the oldest removed first.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.worker import Worker
from vstream_ros.memory import MultiCameraMemory, SnapshotError, quarantine
from vstream_ros.memory.snapshot import CHECKSUM_KEY, read_snapshot, remove_stale_temp, write_snapshot

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
        self._save_lock = threading.Lock()      # one writer of the files at a time

    @property
    def path(self) -> Path | None:
        p = self._config().snapshot_path
        return Path(p).expanduser() if p else None

    def restore(self) -> str:
        """Load the snapshot if there is one; the returned text says what happened (also `status`)."""
        p = self.path
        if p is None:
            return self.status
        for stale in remove_stale_temp(p):
            log.warning("removed %s, left by a save that was interrupted", stale)
        if not p.exists():
            self.status = f"no snapshot at {p}; starting empty"
            return self.status
        try:
            tensors, meta = read_snapshot(p)
            self.memory.load_state_dict(tensors, meta)
            self._saved_version = self.memory.version
            self.status = f"restored {self.memory.frames_seen} frames of {len(self.memory.cameras)} camera(s) from {p}"
            if CHECKSUM_KEY not in meta:
                self.status += " (written before snapshots had checksums: its state was checked, its bytes not)"
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

    # ------------------------------------------------------------ archives
    def archive(self, cameras: list[str] | None, why: str) -> Path | None:
        """Write the memory of `cameras` (None: all) beside the snapshot before it is cleared, and remove
        the oldest archives beyond `snapshot_archives`. None when there is nothing to archive, no
        snapshot path or no archive to keep; OSError when the file cannot be written."""
        p, keep = self.path, self._config().snapshot_archives
        if p is None or keep == 0:
            return None
        with self._save_lock:
            tensors, meta = self.memory.state_dict()
            tensors, meta = _only(tensors, meta, cameras)
            if not meta["cameras"]:
                return None
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S.%f")
            out = p.with_name(f"{p.stem}.archive-{stamp}-{_slug(why)}{p.suffix}")
            write_snapshot(out, tensors, {**meta, "archived": {"why": why, "time": time.time(),
                                                               "snapshot": str(p)}})
            for old in self.archives()[:-keep]:
                old.unlink(missing_ok=True)
        return out

    def archives(self) -> list[Path]:
        """The archives beside the snapshot, oldest first."""
        p = self.path
        if p is None or not p.parent.is_dir():
            return []
        return sorted(p.parent.glob(f"{glob_escape(p.stem)}.archive-*{glob_escape(p.suffix)}"))

    # -------------------------------------------------------------- autosave
    @property
    def dirty(self) -> bool:
        return self.memory.version != self._saved_version

    def _run(self) -> None:   # autosave
        while not self._stop.wait(min(1.0, self._config().autosave_period_s or 1.0)):
            period = self._config().autosave_period_s
            if period > 0 and self.dirty and time.monotonic() - self._last_save >= period:
                try:
                    self.save()
                    self.succeeded()
                except Exception as e:   # a full disk must not end autosaving for good
                    self.failed(f"autosave: {type(e).__name__}: {e}")
                    self._last_save = time.monotonic()


def _only(tensors: dict, meta: dict, cameras: list[str] | None) -> tuple[dict, dict]:
    """A MultiCameraMemory state_dict cut down to some cameras (renumbered from 0)."""
    if cameras is None:
        return tensors, meta
    keep = [(i, cam) for i, cam in enumerate(meta["cameras"]) if cam["name"] in cameras]
    out: dict = {}
    for new, (old, _) in enumerate(keep):
        prefix = f"{old}."
        out.update({f"{new}.{k[len(prefix):]}": v for k, v in tensors.items() if k.startswith(prefix)})
    cams = [cam for _, cam in keep]
    frames = sum(int(cam.get("state", {}).get("frames_seen", 0)) for cam in cams)
    return out, {**meta, "cameras": cams, "frames_seen": frames}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:64]


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
