"""How sure each source of lite's recognition must be: per-source thresholds fitted on the development
set's tuning half (bench/calibrate.py writes calibration.json beside this file, with the fit's inputs,
date and objective), and the rule that the detector overrules the classifier on COCO things.

Each source has two bounds. At or above `yes` a thing is a sighting (on the tuning half, at least 90 % of
those were right); below `no` it was not seen; in between the evidence is too weak either way and lite
says "I cannot tell", naming the source and how weak it was. Sources:

- detector: a NanoDet COCO box score;
- classifier: the ImageNet probability of a word's classes (its three likeliest together);
- named: an ImageNet class named on its own in "what did you see" (no word asked for it);
- scene: the ImageNet probability of a place's classes ("street", "kitchen");
- colour: the share of a thing's pixels that have the colour asked or named;
- clothes: the same of a person's clothes (a part of a person box: its fixed share of the box holds skin, hair
  and background too, so it is fitted apart from the things' colours);
- surface: the same of a band of the frame (a floor, the grass, the sky): states nothing until the tuning half
  holds enough such questions to fit it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from vstream_ros.answering.phrases import plural

log = logging.getLogger(__name__)

PATH = Path(__file__).with_name("calibration.json")
SOURCES = ("detector", "listed", "classifier", "named", "scene", "colour", "clothes", "surface")
COLOUR_SOURCES = ("colour", "clothes", "surface")
SAID = {"detector": "the object detector", "listed": "the object detector", "classifier": "the image classifier",
        "named": "the image classifier",
        "scene": "the image classifier", "colour": "the colour measured on its pixels",
        "clothes": "the colour measured on the clothes' pixels",
        "surface": "the colour measured on that part of the frame"}


def states_nothing(yes: float) -> bool:
    """A `yes` bound no value reaches with the certainty a sighting needs: 1, where the fit earned none."""
    return yes >= 1.0


@dataclass(frozen=True)
class Bounds:
    """One source's bounds on its raw value (a score, a probability or a share)."""

    yes: float
    no: float

    def __post_init__(self) -> None:
        if not 0.0 < self.yes <= 1.0 or not 0.0 <= self.no <= self.yes:
            raise ValueError(f"bounds need 0 <= no <= yes <= 1 and yes > 0, got yes={self.yes} no={self.no}")

    def scale(self, raw: float) -> float:
        """The raw value on the answers' scale: 0.5 at `yes` (a sighting from there up)."""
        return 0.5 * raw / self.yes

    def weak(self, raw: float) -> bool:
        """Too strong to say it was not there, too weak to say it was."""
        return self.no <= raw < self.yes and raw > 0.0

    @property
    def states_nothing(self) -> bool:
        """The fit found no value at which this source was right often enough: it never says yes, and so
        it cannot say "not that" either (a colour source that states nothing cannot say "not red")."""
        return states_nothing(self.yes)

    @property
    def silence_is_no(self) -> bool:
        """A source's silence (no trace at all) says "not there" only where the fit found a `no` bound above
        zero: a `no` of 0 means more than the allowed share of the things it gave nothing for were there
        (the fitted detector missed many things it drew no box for)."""
        return self.no > 0.0

    def against_silence(self, raw: float) -> bool:
        """Weak, yet too strong for a silent detector's "no" to stand (a COCO thing the detector drew no
        box for, at least half way to a sighting by the classifier: an espresso cup seen from above)."""
        return SILENT_DETECTOR * self.yes <= raw < self.yes


# A classifier trace of a COCO thing with no box beside it doubts the detector's "no" from this fraction of
# the classifier's fitted `yes` up (hand-set: the tuning half holds too few such items to fit it).
SILENT_DETECTOR = 0.5


# the hand-set constants used before the fit (and when calibration.json is missing)
DEFAULTS = {"detector": Bounds(0.40, 0.40), "listed": Bounds(0.40, 0.40), "classifier": Bounds(0.30, 0.30),
            "named": Bounds(0.50, 0.50), "scene": Bounds(0.30, 0.30), "colour": Bounds(0.15, 0.15),
            "clothes": Bounds(0.15, 0.15),
            "surface": Bounds(1.0, 0.0)}      # never fitted yet (too few items): states nothing


@dataclass(frozen=True)
class Thresholds:
    detector: Bounds = DEFAULTS["detector"]
    listed: Bounds = DEFAULTS["listed"]      # a box nobody asked about, listed by "what did you see"
    classifier: Bounds = DEFAULTS["classifier"]
    named: Bounds = DEFAULTS["named"]
    scene: Bounds = DEFAULTS["scene"]
    colour: Bounds = DEFAULTS["colour"]
    clothes: Bounds = DEFAULTS["clothes"]
    surface: Bounds = DEFAULTS["surface"]
    # things whose every box the detector missed while they were there, in more than the allowed share of the
    # tuning half's items (a cyclist's bicycle, a backpack, a tie): its silence says nothing of them
    silence_not_no: frozenset[str] = frozenset()
    # things whose silence the fit found a reliable "no" on enough items (dogs: none of 7 without a box was there):
    # a weak classifier trace of them does not doubt the silent detector (`Bounds.against_silence` is for the
    # things the fit has too few items of)
    silence_is_no: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path = PATH) -> Thresholds:
        """The fitted thresholds; the defaults (with a warning) when the file is missing. A file that is
        there but wrong is a ValueError that says what is wrong."""
        if not path.exists():
            log.warning("no %s: lite uses its hand-set thresholds (fit them with bench/calibrate.py)", path)
            return cls()
        try:
            data = json.loads(path.read_text())
            sources = data["sources"]
            silence = data.get("detector_silence", {})
            return cls(**{f.name: Bounds(float(sources[f.name]["yes"]), float(sources[f.name]["no"]))
                          for f in fields(cls) if f.name in sources},
                       silence_not_no=frozenset(str(n) for n in silence.get("not_no", ())),
                       silence_is_no=frozenset(str(n) for n in silence.get("is_no", ())))
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a calibration file ({e!r}); fit it again with bench/calibrate.py") from e

    def colour_of(self, source: str) -> Bounds:
        """The bounds of a colour source (COLOUR_SOURCES: a thing's, clothes', a band of the frame's)."""
        if source not in COLOUR_SOURCES:
            raise ValueError(f"{source!r} is no colour source ({', '.join(COLOUR_SOURCES)})")
        return getattr(self, source)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {f.name: {"yes": getattr(self, f.name).yes, "no": getattr(self, f.name).no} for f in fields(self)
                if isinstance(getattr(self, f.name), Bounds)}


@dataclass(frozen=True)
class Doubt:
    """Evidence of a thing too weak for a sighting and too strong for "not seen"."""

    source: str       # one of SOURCES, or "silent": no box of a thing the detector's silence says nothing of
    raw: float        # what the source gave
    need: float       # what a sighting needs
    what: str = ""    # the thing (or colour) it is about

    def said(self) -> str:
        if self.source == "silent":      # Thresholds.silence_not_no
            detector = f"the {self.what} detector" if self.what in ("hand", "face") else "the object detector"
            return (f"{detector} found no {self.what or 'such thing'}, and in calibration it missed "
                    f"{plural(self.what) if self.what else 'such things'} that were there")
        if self.source in COLOUR_SOURCES and states_nothing(self.need):    # never right often enough
            on = {"clothes": "clothes", "surface": "parts of the frame"}.get(self.source, "pixels")
            return (f"{self.raw:.0%} of its pixels were {self.what or 'one colour'}, but colours measured on {on} "
                    "were right too rarely in calibration to be stated")
        if self.source in COLOUR_SOURCES:
            return (f"only {self.raw:.0%} of its pixels were {self.what or 'that colour'} (I need "
                    f"{self.need:.0%} to say so)")
        return f"{SAID[self.source]} gave {self.what or 'it'} only {self.raw:.2f} (a sighting needs {self.need:.2f})"


def colour_withheld(measured: tuple[str, float] | None, bounds: Bounds, source: str = "colour") -> str:
    """Why a measured colour (its name, its share of the thing's pixels) is not stated; "" when its share
    reaches `bounds.yes`, the fitted bound of its `source` (one of COLOUR_SOURCES), and the source states
    anything at all (not even a colour every pixel has, where the fit earned none)."""
    if measured is None:
        return "I measured none"
    stated = measured[1] >= bounds.yes and not bounds.states_nothing
    return "" if stated else Doubt(source, measured[1], bounds.yes, measured[0]).said()


@dataclass
class Seen:
    """A concept in one stretch of frames: how sure, how many, what colour (its main colour names, and
    the palette behind them: each colour name's share of the thing's pixels summed over the frames,
    weighted by how sure each frame's box was, so that stretches can be added up)."""

    score: float
    count: int = 0
    colours: list[str] = field(default_factory=list)
    palette: dict[str, float] = field(default_factory=dict)
    doubt: Doubt | None = None          # not a sighting, but too strong a trace to say it was not there
    colour_share: float | None = None   # of the colour asked ("a red car"), where the thing was seen


def group_probability(probs: np.ndarray, classes: tuple[int, ...]) -> float:
    """A group's probability: its three likeliest classes together (the many small probabilities of a
    large group, like 118 dog breeds, would otherwise add up to a false sighting)."""
    p = probs[list(classes)]
    return float(np.sort(p)[-3:].sum())


def refuted(coco: tuple[int, ...], box_scores: np.ndarray, detector_available: bool, bounds: Bounds) -> bool:
    """The detector, which knows these COCO classes, surely saw other things in the frame and not one box
    of these, even a weak one: a classifier label for the thing (an ImageNet "kite", which is a bird, or a
    dog breed where the detector saw a person) is not a sighting. A frame where the detector found nothing
    at all does not refute the classifier (a close-up the detector cannot make out), and nor does a detector
    whose silence the fit found no reliable "no" (`Bounds.silence_is_no`: NanoDet seldom boxes a bow tie or
    a parked bicycle)."""
    if not detector_available or not coco or not bounds.silence_is_no:
        return False
    return float(box_scores.max()) >= bounds.yes and float(box_scores[list(coco)].max()) < bounds.no


def chance(group: int, classes: int = 1000) -> float:
    """What a group's probability (its three likeliest classes together) is under a uniform guess over the
    classifier's classes: a trace no stronger than that is no evidence, so it raises no doubt."""
    return min(group, 3) / classes


def doubt_of(seen: list, names: list[str]) -> Doubt | None:
    """The doubt of a run in which every concept shows, at least weakly, and one only weakly (None when a
    concept was clearly not there, or all were sightings)."""
    if any(s.score < 0.5 and s.doubt is None for s in seen):
        return None
    weak = [(s.doubt, n) for s, n in zip(seen, names, strict=True) if s.doubt is not None]
    if not weak:
        return None
    d, name = min(weak, key=lambda x: x[0].raw / max(x[0].need, 1e-6))
    return d if d.what else Doubt(d.source, d.raw, d.need, name)
