"""What a memory keeps besides its slots: the things a tracker followed and the text read in the scene.

Both are bounded tables per camera, filled at ingest (perception/ gives the tracks and the words), kept in
snapshots, and handed to answerers with every read, so that "how many people came in", "the second
person", "when did she leave" and "what did the sign say" answer from identities and words the memory
holds, never from a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Track:
    """One thing followed over time (a person, a car): the unit of distinct counts, ordinals, arrivals
    and departures, and the owner of its own colours."""

    id: int
    label: str                    # the detector's class name ("person", "car")
    first: float                  # stamp of its first frame, seconds
    last: float                   # stamp of its last frame, seconds
    frames: int                   # frames it was seen in
    score: float                  # its best detector score
    colours: tuple[tuple[str, float], ...] = ()   # (colour name, fraction) of its own boxes, largest first
    entered: bool = False         # first seen at the frame's border: it came in
    exited: bool = False          # last seen at the border: it left
    camera: str = ""
    first_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)   # x0, y0, x1, y1 as fractions of the
    last_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)    # frame: where it was first and last


@dataclass(frozen=True)
class TextSighting:
    """Words read in the scene (a sign, a label, a screen), with when they were on camera."""

    text: str
    first: float                  # stamp of the first frame it was read in, seconds
    last: float                   # stamp of the last frame it was read in, seconds
    score: float                  # the recogniser's confidence
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)   # x0, y0, x1, y1 as fractions of the frame
    camera: str = ""
    bearer: str = ""              # the detector's label of the box it was read inside ("person", "truck"), or ""


def named(items: tuple, camera: str) -> tuple:
    """The same records, each naming `camera` (reads of several cameras are joined)."""
    return tuple(replace(i, camera=camera) for i in items)
