"""Sightings: the memory's annotated runs, cut to the time asked about, and the spans of adjacent
frames in which lite recognised a thing (merged across memory slots)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from vstream_ros.answering.phrases import PARTICLES, PREPOSITIONS
from vstream_ros.backends.lite import colours
from vstream_ros.backends.lite.vision import Concept
from vstream_ros.memory import MemoryRead, TokenGroup
from vstream_ros.memory.read import Run

# sightings this many frame intervals apart are one span: adjacent frames, or one frame between them in
# which the thing was not recognised (a recogniser misses now and then; a camera that looked away for
# longer, or frames the memory does not hold, keep the spans apart)
SAME_SPAN = 2.5

@dataclass
class Sighting:
    """A span of adjacent frames of one camera in which something was seen."""

    start: float
    end: float
    camera: str
    score: float
    group: TokenGroup
    run: Run
    count: int = 0
    colours: tuple[str, ...] = ()
    palette: dict[str, float] = field(default_factory=dict)   # colour name -> mass over the frames
    kind: str = ""            # what a broad word's sighting was ("vehicle": "car"): its label
    partial: bool = False     # a run of several frames whose average frame does not show it: it was there
    #                           at some time in the span, not the whole time (a merged slot of a long stream)

    def evidence(self, label: str) -> TokenGroup:
        label = self.kind or label
        run = replace(self.run, start=self.start, end=self.end)
        return replace(self.group, start=self.start, end=self.end, stamp=self.end, weight=round(self.score, 3),
                       camera=self.camera, runs=(run,), label=label)


@dataclass
class Composed:
    text: str
    evidence: list[TokenGroup]
    facts: dict


def observations(memory: MemoryRead, window: tuple[float, float] | None = None,
                 interval: float = 1.0) -> list[tuple[TokenGroup, Run]]:
    """Every run of the read that carries an annotation (temporal slots and spatial frames; key frames
    repeat their slot's runs), cut to the window at the frames nearest inside it (a run's frames are
    `interval` apart): nothing is claimed outside the time asked about."""
    lo, hi = window or (-math.inf, math.inf)
    out = []
    for g in memory.groups:
        if g.kind not in ("temporal", "spatial"):
            continue
        for r in g.runs:
            if r.peak is None or r.end < lo or r.start > hi:
                continue
            start = r.start if r.start >= lo else min(r.end, r.start + math.ceil((lo - r.start) / interval) * interval)
            end = r.end if r.end <= hi else max(start, r.end - math.ceil((r.end - hi) / interval) * interval)
            out.append((g, replace(r, start=start, end=end)))
    return out


def merge(sightings: list[Sighting], gap: float) -> list[Sighting]:
    """Adjacent or overlapping sightings of a camera as one (runs of different slots meet here)."""
    out: list[Sighting] = []
    for s in sorted(sightings, key=lambda s: (s.camera, s.start, s.end)):
        last = out[-1] if out and out[-1].camera == s.camera else None
        if last is not None and s.start - last.end <= gap:
            if s.end >= last.end:     # the newest run's group and pose: where the thing was last seen
                last.group, last.run = s.group, s.run
            last.end = max(last.end, s.end)
            last.score = max(last.score, s.score)
            last.count = max(last.count, s.count)
            last.colours = last.colours or s.colours
            last.kind = last.kind or s.kind
            last.partial = last.partial or s.partial
            last.palette = {c: last.palette.get(c, 0.0) + s.palette.get(c, 0.0) for c in {*last.palette, *s.palette}}
        else:
            out.append(replace(s, palette=dict(s.palette)))
    return sorted(out, key=lambda s: (s.start, s.camera))


_FUNCTION_WORDS = frozenset(("a", "an", "the", "of", "on", "in", "at", "to", "with", "and", "or", "some", "his",
                             "her", "their", "its", "is", "was", "are", "were", "up", "by", "from", "for", "it",
                             *PREPOSITIONS, *PARTICLES))    # "under the camera": the camera is no restriction


def kinds_said(found: list[Sighting], name: str) -> str:
    """A broad word's sightings named by what they were ("car", "car and a bus"), else the word."""
    kinds = [k for k in dict.fromkeys(s.kind for s in found if s.kind) if k != name]
    if not kinds:
        return name
    return kinds[0] if len(kinds) == 1 else ", a ".join(kinds[:-1]) + " and a " + kinds[-1]


def coverage(phrase: str, concepts: list[Concept]) -> float:
    """The share of a phrase's content words that its concepts account for."""
    words = _content_words(phrase)
    if not words:
        return 1.0
    asked = " ".join(c.asked or c.name for c in concepts).lower()
    return sum(1 for w in words if w in asked or w.rstrip("s") in asked) / len(words)


def unverified(phrase: str, concepts: list[Concept]) -> list[str]:
    """The words of a phrase that no sighting of its concepts can confirm: words no concept accounts for
    ("face" in "the woman's face"), and things lite only measures the colour of as a part of a person or a
    band of the frame ("hat" in "anyone wearing a hat"): a person box does not show that a hat was there."""
    confirmed = " ".join(w for c in concepts if not (c.part or c.region)
                         for w in (c.asked, c.name, c.colour) if w).lower()
    return [w for w in _content_words(phrase) if w not in _RELATIONS and len(w) > 1 and w not in confirmed
            and w.rstrip("s") not in confirmed]


def _content_words(phrase: str) -> list[str]:
    """The words of a phrase but its articles, prepositions and pronouns."""
    return [w for w in re.findall(r"[a-z]+", phrase.lower()) if w not in _FUNCTION_WORDS]


# words that relate the things of a phrase, or place it anywhere, and name nothing themselves
_RELATIONS = frozenset(("wearing", "holding", "carrying", "having", "anywhere", "somewhere", "everywhere", "ever",
                        "there", "here", "footage", "video", "camera", "room", "scene", "picture", "view", "area"))


# the most at once is what this many sampled frames showed at least: one frame's extra box is as often a false
# one (the walkway's fifth person at 3 s, where four walked: one of them boxed twice) as a thing seen once, and a
# tracker confirms a track only after some hits for the same reason (SORT's min_hits)
CONFIRM_FRAMES = 2


class AtOnce(NamedTuple):
    """The most at once that CONFIRM_FRAMES frames showed (`most`), and more than that in fewer frames: the
    first sighting of the most any frame showed (`spike`, None when no frame showed more) and how many frames
    showed it (`spike_frames`: fewer than CONFIRM_FRAMES)."""

    most: Sighting | None
    spike: Sighting | None
    spike_frames: int


def most_at_once(found: list[Sighting]) -> AtOnce:
    """The first sighting of the most at once that CONFIRM_FRAMES frames showed (the whole count where fewer
    frames were seen at all), and the sighting of more that fewer frames showed (AtOnce)."""
    if not found:
        return AtOnce(None, None, 0)
    top = max(found, key=lambda s: (s.count, -s.start))
    counts = sorted((s.count for s in found for _ in range(max(1, s.run.frames))), reverse=True)
    n = counts[min(CONFIRM_FRAMES, len(counts)) - 1]
    best = min((s for s in found if s.count >= n), key=lambda s: (s.count, s.start))
    if top.count <= best.count:
        return AtOnce(best, None, 0)
    return AtOnce(best, top, sum(1 for c in counts if c >= top.count))


def palette_colour(palettes: Iterable[dict[str, float]], chromatic_first: bool) -> tuple[str, float] | None:
    """The colour named for palettes added up (each a colour's mass over the frames of a stretch: every frame
    counts, as sure as its box was) and its share of them; None when they hold no pixel. The answer's colour and
    the calibration's colour items (bench/calibrate.py) are both this."""
    total: dict[str, float] = {}
    for palette in palettes:
        for c, v in palette.items():
            total[c] = total.get(c, 0.0) + v
    if sum(total.values()) <= 0:
        return None
    frac = np.array([total.get(n, 0.0) for n in colours.NAMES], np.float32)
    return colours.main_colour(frac / frac.sum(), chromatic_first)


def measured_colour(found: list[Sighting], chromatic_first: bool) -> tuple[str, float] | None:
    """The colour of what the sightings show and its share of their pixels (palette_colour), named as one
    frame's colours are; without palettes, a vote of their colour names (share: the winner's part of the
    votes)."""
    if (named := palette_colour((s.palette for s in found), chromatic_first)) is not None:
        return named
    votes: dict[str, float] = {}
    for s in found:
        for rank, c in enumerate(s.colours):
            votes[c] = votes.get(c, 0.0) + s.score * (s.end - s.start + 1.0) / (rank + 1)
    if not votes:
        return None
    name = max(votes, key=votes.get)
    return name, votes[name] / sum(votes.values())
