"""Persistence: the memory's snapshot file and its archives.

Owns the snapshot path's life: restore at start (temporary files of a save that was killed are
removed first; a file that is unreadable, fails its checksum or holds an inconsistent state is moved
aside and the memory starts empty), atomic saves, the autosave thread that writes when the memory
changed, and the archives: before a memory is cleared (~/reset_memory, a new stream on a camera) it is
written beside the snapshot as `<name>.archive-<time>-<why>.safetensors`, a snapshot file like any
other. Archives are bounded by count (`snapshot_archives`), bytes (`snapshot_archive_bytes`) and age
(`snapshot_archive_max_age_s`). Beyond a bound, the archive holding the least history (frames seen)
goes first, the oldest of equals; the newest is never removed. So a publisher whose broken stamps
drive resets (at most one a minute, stamps.py) replaces its own short archives, never the long real
history archived before the flood, nor the latest one.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.worker import Worker
from vstream_ros.memory import MultiCameraMemory, SnapshotError, quarantine
from vstream_ros.memory.annotations import relayout
from vstream_ros.memory.snapshot import CHECKSUM_KEY, read_meta, read_snapshot, remove_stale_temp, write_snapshot

log = logging.getLogger(__name__)


class Persistence(Worker):
    thread_name = "vstream-autosave"

    def __init__(self, config: Callable[[], EngineConfig], memory: MultiCameraMemory,
                 annotation_history: Sequence[Sequence[str]] = ()) -> None:
        super().__init__()
        self._config = config
        self.memory = memory
        self.annotation_history = annotation_history     # the encoder's earlier layouts (annotations.relayout)
        self.status = "no snapshot path"
        self._saved_version = memory.version
        self._last_save = time.monotonic()
        self._save_lock = threading.Lock()      # one writer of the files at a time
        self._frames: dict[Path, int] = {}      # frames seen per archive (archives never change)

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
            tensors, meta, moved = relayout(tensors, meta, self.memory.annotation_names, self.annotation_history)
            if moved is not None and moved.dropped:      # parts the encoder no longer gives: keep the file as it was
                kept = _archive_path(p, "relayout")
                try:
                    shutil.copy2(p, kept)
                except OSError as e:        # nothing is dropped without a copy: set the file aside whole instead
                    raise SnapshotError(f"its annotations need parts dropped, and no copy could be kept ({e})") from e
            self.memory.load_state_dict(tensors, meta)
            self._saved_version = self.memory.version
            self.status = f"restored {self.memory.frames_seen} frames of {len(self.memory.cameras)} camera(s) from {p}"
            if CHECKSUM_KEY not in meta:
                self.status += " (written before snapshots had checksums: its state was checked, its bytes not)"
            if moved is not None:
                self.status += (f" (its annotations were laid out by an older encoder: {len(moved.added)} parts it "
                                "lacked are zero for the frames it holds")
                self.status += (f"; {len(moved.dropped)} parts this encoder no longer gives were dropped, the file as "
                                f"it was kept as {kept.name})" if moved.dropped else ")")
                (log.warning if moved.dropped else log.info)(self.status)
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
        archives beyond the bounds (see the module). None when there is nothing to archive, no snapshot
        path or no archive to keep; OSError when the file cannot be written."""
        p, keep = self.path, self._config().snapshot_archives
        if p is None or keep == 0:
            return None
        with self._save_lock:
            tensors, meta = self.memory.state_dict()
            tensors, meta = _only(tensors, meta, cameras)
            if not meta["cameras"]:
                return None
            out = _archive_path(p, why)
            write_snapshot(out, tensors, {**meta, "archived": {"why": why, "time": time.time(),
                                                               "snapshot": str(p)}})
            self._prune(keep)
        return out

    def _prune(self, keep: int) -> None:
        """Remove archives beyond the count, byte and age bounds: the least history first, never the newest."""
        cfg = self._config()
        *older, newest = self.archives()
        now = time.time()
        info = {}
        for a in older:
            try:
                st = a.stat()
            except OSError:
                continue
            if cfg.snapshot_archive_max_age_s and now - st.st_mtime > cfg.snapshot_archive_max_age_s:
                a.unlink(missing_ok=True)
                self._frames.pop(a, None)
            else:
                info[a] = (self._history(a), st.st_size)
        total = sum(size for _, size in info.values()) + _size(newest)
        while info and (len(info) + 1 > keep or (cfg.snapshot_archive_bytes and total > cfg.snapshot_archive_bytes)):
            victim = min(info, key=lambda a: (info[a][0], a.name))    # least history; names sort by time
            victim.unlink(missing_ok=True)
            self._frames.pop(victim, None)
            total -= info.pop(victim)[1]

    def _history(self, archive: Path) -> int:
        """Frames seen by the memory an archive holds (an unreadable one counts as none)."""
        if archive not in self._frames:
            try:
                self._frames[archive] = int(read_meta(archive).get("frames_seen", 0))
            except SnapshotError:
                self._frames[archive] = 0
        return self._frames[archive]

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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _archive_path(snapshot: Path, why: str) -> Path:
    """Where an archive of the snapshot is written now: beside it, named by the time and why (`archives`
    finds them by this pattern)."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S.%f")
    return snapshot.with_name(f"{snapshot.stem}.archive-{stamp}-{_slug(why)}{snapshot.suffix}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:64]


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
