"""One compose call's state, passed through the handlers (the composer itself keeps none: one instance
serves the answer worker and the ~/locate callback thread at once)."""

from __future__ import annotations

from dataclasses import dataclass

from vstream_ros.answering.question import Question
from vstream_ros.backends.lite.sightings import Sighting
from vstream_ros.memory.read import MemoryRead, Run, TokenGroup


@dataclass(frozen=True)
class Call:
    """One compose call's state: the question, the runs it may use, how far apart two sightings are
    still one span, and the cameras those runs come from (named in answers only when several)."""

    q: Question
    obs: list[tuple[TokenGroup, Run]]
    gap: float
    cameras: frozenset[str]
    memory: MemoryRead | None = None     # its tracks and texts (identities over time, words in the scene)

    def cam(self, s: Sighting) -> str:
        return f" on camera {s.camera}" if len(self.cameras) > 1 else ""
