"""What the sightings index stores: one `Sighting` per memory run, and the `Hit` a query returns.

A sighting is checked when it is made (finite, ordered stamps; sane strings), so a bad record is a
clear `ValueError` at the caller, never a failed batch in the writer thread. Rows are plain dicts in
the engine's column names; `to_row` / `from_row` are the only places that know them.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

import numpy as np

SEP = " | "                   # joins labels and colours in one VARCHAR column ("|" is refused inside one)
MAX_TEXT = 1000               # characters of scene text kept per sighting
MAX_NAME = 120                # robot and camera names


@dataclass(frozen=True)
class Pose:
    """The robot's pose when the run's newest frame was taken (metres, a unit quaternion, a frame id)."""

    x: float
    y: float
    z: float = 0.0
    frame: str = "map"
    qx: float = 0.0
    qy: float = 0.0
    qz: float = 0.0
    qw: float = 1.0

    def __post_init__(self) -> None:
        vals = (self.x, self.y, self.z, self.qx, self.qy, self.qz, self.qw)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in vals):
            raise ValueError(f"pose values must be finite numbers, got {vals}")


@dataclass(frozen=True)
class Sighting:
    """One run of adjacent frames in which something was recognised, as the index keeps it."""

    labels: tuple[str, ...]
    camera: str
    robot: str
    start: float                                   # seconds (the frames' header stamps)
    end: float
    colours: tuple[str, ...] = ()
    text: str = ""
    track: int | None = None
    pose: Pose | None = None
    embedding: tuple[float, ...] | None = None     # None: the index embeds `describe()` itself
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _names(self.labels, "labels"))
        object.__setattr__(self, "colours", _names(self.colours, "colours"))
        for name in ("camera", "robot"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip() or len(v) > MAX_NAME:
                raise ValueError(f"{name} must be a non-empty string of at most {MAX_NAME} characters, got {v!r}")
        if not all(isinstance(s, int | float) and math.isfinite(s) and s >= 0 for s in (self.start, self.end)):
            raise ValueError(f"start and end must be finite stamps >= 0 s, got {self.start!r}, {self.end!r}")
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if not isinstance(self.text, str):
            raise ValueError("text must be a string")
        object.__setattr__(self, "text", self.text[:MAX_TEXT])
        if self.track is not None and (not isinstance(self.track, int) or self.track < 0):
            raise ValueError(f"track must be a non-negative int or None, got {self.track!r}")
        if not isinstance(self.id, str) or not 0 < len(self.id) <= 64:
            raise ValueError("id must be a non-empty string of at most 64 characters")
        if self.embedding is not None:
            try:
                vec = np.asarray(self.embedding, np.float64)
            except (TypeError, ValueError):
                vec = np.zeros(0)
            if vec.ndim != 1 or not vec.size or not np.isfinite(vec).all():
                raise ValueError("embedding must be a non-empty vector of finite numbers")
            object.__setattr__(self, "embedding", tuple(vec.tolist()))

    def describe(self) -> str:
        """The sentence its embedding is made from: what, which colours, what text."""
        parts = [", ".join(self.labels) or "something"]
        if self.colours:
            parts.append("colours " + ", ".join(self.colours))
        if self.text:
            parts.append(f'text "{self.text}"')
        return "; ".join(parts)


@dataclass(frozen=True)
class Hit:
    """A sighting found by a query: its similarity (1.0 for a match by label alone) and who answered."""

    sighting: Sighting
    score: float
    source: str = "index"

    def evidence_fields(self) -> dict:
        """The fields of msg/Evidence this hit fills (kind 'index': the long-term index answered)."""
        s = self.sighting
        return {"stamp": s.start, "stamp_end": s.end, "camera": s.camera, "kind": self.source,
                "label": s.labels[0] if s.labels else "", "weight": float(self.score),
                "has_pose": s.pose is not None, "pose": s.pose}


def _names(values, what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip() or "|" in v or len(v) > MAX_NAME:
            raise ValueError(f"{what} must be non-empty strings without '|', got {v!r}")
        out.append(v.strip())
    return tuple(out)


def unit(vector) -> list[float]:
    """The vector at unit length: the index compares vectors by inner product, their cosine."""
    v = np.asarray(vector, np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).tolist()


def to_row(s: Sighting, vector) -> dict:
    """The engine's row for a sighting, with its (already computed) embedding, stored at unit length."""
    pose = None
    if s.pose is not None:
        p = s.pose
        pose = {"x": p.x, "y": p.y, "z": p.z, "frame": p.frame, "qx": p.qx, "qy": p.qy, "qz": p.qz, "qw": p.qw}
    return {"id": s.id, "robot": s.robot, "camera": s.camera, "labels": SEP.join(s.labels),
            "colours": SEP.join(s.colours), "text": s.text, "track": -1 if s.track is None else s.track,
            "start": float(s.start), "end": float(s.end), "pose": pose, "vec": unit(vector)}


def from_row(row: dict) -> Sighting:
    """A sighting back from a row (the vector is left out: queries do not fetch it)."""
    p = row.get("pose")
    track = row.get("track")
    return Sighting(
        labels=tuple(x for x in row["labels"].split(SEP) if x), camera=row["camera"], robot=row["robot"],
        start=float(row["start"]), end=float(row["end"]),
        colours=tuple(x for x in row["colours"].split(SEP) if x), text=row.get("text", ""),
        track=None if track is None or track < 0 else int(track),
        pose=Pose(**p) if isinstance(p, dict) else None, id=row["id"])


OUTPUT_FIELDS = ["id", "robot", "camera", "labels", "colours", "text", "track", "start", "end", "pose"]
