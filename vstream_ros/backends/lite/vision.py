"""What the lite backend sees in a frame, computed once at ingest and kept with the memory.

Per frame, one annotation vector (its layout below) made of:
- ImageNet class probabilities of EfficientNet-Lite0's classifier head, applied to the whole frame and
  to four corner windows of its 7x7 feature map (objects that fill part of the frame), max over them;
- COCO detections (NanoDet, when its weights were fetched): per class the best score, how many
  boxes, and the colour names of the best box, weighted by its score (so that over a run of frames
  the confident boxes say what colour a thing is, not one frame's doubtful box), and per class each
  colour's largest share of any one counted box (a red car among white ones);
- the colour names of the whole frame (colours.py: measured on pixels).

`LiteRecognizer` reads those vectors back for the answers: which words they support, how sure,
how many, what colour. How sure each source must be is fitted on the development set's tuning half
(calibration.py; bench/calibrate.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from vstream_ros.answering.phrases import noun_lemma
from vstream_ros.backends.lite import colours, naming
from vstream_ros.backends.lite.calibration import Bounds, Doubt, Seen, Thresholds, chance, group_probability, refuted
from vstream_ros.backends.lite.layout import (
    BANDS,
    LAYOUT,
    N_BOXED,
    N_COLOUR,
    N_IMAGENET,
    PART_WORDS,
    PERSON_PARTS,
    Concept,
)
from vstream_ros.backends.lite.vocabulary import (
    ALIASES,
    BEARERS,
    BOXED,
    CONCEPTS,
    GENERIC,
    IMAGENET_RANGES,
    MISLEADING_SYNONYMS,
    NARROWER,
    NARROWER_THAN_BOX,
    NOT_COUNTABLE,
    NOT_NOUNS,
    PERSON_KINDS,
    PERSON_WORDS,
    REGIONS,
    SCENES,
    singular,
)
from vstream_ros.perception.boxes import overlap

COUNT_SCORE = 0.40           # boxes counted towards "how many" ...
COUNT_AREA = 0.01            # ... if they cover this much of the frame (tiny boxes are mostly false ones)
SIMILAR_ENOUGH = 0.70        # MiniLM cosine for a phrase to stand for a known class name
CONTRADICTS = 0.50           # an ImageNet class this sure of another thing halves a detector box's score

# windows of the 7x7 feature map the classifier also looks at: the four 4x4 corners
_WINDOWS = ((0, 4, 0, 4), (0, 4, 3, 7), (3, 7, 0, 4), (3, 7, 3, 7))


class Seer:
    """Frames (and their EfficientNet feature maps) -> annotation vectors [B, LAYOUT.size]."""

    def __init__(self, classifier: Callable[[torch.Tensor], torch.Tensor], detector=None) -> None:
        self.classifier, self.detector = classifier, detector
        self.windows, self.colour_stride = _WINDOWS, 1          # load shedding (lite.py) may lessen both
        self.last_detections: list[list | None] = []           # the last batch's boxes, for the tracker

    @torch.inference_mode()
    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> torch.Tensor:
        B = frames.shape[0]
        out = np.zeros((B, LAYOUT.size), np.float32)
        x = features.float()                                           # [B, h, w, D]
        pooled = [x.mean((1, 2))] + [x[:, a:b, c:d].mean((1, 2)) for a, b, c, d in self.windows
                                     if x.shape[1] >= b and x.shape[2] >= d]
        probs = torch.softmax(self.classifier(torch.stack(pooled, 1)), -1).amax(1)   # [B, 1000]
        out[:, LAYOUT.imagenet] = probs.cpu().numpy()
        found = self.detector.detect(frames) if self.detector is not None else [None] * B   # None: not looked at
        detections = [distinct(d) if d is not None else [] for d in found]
        self.last_detections = [d if f is not None else None for d, f in zip(detections, found, strict=True)]
        px = frames[:, ::self.colour_stride, ::self.colour_stride]   # colours are fractions: any size will do
        for b in range(B):
            out[b, LAYOUT.frame_colour] = colours.fractions(px[b])
            out[b, LAYOUT.band_colour] = np.concatenate([colours.fractions(px[b], (0.0, top, 1.0, bottom))
                                                         for top, bottom in BANDS.values()])
            colour = out[b, LAYOUT.coco_colour].reshape(N_BOXED, N_COLOUR)
            anybox = np.zeros((N_BOXED, N_COLOUR), np.float32)
            for d in sorted(detections[b], key=lambda d: -d.score):
                k = BOXED.index(d.label)
                x0, y0, x1, y1 = d.box
                counted = d.score >= COUNT_SCORE and (x1 - x0) * (y1 - y0) >= COUNT_AREA
                best = d.score > out[b, LAYOUT.coco_score][k]
                frac = colours.fractions(px[b], d.box, inner=0.6) if best or counted else None
                if best:
                    out[b, LAYOUT.coco_score.start + k] = d.score
                    colour[k] = frac * d.score
                    if d.label == "person":
                        out[b, LAYOUT.person_colour] = person_colours(px[b], d.box).ravel() * d.score
                if counted:
                    out[b, LAYOUT.coco_count.start + k] += 1
                    np.maximum(anybox[k], frac, out=anybox[k])
            out[b, LAYOUT.coco_colour] = colour.ravel()
            out[b, LAYOUT.any_box_colour] = anybox.ravel()
        return torch.from_numpy(out)


def _colours(frac: np.ndarray, frames: int, chromatic_first: bool = True) -> tuple[list[str], dict[str, float]]:
    """The main colour names of a run's mean colour fractions (score-weighted, so not summing to 1) and
    its palette: each name's mass over the run's `frames` frames."""
    total = float(frac.sum())
    if total <= 0:
        return [], {}
    palette = {n: float(v) * frames for n, v in zip(colours.NAMES, frac, strict=True) if v > 0}
    return colours.dominant(frac / total, chromatic_first=chromatic_first), palette


# boxes of a part of another thing (a hand or a face in a person's box): measured only against boxes of their
# own class
PARTS = frozenset({"hand", "face"})


def distinct(detections: list, same: float = 0.6) -> list:
    """One box per object: a box mostly inside a more confident one is the same object (the detector's
    NMS keeps a person's upper body beside the whole person, and a cat also called a dog); a hand inside
    a person's box is a hand."""
    kept: list = []
    for d in sorted(detections, key=lambda d: -d.score):
        if all(overlap(d.box, k.box) < same for k in kept if _comparable(d, k)):
            kept.append(d)
    return kept


def _comparable(a, b) -> bool:
    return a.label == b.label or (a.label not in PARTS and b.label not in PARTS)


def person_colours(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Colour fractions of the parts of a person box: [len(PERSON_PARTS), N_COLOUR]."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    return np.stack([colours.fractions(rgb, (x0 + 0.2 * w, y0 + a * h, x1 - 0.2 * w, y0 + b * h))
                     for a, b in PERSON_PARTS.values()])


class LiteRecognizer:
    def __init__(self, imagenet: list[str], detector_available: bool,
                 similar: Callable[[str, list[str]], list[float]] | None = None,
                 thresholds: Thresholds | None = None) -> None:
        self.imagenet = imagenet
        self.t = thresholds or Thresholds.load()
        self.lemmas = [n.split(",")[0].strip() for n in imagenet]
        self._by_lemma: dict[str, int] = {}
        for i, n in enumerate(imagenet):
            for k, lemma in enumerate(x.strip().lower() for x in n.split(",")):
                if k == 0 or lemma not in MISLEADING_SYNONYMS:       # a class's own name always stands
                    self._by_lemma.setdefault(lemma, i)
        for i, n in enumerate(imagenet):                       # "bench" for "park bench": the head noun
            for lemma in (x.strip().lower() for x in n.split(",")):
                if " " in lemma and lemma.rsplit(" ", 1)[1] not in MISLEADING_SYNONYMS:
                    self._by_lemma.setdefault(lemma.rsplit(" ", 1)[1], i)
        self.detector_available = detector_available
        self.similar = similar
        # ImageNet class -> the word whose group holds it (to notice when the classifier, sure of a cat,
        # contradicts a detector box that calls it a dog)
        self._group_of: dict[int, str] = {}
        for word in CONCEPTS:
            c = self._word(word)
            if c and word not in GENERIC:
                for i in c.imagenet:
                    self._group_of.setdefault(i, word)
        self._groups = {w: c for w in CONCEPTS if (c := self._word(w)) and c.imagenet and w not in GENERIC}
        self._grouped = {i for w in CONCEPTS if w not in GENERIC and (c := self._word(w)) for i in c.imagenet}

    # -------------------------------------------------------------- words
    def _imagenet(self, names: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self._by_lemma[n.lower()] for n in names if n.lower() in self._by_lemma)

    def concept(self, phrase: str, colour: bool = False) -> list[Concept] | None:
        """The concepts a subject phrase asks for (all must be seen together), or None when no word of it
        is something this backend can see. Surfaces (the floor, the sky) are bands of the frame only when
        their `colour` is asked: a band is in every frame, so it can never be a sighting."""
        words = [w for w in re.findall(r"[a-z][a-z-]*", phrase.lower())]
        found: list[Concept] = []
        asked_colour = colour
        colour, part, asked = "", "", ""
        modifier = False
        k = 0
        while k < len(words):
            w = words[k]
            phrase2 = " ".join(words[k: k + 2])          # "bow tie", "park bench": one thing, two words
            if k + 1 < len(words) and not self._two_words(phrase2):
                phrase2 = f"{w} {noun_lemma(words[k + 1])}"     # "traffic lights", "hot dogs": in the singular
            if k + 1 < len(words) and self._two_words(phrase2):
                c = self._word(phrase2)
                k += 2
            elif colours.canonical(w):
                colour = colours.canonical(w)
                k += 1
                continue
            elif w in PART_WORDS:
                part, asked = PART_WORDS[w], w
                k += 1
                continue
            elif w in REGIONS and asked_colour:
                found.append(Concept(w, region=REGIONS[w], countable=False, asked=w))
                k += 1
                continue
            else:
                c = self._word(w)
                k += 1
            if c is not None and self._modifies_an_unknown_noun(words[k:]):
                modifier = True                          # "football goal": a goal, not a football
                continue
            if c is not None and c.name not in {x.name for x in found}:
                if colour and not part:                  # "the white roof": a colour names the next thing
                    c, colour = replace(c, colour=colour), ""
                found.append(c)
        if not found and not part and not modifier:
            whole = self._similar(phrase)
            found = [whole] if whole else []
        if part and not any(c.person for c in found):
            found.insert(0, self._word("person"))      # "what colour was the shirt": a person's shirt
        if not found:
            return None
        if colour or part:                             # "a car that was red", "the man's red shirt"
            i = next((k for k, c in enumerate(found) if c.person), 0) if part else len(found) - 1
            found[i] = replace(found[i], colour=colour or found[i].colour, part=part if found[i].person else "",
                               asked=asked or found[i].asked)
        boxed_parts = [c for c in found if c.name in PARTS]
        if boxed_parts and all(c.name in PARTS or (c.person and not c.narrower and not c.part) for c in found):
            # "anyone's face", "the person's hand": the part's own box shows it and the person; a kind of person
            # ("the woman's face") stays asked for, which a person box cannot tell
            said = " ".join(c.asked or c.name for c in found)
            found = [replace(c, asked=said) for c in boxed_parts]
        return found

    def _two_words(self, phrase: str) -> bool:
        return phrase in self._by_lemma or phrase in CONCEPTS or phrase in ALIASES or phrase in BOXED

    def _modifies_an_unknown_noun(self, rest: list[str]) -> bool:
        """The words after a known one are nouns this backend does not know, up to the end of the phrase:
        the known word is their modifier ("football goal", "bus stop"), the thing asked is unknown."""
        return bool(rest) and all(
            len(w) > 2 and w not in NOT_NOUNS and not w.endswith(("ing", "ed", "ly")) and not colours.canonical(w)
            and w not in PART_WORDS and self._word(w) is None
            and " ".join(rest[i: i + 2]) not in self._by_lemma for i, w in enumerate(rest))

    def _word(self, word: str) -> Concept | None:
        w = word if " " in word else singular(word)
        if w in NARROWER:                        # "astronaut": a person box answers, and says it is one
            return replace(self._word(NARROWER[w]), asked=word, narrower=w)
        if w in PERSON_WORDS or word in PERSON_WORDS:
            kind = noun_lemma(w)
            return Concept("person", (BOXED.index("person"),), (), person=True, asked=word,
                           narrower=kind if kind in PERSON_KINDS else "")
        w = ALIASES.get(w, w)
        if w in CONCEPTS or w in SCENES:
            coco, names = CONCEPTS.get(w) or SCENES[w]
            idx = self._imagenet(names)
            if w in IMAGENET_RANGES:
                lo, hi = IMAGENET_RANGES[w]
                idx = tuple(range(lo, hi + 1))
            return Concept(w, tuple(BOXED.index(c) for c in coco), idx, countable=w not in NOT_COUNTABLE,
                           asked=word, needs_class=w in NARROWER_THAN_BOX and bool(idx))
        lemma = (self._by_lemma[w],) if w in self._by_lemma and len(w) > 2 else ()
        if w in BOXED:
            k = BOXED.index(w)
            return Concept(naming.coco_name(k), (k,), lemma, asked=word)
        if lemma:       # one name per thing: the class's, unless the word only shares its head noun ("roof")
            said = naming.class_name(self, lemma[0]) if naming.names_class(self, w, lemma[0]) else w
            return Concept(said, (), lemma, countable=False, asked=word)
        return None

    def _similar(self, phrase: str) -> Concept | None:
        """A phrase no table knows, matched by meaning to the nearest class name (when a text model is
        at hand), and only when it is close."""
        if self.similar is None or not phrase.strip():
            return None
        names = list(BOXED) + self.lemmas
        sims = self.similar(phrase, names)
        best = int(np.argmax(sims))
        if sims[best] < SIMILAR_ENOUGH:
            return None
        name = names[best]
        if best < N_BOXED:
            return Concept(name, (best,), ())
        return Concept(name, (), (best - N_BOXED,))

    def can_see(self, concepts: list[Concept]) -> bool:
        """False when the question asks for people (or COCO-only things) and no detector is loaded."""
        return all(c.imagenet or self.detector_available for c in concepts)

    # ---------------------------------------------------------- reading
    def seen(self, c: Concept, ann: np.ndarray, mean: np.ndarray | None = None, frames: int = 1) -> Seen:
        """How a concept shows in one stretch of `frames` frames, from its annotation's peak (and its mean
        over the frames, for counts and colours: what most frames show, not one frame's false box). Below
        a sighting, `doubt` names the source whose trace was too strong to say it was not there."""
        src = ann if mean is None else mean
        if c.region:
            frac = src[LAYOUT.band_colour].reshape(len(BANDS), N_COLOUR)[list(BANDS).index(c.region)]
            return Seen(1.0, 0, *_colours(frac, frames, chromatic_first=False))
        t, count, cols, palette = self.t, 0, [], {}
        traces: list[tuple[float, str, float, Bounds]] = []          # (score, source, raw value, bounds)
        if c.coco:
            scores = ann[LAYOUT.coco_score][list(c.coco)]
            k = int(np.argmax(scores))
            traces.append((t.detector.scale(float(scores[k])) * (0.5 if self._contradicted(c, ann) else 1.0),
                           "detector", float(scores[k]), t.detector))
            counts = src[LAYOUT.coco_count][list(c.coco)]
            count = int(round(float(counts.sum()))) if c.countable else 0
            if scores[k] > 0:
                frac = src[LAYOUT.coco_colour].reshape(N_BOXED, N_COLOUR)[c.coco[k]]
                if c.part:
                    frac = src[LAYOUT.person_colour].reshape(len(PERSON_PARTS), N_COLOUR)[
                        list(PERSON_PARTS).index(c.part)]
                cols, palette = _colours(frac, frames, chromatic_first=not c.part)
        scene = c.name in SCENES      # a label the detector refutes is no sighting; a strong one still a doubt
        no = not scene and refuted(c.coco, ann[LAYOUT.coco_score], self.detector_available, t.detector)
        boxed = False          # a needs_class thing's box seen: the broader thing is there ("a car")
        if c.imagenet:
            b = t.scene if scene else t.classifier
            if c.needs_class:      # the box says where and what colour; the class says whether it is one
                boxed = bool(traces) and traces[0][0] >= 0.5 and not no
                b = Bounds(b.yes * 0.5, b.no * 0.5) if boxed else b
                traces = []
            p = group_probability(ann[LAYOUT.imagenet], c.imagenet)
            traces.append((0.0 if no else b.scale(p), "scene" if scene else "classifier", p, b))
        score = max((tr[0] for tr in traces), default=0.0)
        silent = c.coco and self.detector_available   # a weak trace must be half way to doubt a silent detector
        weak = [tr for tr in traces if tr[3].weak(tr[2]) and (tr[1] == "detector" or (
            tr[2] > chance(len(c.imagenet), N_IMAGENET) and (not silent or (
                c.name not in t.silence_is_no and tr[3].against_silence(tr[2])))))]
        doubt = None
        if score < 0.5 and weak:
            _, source, raw, b = max(weak, key=lambda tr: tr[0])
            doubt = Doubt(source, raw, b.yes)
        elif score < 0.5 and boxed:      # a car box the classifier does not call a cab: perhaps a taxi, not "no"
            _, source, raw, b = traces[-1]
            doubt = Doubt(source, raw, b.yes, c.name)
        elif (score < 0.5 and silent and c.name in t.silence_not_no and not ann[LAYOUT.coco_score][list(c.coco)].any()
              and not self._without_bearer(c, ann)):
            doubt = Doubt("silent", 0.0, t.detector.yes, c.name)     # no box, from a detector that misses these
        share = None
        if c.colour and score >= 0.5:
            if not cols:
                cols, palette = _colours(src[LAYOUT.frame_colour], frames)
            share = palette.get(c.colour, 0.0) / max(sum(palette.values()), 1e-9)
            if c.coco and not c.part:   # or one box of the kind ("a red car" beside the more confident white one)
                any_box = ann[LAYOUT.any_box_colour].reshape(N_BOXED, N_COLOUR)[list(c.coco)]
                if (one := float(any_box[:, colours.NAMES.index(c.colour)].max())) > share:
                    share, cols = one, [c.colour, *(n for n in cols if n != c.colour)]
            bounds = t.colour_of(c.colour_source)
            if c.colour not in cols or share < bounds.yes or bounds.states_nothing:
                score = min(score, 0.49)
                doubt = (Doubt(c.colour_source, share, bounds.yes, c.colour)
                         if bounds.weak(share) or bounds.states_nothing else None)
        return Seen(min(score, 1.0), count, cols, palette, doubt, share)

    def things(self, ann: np.ndarray, k: int = 4) -> list[tuple[str, float, int]]:
        """What is there (name, score with 0.5 at presence, count), best first: naming.things."""
        return naming.things(self, ann, k)

    def kind(self, c: Concept, ann: np.ndarray) -> str:
        """What a broad word's sighting was ("vehicle": the car): naming.kind."""
        return naming.kind(self, c, ann)

    def _without_bearer(self, c: Concept, ann: np.ndarray) -> bool:
        """No box at all of what the part belongs to, from a detector whose silence of it is a fitted "no"."""
        bearer = BEARERS.get(c.name)
        return (bearer is not None and bearer in self.t.silence_is_no
                and not ann[LAYOUT.coco_score.start + BOXED.index(bearer)] > 0)

    def _contradicted(self, c: Concept, ann: np.ndarray) -> bool:
        """The classifier is sure the frame shows another thing of the same kind (a cat, for a box called
        a dog) and gives this one next to nothing: the box's label is not to be trusted."""
        if not c.imagenet:
            return False
        probs = ann[LAYOUT.imagenet]
        top = int(np.argmax(probs))
        other = self._group_of.get(top)
        return (other is not None and other != c.name and probs[top] >= CONTRADICTS
                and group_probability(probs, c.imagenet) < 0.05)

    def frame_colours(self, ann: np.ndarray) -> list[str]:
        return colours.dominant(ann[LAYOUT.frame_colour], k=3)
