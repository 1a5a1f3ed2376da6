"""What the lite backend sees in a frame, computed once at ingest and kept with the memory.

Per frame, one annotation vector (its layout below) made of:
- ImageNet class probabilities of EfficientNet-Lite0's classifier head, applied to the whole frame and
  to four corner windows of its 7x7 feature map (objects that fill part of the frame), max over them;
- COCO detections (NanoDet, when its weights were fetched): per class the best score, how many
  boxes, and the colour names of the best box;
- the colour names of the whole frame (colours.py: measured on pixels).

`LiteRecognizer` reads those vectors back for the answers: which words they support, how sure,
how many, what colour. Its thresholds are calibrated on the development set (bench/devset).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from vstream_ros.answering import colours
from vstream_ros.answering.vocabulary import (
    ALIASES,
    COCO_NAMES,
    CONCEPTS,
    IMAGENET_RANGES,
    PERSON_WORDS,
    SCENES,
    singular,
)

N_IMAGENET, N_COCO, N_COLOUR = 1000, len(COCO_NAMES), len(colours.NAMES)
# presence thresholds (peak over a run's frames): a COCO box score, an ImageNet group probability
COCO_PRESENT = 0.40
IMAGENET_PRESENT = 0.30
COUNT_SCORE = 0.40           # boxes counted towards "how many"
SIMILAR_ENOUGH = 0.70        # MiniLM cosine for a phrase to stand for a known class name
NAMED_ALONE = 0.50           # an ImageNet class outside the word table is listed only this sure


# parts of a person box whose colours are kept ("what colour was his shirt"): (top, bottom) in box heights
PERSON_PARTS = {"head": (0.0, 0.18), "upper": (0.2, 0.55), "lower": (0.55, 0.88), "feet": (0.88, 1.0)}
PART_WORDS = {
    "hair": "head", "hat": "head", "cap": "head", "helmet": "head", "head": "head",
    "shirt": "upper", "t-shirt": "upper", "tshirt": "upper", "top": "upper", "jacket": "upper", "coat": "upper",
    "sweater": "upper", "jumper": "upper", "hoodie": "upper", "dress": "upper", "suit": "upper", "blouse": "upper",
    "vest": "upper", "trousers": "lower", "pants": "lower", "jeans": "lower", "shorts": "lower", "skirt": "lower",
    "legs": "lower", "leggings": "lower", "shoes": "feet", "shoe": "feet", "boots": "feet", "sneakers": "feet",
    "feet": "feet", "socks": "feet",
}


class Layout:
    """Where each part sits in the annotation vector (slices, in this order)."""

    def __init__(self) -> None:
        sizes = {"imagenet": N_IMAGENET, "coco_score": N_COCO, "coco_count": N_COCO,
                 "coco_colour": N_COCO * N_COLOUR, "person_colour": len(PERSON_PARTS) * N_COLOUR,
                 "frame_colour": N_COLOUR}
        at = 0
        for name, n in sizes.items():
            setattr(self, name, slice(at, at + n))
            at += n
        self.size = at

    def names(self, imagenet: list[str]) -> tuple[str, ...]:
        return (*(f"imagenet:{n}" for n in imagenet), *(f"coco:{n}" for n in COCO_NAMES),
                *(f"count:{n}" for n in COCO_NAMES),
                *(f"colour:{n}:{c}" for n in COCO_NAMES for c in colours.NAMES),
                *(f"person_colour:{p}:{c}" for p in PERSON_PARTS for c in colours.NAMES),
                *(f"frame_colour:{c}" for c in colours.NAMES))


LAYOUT = Layout()
# windows of the 7x7 feature map the classifier also looks at: the four 4x4 corners
_WINDOWS = ((0, 4, 0, 4), (0, 4, 3, 7), (3, 7, 0, 4), (3, 7, 3, 7))


class Seer:
    """Frames (and their EfficientNet feature maps) -> annotation vectors [B, LAYOUT.size]."""

    def __init__(self, classifier: Callable[[torch.Tensor], torch.Tensor], detector=None) -> None:
        self.classifier, self.detector = classifier, detector

    @torch.inference_mode()
    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> torch.Tensor:
        B = frames.shape[0]
        out = np.zeros((B, LAYOUT.size), np.float32)
        x = features.float()                                           # [B, h, w, D]
        pooled = [x.mean((1, 2))] + [x[:, a:b, c:d].mean((1, 2)) for a, b, c, d in _WINDOWS
                                     if x.shape[1] >= b and x.shape[2] >= d]
        probs = torch.softmax(self.classifier(torch.stack(pooled, 1)), -1).amax(1)   # [B, 1000]
        out[:, LAYOUT.imagenet] = probs.cpu().numpy()
        detections = self.detector.detect(frames) if self.detector is not None else [[] for _ in range(B)]
        for b in range(B):
            out[b, LAYOUT.frame_colour] = colours.fractions(frames[b])
            colour = out[b, LAYOUT.coco_colour].reshape(N_COCO, N_COLOUR)
            for d in sorted(detections[b], key=lambda d: -d.score):
                k = COCO_NAMES.index(d.label)
                if d.score > out[b, LAYOUT.coco_score][k]:
                    out[b, LAYOUT.coco_score.start + k] = d.score
                    colour[k] = colours.fractions(frames[b], d.box, inner=0.6)
                    if d.label == "person":
                        out[b, LAYOUT.person_colour] = person_colours(frames[b], d.box).ravel()
                if d.score >= COUNT_SCORE:
                    out[b, LAYOUT.coco_count.start + k] += 1
            out[b, LAYOUT.coco_colour] = colour.ravel()
        return torch.from_numpy(out)


def person_colours(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Colour fractions of the parts of a person box: [len(PERSON_PARTS), N_COLOUR]."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    return np.stack([colours.fractions(rgb, (x0 + 0.2 * w, y0 + a * h, x1 - 0.2 * w, y0 + b * h))
                     for a, b in PERSON_PARTS.values()])


@dataclass(frozen=True)
class Concept:
    """What a word (or phrase) of a question stands for in the annotations."""

    name: str                                    # as it will be said in answers ("person", "car", "swing")
    coco: tuple[int, ...] = ()
    imagenet: tuple[int, ...] = ()
    colour: str = ""                             # "red car": only where the object is red
    person: bool = False
    part: str = ""                               # of a person: head, upper, lower, feet (clothes' colours)


@dataclass
class Seen:
    """A concept in one stretch of frames: how sure, how many, what colour."""

    score: float
    count: int = 0
    colours: list[str] = field(default_factory=list)


class LiteRecognizer:
    def __init__(self, imagenet: list[str], detector_available: bool,
                 similar: Callable[[str, list[str]], list[float]] | None = None) -> None:
        self.imagenet = imagenet
        self.lemmas = [n.split(",")[0].strip() for n in imagenet]
        self._by_lemma: dict[str, int] = {}
        for i, n in enumerate(imagenet):
            for lemma in (x.strip().lower() for x in n.split(",")):
                self._by_lemma.setdefault(lemma, i)
        for i, n in enumerate(imagenet):                       # "bench" for "park bench": the head noun
            for lemma in (x.strip().lower() for x in n.split(",")):
                if " " in lemma:
                    self._by_lemma.setdefault(lemma.rsplit(" ", 1)[1], i)
        self.detector_available = detector_available
        self.similar = similar

    # -------------------------------------------------------------- words
    def _imagenet(self, names: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self._by_lemma[n.lower()] for n in names if n.lower() in self._by_lemma)

    def concept(self, phrase: str) -> list[Concept] | None:
        """The concepts a subject phrase asks for (all must be seen together), or None when no word of it
        is something this backend can see."""
        words = [w for w in re.findall(r"[a-z][a-z-]*", phrase.lower())]
        found: list[Concept] = []
        colour, part = "", ""
        for w in words:
            if colours.canonical(w):
                colour = colours.canonical(w)
                continue
            if w.removesuffix("'s") in PART_WORDS:
                part = PART_WORDS[w.removesuffix("'s")]
                continue
            c = self._word(w)
            if c is not None and c.name not in {x.name for x in found}:
                found.append(c)
        if not found:
            whole = self._similar(phrase)
            found = [whole] if whole else []
        if not found:
            return None
        if part and not any(c.person for c in found):
            found.insert(0, self._word("person"))      # "what colour was the shirt": a person's shirt
        if colour or part:
            i = next((k for k, c in enumerate(found) if c.person), 0) if part else 0
            c = found[i]
            found[i] = Concept(c.name, c.coco, c.imagenet, colour, c.person, part if c.person else "")
        return found

    def _word(self, word: str) -> Concept | None:
        w = singular(word)
        if w in PERSON_WORDS or word in PERSON_WORDS:
            return Concept("person", (COCO_NAMES.index("person"),), (), person=True)
        w = ALIASES.get(w, w)
        if w in CONCEPTS or w in SCENES:
            coco, names = CONCEPTS.get(w) or SCENES[w]
            idx = self._imagenet(names)
            if w in IMAGENET_RANGES:
                lo, hi = IMAGENET_RANGES[w]
                idx = tuple(range(lo, hi + 1))
            return Concept(w, tuple(COCO_NAMES.index(c) for c in coco), idx)
        if w in COCO_NAMES:
            return Concept(w, (COCO_NAMES.index(w),), ())
        if w in self._by_lemma and len(w) > 2:
            return Concept(w, (), (self._by_lemma[w],))
        return None

    def _similar(self, phrase: str) -> Concept | None:
        """A phrase no table knows, matched by meaning to the nearest class name (when a text model is
        at hand), and only when it is close."""
        if self.similar is None or not phrase.strip():
            return None
        names = list(COCO_NAMES) + self.lemmas
        sims = self.similar(phrase, names)
        best = int(np.argmax(sims))
        if sims[best] < SIMILAR_ENOUGH:
            return None
        name = names[best]
        if best < N_COCO:
            return Concept(name, (best,), ())
        return Concept(name, (), (best - N_COCO,))

    def can_see(self, concepts: list[Concept]) -> bool:
        """False when the question asks for people (or COCO-only things) and no detector is loaded."""
        return all(c.imagenet or self.detector_available for c in concepts)

    # ---------------------------------------------------------- reading
    def seen(self, c: Concept, ann: np.ndarray) -> Seen:
        """How a concept shows in one annotation vector (a run's peak)."""
        score, count, cols = 0.0, 0, []
        if c.coco:
            scores = ann[LAYOUT.coco_score][list(c.coco)]
            k = int(np.argmax(scores))
            score = float(scores[k]) / COCO_PRESENT * 0.5          # 0.5 at the presence threshold
            count = int(round(float(ann[LAYOUT.coco_count][list(c.coco)].sum())))
            if scores[k] > 0:
                frac = ann[LAYOUT.coco_colour].reshape(N_COCO, N_COLOUR)[c.coco[k]]
                if c.part:
                    frac = ann[LAYOUT.person_colour].reshape(len(PERSON_PARTS), N_COLOUR)[
                        list(PERSON_PARTS).index(c.part)]
                cols = colours.dominant(frac, chromatic_first=not c.part)
        if c.imagenet:
            p = float(ann[LAYOUT.imagenet][list(c.imagenet)].sum())
            score = max(score, p / IMAGENET_PRESENT * 0.5)
        if c.colour and score >= 0.5:
            if not cols:
                cols = colours.dominant(ann[LAYOUT.frame_colour])
            if c.colour not in cols:
                score = min(score, 0.49)
        return Seen(min(score, 1.0), count, cols)

    def things(self, ann: np.ndarray, k: int = 4) -> list[tuple[str, float, int]]:
        """What is there (name, score with 0.5 at presence, count), best first: detections, then the
        ImageNet classes and groups that pass their threshold."""
        out: dict[str, tuple[float, int]] = {}
        for i, s in enumerate(ann[LAYOUT.coco_score]):
            if s >= COCO_PRESENT:
                out[COCO_NAMES[i]] = (0.5 * s / COCO_PRESENT, int(round(float(ann[LAYOUT.coco_count][i]))))
        for word in CONCEPTS:
            c = self._word(word)
            if c and c.imagenet:
                p = float(ann[LAYOUT.imagenet][list(c.imagenet)].sum())
                if p >= IMAGENET_PRESENT and word not in out:
                    out[word] = (0.5 * p / IMAGENET_PRESENT, 0)
        probs = ann[LAYOUT.imagenet]
        grouped = {i for w in CONCEPTS if (c := self._word(w)) for i in c.imagenet}
        for i in np.argsort(-probs)[:k]:
            if probs[i] >= NAMED_ALONE and i not in grouped and self.lemmas[i] not in out:
                out[self.lemmas[i]] = (0.5 * float(probs[i]) / IMAGENET_PRESENT, 0)
        return sorted(((n, s, c) for n, (s, c) in out.items()), key=lambda x: -x[1])[:k]

    def frame_colours(self, ann: np.ndarray) -> list[str]:
        return colours.dominant(ann[LAYOUT.frame_colour], k=3)
