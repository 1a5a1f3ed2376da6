"""One STAR memory per camera, read together with each group naming its camera."""

from __future__ import annotations

import os

import torch

from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.read import MemoryRead
from vstream_ros.memory.snapshot import SnapshotError, read_snapshot, write_snapshot
from vstream_ros.memory.star import Stamps, STARMemory


class MultiCameraMemory:
    """Memories keyed by camera name, created on a camera's first frame.

    A read concatenates the selected cameras in the order asked for (all cameras: sorted by name),
    each as A | T | R | S, so the token layout is stable from one question to the next.
    """

    def __init__(
        self,
        config: MemoryConfig,
        dim: int,
        grid: tuple[int, int],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        encoder_id: str = "",
    ) -> None:
        self.config, self.dim, self.grid = config, dim, (int(grid[0]), int(grid[1]))
        self.device, self.dtype, self.encoder_id = torch.device(device), dtype, encoder_id
        self.memories: dict[str, STARMemory] = {}
        self._projections: tuple = (None, None)

    def _new(self) -> STARMemory:
        m = STARMemory(self.config, self.dim, self.grid, self.device, self.dtype, self.encoder_id)
        m.set_abstract_projections(*self._projections)
        return m

    def camera(self, name: str) -> STARMemory:
        if name not in self.memories:
            self.memories[name] = self._new()
        return self.memories[name]

    @property
    def cameras(self) -> list[str]:
        return sorted(self.memories)

    @property
    def frames_seen(self) -> int:
        return sum(m.frames_seen for m in self.memories.values())

    def set_abstract_projections(self, q, k) -> None:
        self._projections = (q, k)
        for m in self.memories.values():
            m.set_abstract_projections(q, k)

    def update(self, camera: str, features: torch.Tensor, stamps: Stamps) -> None:
        self.camera(camera).update(features, stamps)

    def reset(self, camera: str | None = None) -> None:
        for name, m in self.memories.items():
            if camera is None or name == camera:
                m.reset()

    def read(
        self,
        cameras: list[str] | None = None,
        window: tuple[float, float] | None = None,
        include_abstract: bool | None = None,
    ) -> MemoryRead:
        """Read the named cameras (empty or None: all). Unknown names raise KeyError."""
        names = list(cameras) if cameras else self.cameras
        unknown = [c for c in names if c not in self.memories]
        if unknown:
            raise KeyError(f"no memory for camera(s) {unknown}; known: {self.cameras}")
        if not names:
            return MemoryRead(torch.zeros(0, self.dim, device=self.device, dtype=self.dtype), [], 0)
        return MemoryRead.concat([(c, self.memories[c].read(window, include_abstract)) for c in names])

    def nbytes(self) -> dict[str, int]:
        total = {"device": 0, "host": 0}
        for m in self.memories.values():
            for k, v in m.nbytes().items():
                total[k] += v
        return total

    # --------------------------------------------------------------- snapshot
    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors, cams = {}, []
        for idx, name in enumerate(self.cameras):
            t, meta = self.memories[name].state_dict()
            tensors.update({f"{idx}.{k}": v for k, v in t.items()})
            cams.append({"name": name, **meta})
        meta = {"config": self.config.to_dict(), "dim": self.dim, "grid": list(self.grid),
                "encoder_id": self.encoder_id, "frames_seen": self.frames_seen, "cameras": cams}
        return tensors, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Replace all cameras with the snapshot's; on SnapshotError nothing changes."""
        try:
            cams = meta["cameras"]
            restored = {}
            for idx, cam in enumerate(cams):
                m = self._new()
                prefix = f"{idx}."
                m.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, cam)
                restored[cam["name"]] = m
        except (KeyError, TypeError) as e:
            raise SnapshotError(f"snapshot camera table is incomplete: {e}") from e
        self.memories = restored

    def save(self, path: str | os.PathLike) -> None:
        write_snapshot(path, *self.state_dict())

    def load(self, path: str | os.PathLike) -> None:
        self.load_state_dict(*read_snapshot(path))
