"""One memory per camera (STAR, or the Flash Memory when the config is a FlashMemoryConfig), read
together with each group naming its camera.

The one owner of what the memory holds: per camera, its stamps (order is checked by the camera's
memory), its span, its resets and its summary. Safe to share between threads: every public method
holds one lock for its whole duration, and reads hand out copies.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import torch

from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.flash import FlashMemory
from vstream_ros.memory.flash_config import FlashMemoryConfig
from vstream_ros.memory.kinds import memory_kind
from vstream_ros.memory.perceived import Perceived
from vstream_ros.memory.read import MemoryRead
from vstream_ros.memory.snapshot import SnapshotError, read_snapshot, write_snapshot
from vstream_ros.memory.star import Stamps, STARMemory
from vstream_ros.memory.tracks import TextSighting, Track


@dataclass(frozen=True)
class CameraSummary:
    """What one camera's memory holds now (for ~/memory_state and reports), without reading it."""

    frames_seen: int
    tokens: dict[str, int]
    bytes: dict[str, int]
    stamp_range: tuple[float, float] | None


class MultiCameraMemory:
    """Memories keyed by camera name, created on a camera's first frame.

    A read concatenates the selected cameras in the order asked for (all cameras: sorted by name),
    each as A | T | R | S, so the token layout is stable from one question to the next. Beside each
    camera's memory: its bounded tables of tracks and scene text (perceived.py), read, saved and
    cleared with it.
    `version` grows with every change (update, reset, load), so a saver knows when it is behind.
    """

    def __init__(self, config: MemoryConfig | FlashMemoryConfig, dim: int, grid: tuple[int, int],
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, encoder_id: str = "",
                 annotation_dim: int = 0, annotation_names: Sequence[str] = ()) -> None:
        self.config, self.dim, self.grid = config, dim, (int(grid[0]), int(grid[1]))
        self.device, self.dtype, self.encoder_id = torch.device(device), dtype, encoder_id
        if annotation_names and annotation_dim not in (0, len(annotation_names)):
            raise ValueError(f"annotation_dim {annotation_dim} but {len(annotation_names)} annotation names")
        # the names of the annotation's columns, kept in snapshots so that a later layout can take them
        # (annotations.relayout); opaque here: what they mean is the encoder's
        self.annotation_names = tuple(annotation_names)
        self.annotation_dim = len(annotation_names) or annotation_dim
        self.kind = memory_kind(config)          # the memory class the config asks for, and its snapshot format
        self._memories: dict[str, STARMemory] = {}
        self._perceived: dict[str, Perceived] = {}
        self._projections: tuple = (None, None)
        self._lock = threading.RLock()
        self.version = 0

    def _new(self) -> STARMemory:
        m = self.kind.memory(self.config, self.dim, self.grid, self.device, self.dtype, self.encoder_id,
                             self.annotation_dim)
        m.set_abstract_projections(*self._projections)
        return m

    # ------------------------------------------------------------------ state
    @property
    def cameras(self) -> list[str]:
        with self._lock:
            return sorted(self._memories)

    @property
    def frames_seen(self) -> int:
        with self._lock:
            return sum(m.frames_seen for m in self._memories.values())

    def camera_frames(self, camera: str) -> int:
        """Frames the camera's memory has taken in (0 for a camera it does not know)."""
        with self._lock:
            m = self._memories.get(camera)
            return m.frames_seen if m else 0

    def last_stamp(self, camera: str) -> float | None:
        with self._lock:
            m = self._memories.get(camera)
            return m.last_stamp if m else None

    def stamp_range(self, camera: str | None = None) -> tuple[float, float] | None:
        """First and last stamp of one camera, or of all cameras together; None when empty."""
        with self._lock:
            ranges = [r for c, m in self._memories.items() if camera in (None, c) and (r := m.stamp_range())]
        if not ranges:
            return None
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def frame_interval(self, cameras: list[str] | None = None) -> float | None:
        """The longest typical gap between frames among the cameras (what "adjacent" means for them)."""
        with self._lock:
            gaps = [m.frame_interval for c, m in self._memories.items()
                    if (not cameras or c in cameras) and m.frame_interval is not None]
        return max(gaps) if gaps else None

    def summary(self, camera: str) -> CameraSummary | None:
        with self._lock:
            m = self._memories.get(camera)
            if m is None:
                return None
            return CameraSummary(m.frames_seen, m.tokens_by_kind(), m.nbytes(), m.stamp_range())

    def nbytes(self) -> dict[str, int]:
        total = {"device": 0, "host": 0}
        with self._lock:
            for m in self._memories.values():
                for k, v in m.nbytes().items():
                    total[k] += v
        return total

    def tokens(self) -> int:
        """Tokens a full read of every camera returns now."""
        with self._lock:
            return sum(sum(m.tokens_by_kind().values()) for m in self._memories.values())

    # ---------------------------------------------------------------- changes
    def set_abstract_projections(self, q, k) -> None:
        with self._lock:
            self._projections = (q, k)
            for m in self._memories.values():
                m.set_abstract_projections(q, k)

    def update(self, camera: str, features: torch.Tensor, stamps: Stamps, annotations: torch.Tensor | None = None,
               poses: torch.Tensor | None = None, firsts: Stamps | None = None) -> None:
        """Add frames of one camera (see STARMemory.update); ValueError (nothing changed) for stamps
        before its last one. `firsts`: tokens of two frames (FlashMemory.update; the Flash Memory only)."""
        with self._lock:
            m = self._memories.get(camera)
            if m is None:
                m = self._new()
            if firsts is None:
                m.update(features, stamps, annotations, poses)
            elif isinstance(m, FlashMemory):
                m.update(features, stamps, annotations, poses, firsts)
            else:
                raise ValueError("only the Flash Memory keeps tokens of two frames")
            self._memories[camera] = m
            self.version += 1

    def pair_open(self, camera: str) -> bool:
        """Whether the camera's next frame may join its last one in one temporal token (FlashMemory.pair_open)."""
        with self._lock:
            m = self._memories.get(camera)
            return isinstance(m, FlashMemory) and m.pair_open

    def pair_last(self, camera: str, features: torch.Tensor, stamp: float, annotation: torch.Tensor | None = None,
                  pose: torch.Tensor | None = None) -> None:
        """The camera's frame at `stamp` joins its lone last frame (FlashMemory.pair_last); ValueError, nothing
        changed, where none is open to pairing."""
        with self._lock:
            m = self._memories.get(camera)
            if not isinstance(m, FlashMemory):
                raise ValueError(f"camera {camera!r} has no Flash Memory to pair frames in")
            m.pair_last(features, stamp, annotation, pose)
            self.version += 1

    def observe(self, camera: str, tracks: Iterable[Track] = (), texts: Iterable[TextSighting] = ()) -> None:
        """Keep what perception followed in a camera's frame (after that frame's `update`): the newest
        record of each track, new readings of text. KeyError for a camera with no memory; ValueError
        (nothing changed) for a record with broken stamps."""
        tracks, texts = tuple(tracks), tuple(texts)
        if not tracks and not texts:
            return
        with self._lock:
            m = self._memories.get(camera)
            if m is None:
                raise KeyError(f"no memory for camera {camera!r}: observe follows update")
            table = Perceived()
            table.add(tracks, texts)                     # checks every record before the camera's table changes
            self._perceived.setdefault(camera, Perceived()).add(tracks, texts, since=m.first_stamp)
            self.version += 1

    def reset(self, camera: str | None = None) -> None:
        """Forget one camera (a new stream started on it) or every camera."""
        with self._lock:
            if camera is None:
                self._memories.clear()
                self._perceived.clear()
            else:
                self._memories.pop(camera, None)
                self._perceived.pop(camera, None)
            self.version += 1

    # ------------------------------------------------------------------- read
    def read(
        self,
        cameras: list[str] | None = None,
        window: tuple[float, float] | None = None,
        include_abstract: bool | None = None,
        tokens: bool = True,
    ) -> MemoryRead:
        """Read the named cameras (empty or None: all). Unknown names raise KeyError. `tokens=False`: groups
        and runs only (see STARMemory.read)."""
        with self._lock:
            names = list(cameras) if cameras else sorted(self._memories)
            unknown = [c for c in names if c not in self._memories]
            if unknown:
                raise KeyError(f"no memory for camera(s) {unknown}; known: {sorted(self._memories)}")
            if not names:
                return MemoryRead(torch.zeros(0, self.dim, device=self.device, dtype=self.dtype), [], 0)
            return MemoryRead.concat([(c, self._read_one(c, window, include_abstract, tokens)) for c in names])

    def _read_one(self, camera: str, window, include_abstract, tokens) -> MemoryRead:
        r = self._memories[camera].read(window, include_abstract, tokens)
        table = self._perceived.get(camera)
        if table is None:
            return r
        tracks, texts = table.read(window)
        return replace(r, tracks=tracks, texts=texts)

    # --------------------------------------------------------------- snapshot
    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        with self._lock:
            tensors, cams = {}, []
            for idx, name in enumerate(sorted(self._memories)):
                t, meta = self._memories[name].state_dict()
                tensors.update({f"{idx}.{k}": v for k, v in t.items()})
                cams.append({"name": name, **meta})
                if name in self._perceived:
                    cams[-1]["perceived"] = self._perceived[name].to_dict()
            meta = {"format": self.kind.snapshot_format, "version": self.kind.snapshot_version,
                    "config": self.config.to_dict(), "dim": self.dim, "grid": list(self.grid),
                    "encoder_id": self.encoder_id, "annotation_dim": self.annotation_dim,
                    "frames_seen": self.frames_seen, "cameras": cams}
            if self.annotation_names:
                meta["annotation_names"] = list(self.annotation_names)
            return tensors, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Replace all cameras with the snapshot's; on SnapshotError nothing changes."""
        fmt = meta.get("format", self.kind.snapshot_format)
        if fmt != self.kind.snapshot_format:
            raise SnapshotError(f"the snapshot holds a {fmt} memory; this model's memory is "
                                f"{self.kind.snapshot_format}")
        names = meta.get("annotation_names")
        if self.annotation_names and names is not None and list(names) != list(self.annotation_names):
            # the same number of columns may hold other things: never read them as this layout's
            raise SnapshotError("the snapshot's annotations are laid out by other names than this encoder's "
                                "(annotations.relayout moves them)")
        try:
            cams = meta["cameras"]
            restored, perceived = {}, {}
            for idx, cam in enumerate(cams):
                m = self._new()
                prefix = f"{idx}."
                m.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, cam)
                restored[cam["name"]] = m
                if cam.get("perceived") is not None:     # snapshots before the tables have none
                    perceived[cam["name"]] = Perceived.from_dict(cam["perceived"])
        except (KeyError, TypeError) as e:
            raise SnapshotError(f"snapshot camera table is incomplete: {e}") from e
        except ValueError as e:
            raise SnapshotError(f"snapshot tracks or texts cannot be restored: {e}") from e
        with self._lock:
            self._memories, self._perceived = restored, perceived
            self.version += 1

    def save(self, path: str | os.PathLike) -> None:
        write_snapshot(path, *self.state_dict())

    def load(self, path: str | os.PathLike) -> None:
        self.load_state_dict(*read_snapshot(path))
