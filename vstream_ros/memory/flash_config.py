"""Sizes of the Flash Memory (Flash-VStream-Qwen), and how a frame's two feature maps travel as one tensor.

Defaults are the released model's (upstream `flash_memory_constants.py`): a context synopsis memory
(CSM) of 60 slots and a detail augmentation memory (DAM) of 30 frames, counted in temporal tokens;
upstream states them in frames (120 and 60), two frames to a Qwen2-VL temporal token offline. Its
streaming server pairs its first clip (120 frames) and tiles each frame after it into a token of its
own; so does this memory (memory/flash.py).

The field names are those of the STAR memory parts they correspond to, so a user's memory sizes mean
the same thing for both memories: the CSM is a temporal memory (weighted clusters in time order), the
DAM a retrieved memory (the key frames of the heaviest clusters); reads name them "temporal" and
"retrieved".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch


@dataclass(frozen=True)
class FlashMemoryConfig:
    temporal_slots: int = 60       # CSM: clusters of low-resolution frame maps (flash_memory_temporal_length / 2)
    retrieved_frames: int = 30     # DAM: full-resolution key frames (flash_memory_spatial_length / 2)
    synopsis_pool: int = 2         # the CSM sees each frame at 1/pool resolution (flash_memory_temporal_poolsize)
    runs_per_slot: int = 8         # stretches of adjacent frames a slot remembers (evidence spans)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        if self.retrieved_frames > self.temporal_slots:
            raise ValueError("retrieved_frames cannot exceed temporal_slots: each key frame is a slot's")

    # ------------------------------------------------------------ geometry
    def frame_maps(self, grid: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """A packed feature grid (rows, cols) -> (full-resolution map, synopsis map) sides.

        A frame arrives as one [rows, cols, D] tensor: its full map [h, w] then its synopsis map
        [h/p, w/p] flattened row-major into the h/p^2 rows below (see `pack_frame_maps`)."""
        p2 = self.synopsis_pool ** 2
        rows, cols = int(grid[0]), int(grid[1])
        h = rows * p2 // (p2 + 1)
        if rows <= 0 or cols <= 0 or rows % (p2 + 1) or h % p2 or cols % self.synopsis_pool:
            raise ValueError(f"feature grid {grid} is not a full map with its 1/{self.synopsis_pool} synopsis map "
                             f"below it (rows a multiple of {p2 + 1}, columns of {self.synopsis_pool})")
        return (h, cols), (h // self.synopsis_pool, cols // self.synopsis_pool)

    def packed_grid(self, full: tuple[int, int]) -> tuple[int, int]:
        """The packed grid of a frame whose full map is `full` (h, w)."""
        h, w = full
        return h + h // self.synopsis_pool ** 2, w

    def full_tokens(self, grid: tuple[int, int]) -> int:
        """Rows a full read of one camera yields for a packed grid: K synopsis maps + R full maps."""
        (h, w), (hs, ws) = self.frame_maps(grid)
        return self.temporal_slots * hs * ws + self.retrieved_frames * h * w

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FlashMemoryConfig:
        return cls(**data)


def pack_frame_maps(full: torch.Tensor, synopsis: torch.Tensor) -> torch.Tensor:
    """full [B, h, w, D] and synopsis [B, h/p, w/p, D] -> [B, h + h/p^2, w, D], one tensor per frame, so a
    frame encoder keeps the [B, rows, cols, D] contract while giving the memory both of its maps."""
    b, h, w, d = full.shape
    if synopsis.shape[0] != b or synopsis.shape[-1] != d or (synopsis.shape[1] * synopsis.shape[2]) % w:
        raise ValueError(f"cannot pack a synopsis map {tuple(synopsis.shape)} under a full map {tuple(full.shape)}")
    return torch.cat([full, synopsis.reshape(b, -1, w, d)], dim=1)


def unpack_frame_maps(x: torch.Tensor, config: FlashMemoryConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, rows, cols, D] -> (full [B, h, w, D], synopsis [B, h/p, w/p, D]); the inverse of pack_frame_maps."""
    (h, w), (hs, ws) = config.frame_maps(tuple(x.shape[1:3]))
    return x[:, :h], x[:, h:].reshape(x.shape[0], hs, ws, x.shape[-1])
