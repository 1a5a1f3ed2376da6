"""Memory snapshots on disk: safetensors tensors plus JSON metadata, written atomically, never pickle.

The metadata carries a SHA-256 of the tensors (names, dtypes, shapes and bytes), checked on read, so
that bytes changed on disk are refused instead of restored. Files written before the checksum was
added have none; they are read, and their content is still checked (see memory/validate.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

FORMAT = "vstream_ros.star_memory"
FORMAT_VERSION = 2          # 2: runs, annotations and poses per slot; version 1 files are upgraded on load
READABLE_VERSIONS = (1, 2)
FLASH_FORMAT = "vstream_ros.flash_memory"   # memory/flash.py (Flash-VStream-Qwen's Flash Memory)
FLASH_FORMAT_VERSION = 2    # 2: tokens of two frames (rep_first; a slot open to pairing); 1 loads as single frames
FLASH_READABLE_VERSIONS = (1, 2)
# Every format this build reads, with its readable versions. A writer names its format and version in
# the metadata (`format`, `version`); without them a snapshot is written as the STAR format.
FORMATS = {FORMAT: READABLE_VERSIONS, FLASH_FORMAT: FLASH_READABLE_VERSIONS}
_META_KEY = "vstream_ros"
CHECKSUM_KEY = "tensors_sha256"


class SnapshotError(RuntimeError):
    """A snapshot that cannot be restored: corrupt, of another format version, config or encoder."""


def write_snapshot(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write tensors and metadata to `path` so that a crash leaves either the old or the new file.

    The bytes go to a temporary file beside the target, are fsynced, renamed over the target, and the
    directory is fsynced so the rename itself survives a power cut.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    header = {_META_KEY: json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **meta,
                                     CHECKSUM_KEY: tensor_digest(cpu)})}
    data = save(cpu, metadata=header)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_snapshot(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a snapshot written by `write_snapshot`; anything unreadable raises SnapshotError."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SnapshotError(f"cannot read memory snapshot {path}: {e}") from e
    try:
        tensors = load(data)
        header = _read_header(data)
        meta = json.loads(header[_META_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError) as e:  # JSONDecodeError is a ValueError
        raise SnapshotError(f"memory snapshot {path} is corrupt: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        raise SnapshotError(f"{path} is not a vstream_ros memory snapshot")
    if meta.get("version") not in FORMATS[meta["format"]]:
        raise SnapshotError(f"memory snapshot {path} has {meta['format']} version {meta.get('version')}, this build "
                            f"reads versions {list(FORMATS[meta['format']])}")
    if CHECKSUM_KEY in meta and meta[CHECKSUM_KEY] != tensor_digest(tensors):
        raise SnapshotError(f"memory snapshot {path} is corrupt: its tensors do not match their checksum")
    return tensors, meta


def read_meta(path: str | os.PathLike) -> dict:
    """A snapshot's metadata alone (its header; the tensors are not read or checked): for listings."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 1 << 30:
                raise ValueError("bad safetensors header length")
            meta = json.loads(json.loads(f.read(n))["__metadata__"][_META_KEY])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SnapshotError(f"cannot read the metadata of {path}: {e}") from e
    if not isinstance(meta, dict):
        raise SnapshotError(f"{path} is not a vstream_ros memory snapshot")
    return meta


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return "sha256:" + h.hexdigest()


def _read_header(data: bytes) -> dict:
    """The safetensors JSON header's __metadata__ (safetensors.torch.load does not return it)."""
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ValueError("bad safetensors header length")
    return json.loads(data[8: 8 + n])["__metadata__"]


def remove_stale_temp(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files left beside `path` (or its archives) by a save that was killed; files of a
    process that is still running are left alone. Returns what was removed."""
    path = Path(path).expanduser()
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(path.stem)}.*\.(\d+)\.tmp$")
    removed = []
    for p in path.parent.iterdir():
        m = pattern.match(p.name)
        if m and not _running(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False           # our own leftovers: this process is not saving while it starts
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def quarantine(path: str | os.PathLike) -> Path:
    """Move a snapshot that could not be restored aside, keeping it for inspection; returns the new path."""
    path = Path(path).expanduser()
    aside = path.with_name(f"{path.name}.rejected-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, aside)
    return aside
