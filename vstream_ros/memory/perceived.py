"""One camera's bounded tables of what perception followed at ingest: tracks (by id) and text (by words).

Why tables beside the slots, not inside them: a track lives longer than a frame and changes after it
was first written (its last stamp, its frames, its colours), so the memory keeps each track's newest
record, not a copy per frame; and text read twice is one sighting with a longer span. Both tables are
bounded (the entries seen longest ago leave first), saved as JSON in the snapshot's camera entry
(`perceived`, with its own version: snapshots without it load with empty tables) and cleared with
the camera. Plain data: no model, no tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, replace

from vstream_ros.memory.tracks import TextSighting, Track

VERSION = 1
MAX_TRACKS = 256
MAX_TEXTS = 256


class Perceived:
    """Tracks and texts of one camera, each table at most `max_*` entries."""

    def __init__(self, max_tracks: int = MAX_TRACKS, max_texts: int = MAX_TEXTS) -> None:
        if max_tracks < 1 or max_texts < 1:
            raise ValueError("max_tracks and max_texts must be at least 1")
        self.max_tracks, self.max_texts = int(max_tracks), int(max_texts)
        self.tracks: dict[int, Track] = {}
        self.texts: dict[str, TextSighting] = {}

    def add(self, tracks: Iterable[Track] = (), texts: Iterable[TextSighting] = (),
            since: float | None = None) -> None:
        """Take the newest records of tracks and new readings of text. `since` (the camera memory's first
        stamp): a track that began before the memory did (the memory was reset under a live track) is
        said to begin then, so the table never claims time the memory does not hold."""
        for t in tracks:
            t = replace(t, id=int(t.id), first=float(t.first), last=float(t.last), frames=int(t.frames),
                        score=float(t.score), colours=tuple((str(n), float(f)) for n, f in t.colours),
                        entered=bool(t.entered), exited=bool(t.exited),          # plain numbers: JSON-safe
                        first_box=_box(t.first_box), last_box=_box(t.last_box))
            _check(t.first, t.last, f"track {t.id}")
            if since is not None and t.last < since:
                continue                             # all of it before the memory began
            if since is not None and t.first < since:
                t = replace(t, first=min(since, t.last))
            self.tracks[t.id] = replace(t, camera="")
        for s in texts:
            s = replace(s, text=str(s.text), first=float(s.first), last=float(s.last), score=float(s.score),
                        box=tuple(float(v) for v in s.box), bearer=str(s.bearer))
            _check(s.first, s.last, f"text {s.text!r}")
            text = s.text.strip()
            if not text:
                continue
            key = text.casefold()
            old = self.texts.get(key)
            if old is not None:
                s = replace(s, first=min(old.first, s.first), last=max(old.last, s.last), score=max(old.score, s.score),
                            box=s.box if s.last >= old.last else old.box, bearer=s.bearer or old.bearer)
            self.texts[key] = replace(s, text=text, camera="")
        _bound(self.tracks, self.max_tracks)
        _bound(self.texts, self.max_texts)

    def read(self, window: tuple[float, float] | None = None) -> tuple[tuple[Track, ...], tuple[TextSighting, ...]]:
        """Tracks and texts whose span meets the window (all without one), each in order of first stamp."""
        lo, hi = (-math.inf, math.inf) if window is None else (float(window[0]), float(window[1]))
        meets = lambda x: x.last >= lo and x.first <= hi   # noqa: E731
        key = lambda x: (x.first, x.last)                  # noqa: E731
        return (tuple(sorted(filter(meets, self.tracks.values()), key=key)),
                tuple(sorted(filter(meets, self.texts.values()), key=key)))

    def __len__(self) -> int:
        return len(self.tracks) + len(self.texts)

    # --------------------------------------------------------------- snapshot
    def to_dict(self) -> dict:
        return {"version": VERSION, "tracks": [_plain(t) for t in self.tracks.values()],
                "texts": [_plain(s) for s in self.texts.values()]}

    @classmethod
    def from_dict(cls, data: dict | None, max_tracks: int = MAX_TRACKS, max_texts: int = MAX_TEXTS) -> Perceived:
        """The tables a snapshot kept; None (a snapshot written before they existed): empty tables.
        ValueError for a table of another version or with broken entries."""
        p = cls(max_tracks, max_texts)
        if data is None:
            return p
        if data.get("version") != VERSION:
            raise ValueError(f"perceived tables of version {data.get('version')}; this build reads {VERSION}")
        try:
            tracks = [Track(**{**t, "colours": tuple((str(n), float(f)) for n, f in t.get("colours", ())),
                               **{k: tuple(t[k]) for k in ("first_box", "last_box") if k in t}})
                      for t in data.get("tracks", [])]
            texts = [TextSighting(**{**s, "box": tuple(float(v) for v in s.get("box", (0, 0, 0, 0)))})
                     for s in data.get("texts", [])]
        except TypeError as e:
            raise ValueError(f"perceived tables are broken: {e}") from e
        p.add(tracks, texts)
        return p


def _box(b) -> tuple[float, float, float, float]:
    box = tuple(float(v) for v in b)
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise ValueError(f"a box is four finite fractions (x0, y0, x1, y1), got {b}")
    return box


def _check(first: float, last: float, what: str) -> None:
    if not (math.isfinite(first) and math.isfinite(last) and first <= last):
        raise ValueError(f"{what}: first and last must be finite stamps with first <= last, got {first}, {last}")


def _bound(table: dict, limit: int) -> None:
    """Drop the entries seen longest ago until `limit` remain."""
    if len(table) > limit:
        for key in sorted(table, key=lambda k: table[k].last)[: len(table) - limit]:
            del table[key]


def _plain(record) -> dict:
    d = asdict(record)
    d.pop("camera", None)            # the camera entry of the snapshot names it
    return d
