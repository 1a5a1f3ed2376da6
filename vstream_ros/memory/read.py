"""What a memory read hands to an answerer: the tokens, and for each group of them the evidence."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from vstream_ros.memory.tracks import TextSighting, Track, named

KINDS = ("abstract", "temporal", "retrieved", "spatial")


@dataclass(frozen=True, eq=False)
class Run:
    """Adjacent frames of one memory slot: a stretch of time the slot really covers (no gap inside)."""

    start: float
    end: float
    frames: int
    mean: np.ndarray | None = None     # the encoder's annotation of its frames, averaged ...
    peak: np.ndarray | None = None     # ... and at its largest
    pose: np.ndarray | None = None     # x y z qx qy qz qw of the robot at its newest frame; None: not recorded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        same = lambda a, b: (a is None and b is None) or (a is not None and b is not None   # noqa: E731
                                                          and np.array_equal(a, b))
        return ((self.start, self.end, self.frames) == (other.start, other.end, other.frames)
                and same(self.mean, other.mean) and same(self.peak, other.peak) and same(self.pose, other.pose))

    __hash__ = None


@dataclass(frozen=True)
class TokenGroup:
    """A run of tokens that came from one memory slot (or one frame), with the time it covers.

    `weight` is the number of frames the slot summarises (for retrieved frames: of the slot they
    represent); an answerer may replace it with a relevance score.
    """

    kind: str
    start: float          # first stamp covered, seconds
    end: float            # last stamp covered, seconds
    stamp: float          # the group's representative time (frame-weighted mean for a temporal slot)
    weight: float
    offset: int           # first row of the group in MemoryRead.tokens
    length: int           # rows in MemoryRead.tokens
    camera: str = ""
    runs: tuple[Run, ...] = ()     # the stretches of adjacent frames it holds, in time order
    label: str = ""                # what an answer found in it ("person"); empty: the slot as a whole
    grid: tuple[int, int] | None = None   # (rows, cols) of the map its tokens form, row-major; None: not said


@dataclass
class MemoryRead:
    """A consistent read of a memory: tokens [N, D] in the order A | T (time order) | R | S."""

    tokens: torch.Tensor
    groups: list[TokenGroup] = field(default_factory=list)
    frames_seen: int = 0
    tracks: tuple[Track, ...] = ()          # things followed over time, in order of their first stamp
    texts: tuple[TextSighting, ...] = ()    # words read in the scene, in order of their first stamp

    @property
    def num_tokens(self) -> int:
        return int(self.tokens.shape[0])

    def tokens_by_kind(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for g in self.groups:
            counts[g.kind] += g.length
        return counts

    def span(self) -> tuple[float, float] | None:
        """Earliest and latest stamps the read rests on, or None for an empty read."""
        if not self.groups:
            return None
        return min(g.start for g in self.groups), max(g.end for g in self.groups)

    def group_tokens(self, group: TokenGroup) -> torch.Tensor:
        return self.tokens[group.offset: group.offset + group.length]

    @staticmethod
    def concat(reads: list[tuple[str, MemoryRead]]) -> MemoryRead:
        """Join per-camera reads in the given order, naming the camera in each group."""
        tokens, groups, offset, frames, tracks, texts = [], [], 0, 0, [], []
        for camera, r in reads:
            tokens.append(r.tokens)
            groups += [replace(g, camera=camera, offset=g.offset + offset) for g in r.groups]
            offset += r.num_tokens
            frames += r.frames_seen
            tracks += named(r.tracks, camera)
            texts += named(r.texts, camera)
        if not tokens:
            raise ValueError("nothing to concatenate")
        return MemoryRead(torch.cat(tokens), groups, frames, tuple(sorted(tracks, key=lambda t: t.first)),
                          tuple(sorted(texts, key=lambda t: t.first)))
