"""One name per thing. A thing lite recognised has one label in every answer (describe, presence,
locate, where): the vocabulary's word ("rocket" for the missile and projectile classes, "phone" for the
detector's "cell phone"), else the ImageNet class's first lemma. "What did you see" lists only what a
presence question would say Yes to: each candidate is read back through `seen`, with the same
thresholds, on the same annotation."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from vstream_ros.backends.lite.calibration import Seen, Thresholds, group_probability, refuted
from vstream_ros.backends.lite.layout import LAYOUT, Concept
from vstream_ros.backends.lite.vocabulary import BOXED, COCO_WORD, CONCEPTS, GENERIC, NARROWER_THAN_BOX, UNLISTED


class LiteRecognizer(Protocol):
    """What the naming rule reads of the recogniser (vision.LiteRecognizer), declared here so that naming
    needs no import of vision (which imports naming)."""

    t: Thresholds
    imagenet: list[str]
    lemmas: list[str]
    detector_available: bool
    _groups: dict[str, Concept]
    _grouped: set[int]

    def _word(self, word: str) -> Concept | None: ...

    def seen(self, c: Concept, ann: np.ndarray, mean: np.ndarray | None = None, frames: int = 1) -> Seen: ...


def class_name(rec: LiteRecognizer, i: int) -> str:
    """An ImageNet class's one name: the word whose group holds it, else its first lemma."""
    return getattr(rec, "_group_of", {}).get(i) or rec.lemmas[i]


def names_class(rec: LiteRecognizer, word: str, i: int) -> bool:
    """The word is one of the class's own names ("projectile" of "projectile, missile"), not only the head
    noun of one ("roof" of "thatched roof", said as asked)."""
    return word.lower() in (x.strip().lower() for x in rec.imagenet[i].split(","))


def coco_name(i: int) -> str:
    """A COCO class's one name: the vocabulary's word for it ("cell phone" -> "phone")."""
    return COCO_WORD.get(BOXED[i], BOXED[i])


def thing(rec: LiteRecognizer, name: str) -> Concept | None:
    """The concept a listed name stands for (what a presence question with that name looks for)."""
    c = rec._word(name)
    if c is None and name in rec.lemmas:
        c = Concept(name, (), (rec.lemmas.index(name),), countable=False, asked=name)
    return c


def things(rec: LiteRecognizer, ann: np.ndarray, k: int = 4) -> list[tuple[str, float, int]]:
    """What is there (name, score with 0.5 at presence, count), best first: detections, then the
    ImageNet groups and classes that pass their threshold, each kept only where `seen` agrees."""
    t, out = rec.t, {}
    boxes, probs, counts = ann[LAYOUT.coco_score], ann[LAYOUT.imagenet], ann[LAYOUT.coco_count]
    listed = max(t.detector.yes, t.listed.yes)     # a box nobody asked about is listed from its own bound
    for i, s in enumerate(boxes):
        if s >= listed and BOXED[i] not in UNLISTED:
            name = coco_name(i)
            score, n = out.get(name, (0.0, 0))
            out[name] = (max(score, t.detector.scale(float(s))), n + int(round(float(counts[i]))))
    for word, c in rec._groups.items():
        if (not any(boxes[i] >= t.detector.yes for i in c.coco) and word not in out
                and not refuted(c.coco, boxes, rec.detector_available, t.detector)):
            p = group_probability(probs, c.imagenet)
            if p >= t.classifier.yes:
                out[word] = (t.classifier.scale(p), 0)
    for i in np.argsort(-probs)[:k]:
        if probs[i] >= t.named.yes and i not in rec._grouped and rec.lemmas[i] not in out:
            out[rec.lemmas[i]] = (t.named.scale(float(probs[i])), 0)
    agreed = {}
    for name, (score, n) in out.items():
        c = thing(rec, name)
        if c is not None and rec.seen(c, ann).score >= 0.5:      # what presence would say Yes to
            agreed[name] = (score, n)
    return sorted(((n, min(1.0, s), c) for n, (s, c) in agreed.items()), key=lambda x: -x[1])[:k]


def kind(rec: LiteRecognizer, c: Concept, ann: np.ndarray) -> str:
    """What a broad word's sighting was ("vehicle": the car): the narrower word that shows best, the broad
    word itself when none does (an animal the detector and classifier disagree on), "" for other words."""
    if c.name not in GENERIC:
        return ""
    best, name = 0.5, c.name
    for word in members(c):
        s = rec.seen(rec._word(word), ann).score
        if s >= best:
            best, name = s, word
    return name


def members(c: Concept) -> list[str]:
    """The narrower words a broad concept finds: those whose COCO classes it holds."""
    held = {BOXED[i] for i in c.coco}
    words = [w for w, (coco, _) in CONCEPTS.items()
             if w not in GENERIC and w not in NARROWER_THAN_BOX and coco and set(coco) <= held
             and len(coco) == 1]
    named = set(words)
    return words + [BOXED[i] for i in c.coco if coco_name(i) not in named]

