"""Sizes of the STAR memory. Defaults are those of the released Flash-VStream-7b checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# How the retrieved memory R picks its key frames: the representatives of the heaviest slots (ours), or
# upstream's code as it runs (vstream_arch.py L261-268), for fidelity runs: see STARMemory.read.
RETRIEVALS = ("heaviest", "cluster_id")


@dataclass(frozen=True)
class MemoryConfig:
    """Capacity of each memory part, in frames (or slots) and pooled map side.

    Map sides are upper bounds: an encoder with a smaller patch grid (EfficientNet-Lite0's 7x7)
    gets maps of its own size, pooled adaptively, so one config serves every encoder.
    The abstract memory is always 1x1 per slot, as in the released model.
    """

    spatial_frames: int = 1          # N_S: newest frames kept whole (FIFO)
    spatial_size: int = 8            # s: side of spatial and retrieved maps
    temporal_slots: int = 25         # K: clusters of the temporal memory
    temporal_size: int = 4           # t: side of a temporal slot's map
    abstract_slots: int = 25         # N_A: slots of the abstract memory
    abstract_update_ratio: float = 0.2  # alpha of A <- (1-alpha) A + alpha softmax(q(A) k(E)^T / sqrt(h)) E
    abstract_hidden: int = 32        # h: width of the model's q/k projections (checked when they are set)
    retrieved_frames: int = 3        # N_R: key frames, the representatives of the heaviest slots
    runs_per_slot: int = 8           # stretches of adjacent frames a temporal slot remembers (evidence spans)
    retrieval: str = "heaviest"      # how R picks its key frames (RETRIEVALS)

    def __post_init__(self) -> None:
        if self.retrieval not in RETRIEVALS:
            raise ValueError(f"retrieval must be one of {', '.join(RETRIEVALS)}, got {self.retrieval!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "retrieval":
                continue
            if f.name == "abstract_update_ratio":
                if not 0.0 < value <= 1.0:
                    raise ValueError(f"abstract_update_ratio must be in (0, 1], got {value}")
            elif not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        if self.retrieved_frames > self.temporal_slots:
            raise ValueError("retrieved_frames cannot exceed temporal_slots: each key frame is a slot's")

    def map_sizes(self, grid: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """(spatial map, temporal map) sides for an encoder patch grid (h, w)."""
        h, w = grid
        spatial = (min(self.spatial_size, h), min(self.spatial_size, w))
        temporal = (min(self.temporal_size, spatial[0]), min(self.temporal_size, spatial[1]))
        return spatial, temporal

    def full_tokens(self, grid: tuple[int, int]) -> int:
        """Tokens one camera's memory yields once full: A + T + R + S (681 for CLIP at the defaults)."""
        (sh, sw), (th, tw) = self.map_sizes(grid)
        return (self.abstract_slots + self.temporal_slots * th * tw
                + (self.retrieved_frames + self.spatial_frames) * sh * sw)

    def to_dict(self) -> dict:
        """The config as snapshots name it; `retrieval` only when not the default, so that the default
        memory's snapshots are those written before the setting existed (and load both ways)."""
        d = asdict(self)
        if d["retrieval"] == RETRIEVALS[0]:
            del d["retrieval"]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> MemoryConfig:
        return cls(**data)
