"""Grounded answers: every fact of the text (a time, a span, a camera, a count, yes or no, a colour, the
option chosen) is computed here from the memory's runs and what lite recognised in them, and each
comes with the evidence it rests on. No language model states anything.

A `Recognizer` (vision.LiteRecognizer) says what a question's words stand for and how they show in a
run's annotation; the composer finds the sightings (sightings.py), merges adjacent ones and words them
(wording.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

import numpy as np

from vstream_ros.answering import timefmt
from vstream_ros.answering.phrases import past
from vstream_ros.answering.question import Intent, Question, TimeKind
from vstream_ros.answering.words import a, a_phrase
from vstream_ros.backends.lite import identities as ids
from vstream_ros.backends.lite import scene_text
from vstream_ros.backends.lite.acts import Identities, asks_existence, carried, on_sight
from vstream_ros.backends.lite.calibration import COLOUR_SOURCES, Doubt, Thresholds, doubt_of
from vstream_ros.backends.lite.call import Call
from vstream_ros.backends.lite.colour_and_choice import ColourAndChoice
from vstream_ros.backends.lite.others import Others
from vstream_ros.backends.lite.sightings import (
    SAME_SPAN,
    Composed,
    Sighting,
    kinds_said,
    merge,
    observations,
    unverified,
)
from vstream_ros.backends.lite.vision import Concept, Seen
from vstream_ros.backends.lite.vocabulary import PERSON_KINDS
from vstream_ros.backends.lite.wording import (
    concept_name,
    first_to_last,
    in_window,
    seen_together,
    span_of,
    spans,
    uncertain,
    window_words,
)
from vstream_ros.memory import MemoryRead, TokenGroup
from vstream_ros.memory.read import Run

MAX_THINGS = 6            # things named in a description, those seen longest first


# questions that say their subject was there ("when did you first see the bicycle?")
PRESUPPOSING = frozenset((Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN, Intent.WHERE, Intent.ORDINAL))


class Recognizer(Protocol):
    t: Thresholds

    def concept(self, phrase: str, colour: bool = False) -> list[Concept] | None: ...
    def can_see(self, concepts: list[Concept]) -> bool: ...
    def seen(self, concept: Concept, annotation: np.ndarray, mean: np.ndarray | None = None,
             frames: int = 1) -> Seen: ...
    def things(self, annotation: np.ndarray, k: int = 4) -> list[tuple[str, float, int]]: ...
    def kind(self, concept: Concept, annotation: np.ndarray) -> str: ...


class Composer(Identities, ColourAndChoice, Others):
    """Answers lite's questions from the memory. Holds no state of a call (one instance serves the
    answer worker and the locate callback at once): what a call needs travels in its `Call`."""

    def __init__(self, recognizer: Recognizer, limitation: str = "") -> None:
        self.rec = recognizer
        self.limitation = limitation

    # ------------------------------------------------------------ sightings
    def sightings(self, concepts: list[Concept], obs: list[tuple[TokenGroup, Run]],
                  gap: float | None) -> list[Sighting]:
        """Runs in which every concept shows (score >= 0.5 each), merged across slots (gap None: each
        run apart, for facts that belong to a moment, like a count)."""
        found = []
        for g, r in obs:
            seen = [self.rec.seen(c, r.peak, r.mean, r.frames) for c in concepts]
            if all(s.score >= 0.5 for s in seen):
                kind = self.rec.kind(concepts[0], r.peak) if len(concepts) == 1 else ""   # "vehicle": a car
                partial = r.frames > 1 and r.mean is not None and not all(
                    self.rec.seen(c, r.mean, r.mean, r.frames).score >= 0.5 for c in concepts)
                found.append(Sighting(r.start, r.end, g.camera, min(s.score for s in seen), g, r,
                                      seen[0].count, tuple(seen[0].colours), dict(seen[0].palette), kind, partial))
        return sorted(found, key=lambda s: s.start) if gap is None else merge(found, gap)

    def compose(self, q: Question, memory: MemoryRead) -> Composed:
        obs = observations(memory, q.window, q.frame_interval)
        call = Call(q, obs, SAME_SPAN * q.frame_interval, frozenset(g.camera for g, _ in obs), memory)
        if q.intent is Intent.TEXT:
            return scene_text.text_answer(q, ids.in_window(memory.texts, q))
        if q.attribute == "text" and q.value:          # "when did you first see the word EXIT?"
            return scene_text.when_read(q, ids.in_window(memory.texts, q))
        if not obs:
            return Composed("I have no annotated frames for that time and camera selection.", [], {"seen": None})
        if q.intent is Intent.WHERE and q.attribute == "place":
            return self._place(call)
        if q.besides and q.subject and q.intent is not Intent.CHOICE:
            return self._others(call)                  # "was anyone else there besides the woman?"
        handler = {
            Intent.PRESENCE: self._presence, Intent.WHEN: self._when, Intent.FIRST_SEEN: self._when,
            Intent.LAST_SEEN: self._when, Intent.WHERE: self._where, Intent.COUNT: self._count,
            Intent.ATTRIBUTE: self._attribute, Intent.CHOICE: self._choice, Intent.ORDINAL: self._ordinal,
        }.get(q.intent)
        if handler is not None and (q.subject or q.intent is Intent.CHOICE):
            return self._narrower(q, handler(call))
        return self._narrower(q, self._describe(call))

    def _narrower(self, q: Question, out: Composed) -> Composed:
        """A subject narrower than what lite can tell apart ("astronaut": a person box): the broader
        thing's sighting stands, and the answer says honestly that it cannot tell the narrower one."""
        concepts = self.rec.concept(q.subject) if q.subject and out.facts.get("seen") else None
        narrow = next((c for c in concepts or [] if c.narrower), None)
        if narrow is None or out.facts.get("abstained") or (narrow.narrower in PERSON_KINDS and not asks_existence(q)):
            return out     # "when did the man leave" presupposes the man: the person box answers it
        facts = {**out.facts, "narrower": narrow.narrower, "said": narrow.name}
        if asks_existence(q):  # "was there an adult?": the verdict first, then what was seen
            seen = re.sub(rf"\ban? {re.escape(narrow.asked)}\b", a(narrow.name),   # "a child on a swing"
                          out.text.removeprefix("Yes, ").removeprefix("I saw ").rstrip("."), count=1)
            return Composed(f"I cannot tell whether I saw {a_phrase(q.subject)}: I saw {seen}, but cannot tell "
                            f"{a(narrow.narrower)} from any other {narrow.name}.", out.evidence,
                            {**facts, "abstained": True})
        text = out.text.removeprefix("Yes, ")
        text = text[0].upper() + text[1:].rstrip(".")
        return Composed(f"{text}; I cannot tell whether it was {a(narrow.narrower)}.", out.evidence, facts)

    def _resolve(self, q: Question, phrase: str) -> tuple[list[Concept] | None, Composed | None]:
        concepts = self.rec.concept(phrase, colour=q.intent is Intent.ATTRIBUTE)
        if concepts is None:
            return None, Composed(f"I cannot tell: I do not recognise {phrase!r} in what I see. {self.limitation}",
                                  [], {"abstained": True})
        if not self.rec.can_see(concepts):
            return None, Composed(f"I cannot tell whether I saw {phrase}: the detector it needs is not "
                                  f"installed. {self.limitation}", [], {"abstained": True})
        return concepts, None

    def _name(self, concepts: list[Concept], phrase: str) -> str:
        return concept_name(concepts[0]) if len(concepts) == 1 else phrase.strip()

    def locate(self, phrase: str, memory: MemoryRead, frame_interval: float,
               window: tuple[float, float] | None = None) -> Composed:
        """Every sighting of a thing, in time order, each with its score and pose: for programs (no text
        to read, no language model). facts["error"] says why when the phrase cannot be looked for."""
        concepts = self.rec.concept(phrase)
        if concepts is None:
            return Composed("", [], {"error": f"{phrase!r} is nothing this backend recognises"})
        if not self.rec.can_see(concepts):
            return Composed("", [], {"error": f"looking for {phrase!r} needs the detector, which is not installed"})
        found = self.sightings(concepts, observations(memory, window, frame_interval), SAME_SPAN * frame_interval)
        name = self._name(concepts, phrase)
        return Composed("", [s.evidence(name) for s in found], {"found": len(found)})

    def _look(self, call: Call, prefix: str = "") -> tuple[list[Concept], list[Sighting], str] | Composed:
        """The subject's concepts, its sightings and its name; or the answer when it cannot be looked for
        or was not seen."""
        q, obs, gap = call.q, call.obs, call.gap
        concepts, refusal = self._resolve(q, q.subject)
        if refusal:
            return refusal
        found = self.sightings(concepts, obs, gap)
        if not found and (doubt := self._doubt(concepts, obs)) is not None:
            return Composed(uncertain(q.subject, doubt, in_window(q)), [], {"abstained": True, "doubt": doubt.source})
        alone = self.sightings(concepts[:1], obs, gap) if not found and len(concepts) > 1 else []
        if alone:   # "someone carrying a backpack": the person was seen, never with the rest in one run
            name = concepts[0].name
            return Composed(f"I cannot tell whether I saw {a_phrase(q.subject)}{in_window(q)}: I saw {a(name)} "
                            f"{spans(alone, q)}, but never together with the rest.", [s.evidence(name) for s in alone],
                            {"abstained": True, "seen": True})
        if not found:
            said = "anyone" if q.pronoun and q.head == "person" else a_phrase(q.subject)
            if q.intent in PRESUPPOSING and any(c.coco for c in concepts) and not self.rec.t.detector.silence_is_no:
                # "when did you first see the bicycle" says it was there; the detector's silence is no "no"
                # (its fitted `no` is 0: it drew no box for many things that were there)
                asked = "where" if q.intent is Intent.WHERE else "when"
                return Composed(f"I cannot tell {asked} I saw {said}{in_window(q)}: I have not recognised one, and "
                                "the object detector misses things that are there.", [],
                                {"abstained": True, "seen": False})
            return Composed(f"{prefix}I have not seen {said}{in_window(q)}.", [], {"seen": False})
        return concepts, found, kinds_said(found, self._name(concepts, q.subject))

    def _doubt(self, concepts: list[Concept], obs: list[tuple[TokenGroup, Run]]) -> Doubt | None:
        """The strongest trace of a thing that was not seen: evidence below a sighting but above "not
        there" (calibration.py), which makes the answer "I cannot tell" rather than "no"."""
        names = [c.name for c in concepts]
        seen = [[self.rec.seen(c, r.peak, r.mean, r.frames) for c in concepts] for _, r in obs]
        if self._colour_ruled_out(concepts, seen):
            return None
        doubts = [d for s in seen if (d := doubt_of(s, names)) is not None]
        # where the thing was seen and its colour measured, the colour is what is uncertain
        doubts = [d for d in doubts if d.source in COLOUR_SOURCES] or doubts
        return max(doubts, key=lambda d: d.raw / d.need, default=None)

    def _colour_ruled_out(self, concepts: list[Concept], seen: list[list[Seen]]) -> bool:
        """A colour asked ("a yellow car") measured under its fitted `no` on every stretch where the thing was
        seen: the fit's items of the kind are exactly these measures (bench/calibrate.py), so a weak trace of
        the thing where nothing was measured (the classifier's "car" with no box) leaves the answer "no"."""
        for i, c in enumerate(concepts):
            bounds = self.rec.t.colour_of(c.colour_source)
            shares = [s[i].colour_share for s in seen if s[i].colour_share is not None]
            if c.colour and shares and not bounds.states_nothing and max(shares) < bounds.no:
                return True
        return False

    # --------------------------------------------------------------- intents
    def _presence(self, call: Call) -> Composed:
        return self._any_of(call) if call.q.options else self._present(call)

    @on_sight(prefix="No, ")
    def _present(self, call: Call, concepts: list[Concept], found: list[Sighting], name: str) -> Composed:
        q = call.q
        if q.action in ("action", "arrive", "leave", "return") or carried(q):
            return self._did(call, concepts, found, name)
        unseen = unverified(q.subject, concepts)
        if unseen:   # "the woman's face", "anyone wearing a hat": the person is seen, the rest lite cannot see
            return Composed(f"I cannot tell whether I saw {a_phrase(q.subject)}: I saw {a(name)} {spans(found, q)}, "
                            "but cannot tell more of it than that.", [s.evidence(name) for s in found],
                            {"abstained": True, "seen": True, "unseen": unseen})
        return Composed(f"Yes, I saw {a_phrase(name)} {spans(found, q)}.",
                        [s.evidence(name) for s in found], {"seen": True})

    @on_sight()
    def _when(self, call: Call, concepts: list[Concept], found: list[Sighting], name: str) -> Composed:
        q = call.q
        if q.action == "action" or carried(q):
            return ids.unseen_action(q, name, found, first_to_last(found, q), seen_together(concepts))
        if q.action == "return":                     # "when did the man come back": his second stretch
            return ids.nth_stretch(replace(q, ordinal=2), name, found)
        first, last = found[0], found[-1]
        if q.intent is Intent.FIRST_SEEN:
            text = f"I first saw {a(name)} {span_of(first, q)}{call.cam(first)}."
            ev = [first]
        elif q.intent is Intent.LAST_SEEN:
            text = (f"I last saw {a(name)} {span_of(last, q)}{call.cam(last)} "
                    f"({'at least ' if last.partial else ''}{timefmt.ago(last.end, q.newest)}).")
            ev = [last]
        else:
            text = f"I saw {a(name)} {first_to_last(found, q)}."
            if q.attribute == "duration":           # "how long was X on camera": the union of the stretches
                total = timefmt.covered_s([(s.start, s.end) for s in found])
                held = f"for about {total:.0f} seconds in all" if total >= q.frame_interval else "only briefly"
                if any(s.partial for s in found) and total >= q.frame_interval:   # spans it filled only in part
                    held = f"for at most {total:.0f} seconds in all"
                text = f"I saw {a(name)} {held}: {first_to_last(found, q)}."
            ev = found
        return Composed(text, [s.evidence(name) for s in ev], {"seen": True, "first": first.start, "last": last.end})

    @on_sight()
    def _where(self, call: Call, concepts: list[Concept], found: list[Sighting], name: str) -> Composed:
        q = call.q
        placed = [s for s in found if s.run.pose is not None]
        last = placed[-1] if placed else found[-1]
        name = last.kind or name
        when = span_of(last, q)
        if last.run.pose is None:
            return Composed(f"I last saw {a(name)} {when}{call.cam(last)}, but no pose was recorded then, so I "
                            "cannot say where.", [last.evidence(name)], {"seen": True, "pose": None})
        x, y, z = (float(v) for v in last.run.pose[:3])
        robot = f"when the robot was at x={x:.2f} m, y={y:.2f} m"
        if last.partial:       # the pose is that of the run's newest frame, not of the sighting's moment
            robot = f"and the robot was at x={x:.2f} m, y={y:.2f} m at the end of that time"
        return Composed(f"I last saw {a(name)} {when}{call.cam(last)}, {robot}.", [last.evidence(name)],
                        {"seen": True, "pose": [x, y, z]})

    def _describe(self, call: Call) -> Composed:
        q = call.q
        if q.time is not None and q.time.event:
            return self._around_event(call)
        if q.subject:
            return self._doing(call)
        return _events_untold(q, self._list_things(call))

    def _list_things(self, call: Call, lead: str = "") -> Composed:
        q, obs, gap = call.q, call.obs, call.gap
        by_name: dict[str, list[Sighting]] = {}
        for g, r in obs:
            named = self.rec.things(r.peak)
            # what its average frame still shows was there throughout (read only where the peak named something)
            throughout = {n for n, _, _ in self.rec.things(r.mean)} if named and r.frames > 1 and r.mean is not None \
                else None
            for name, score, count in named:
                by_name.setdefault(name, []).append(Sighting(r.start, r.end, g.camera, score, g, r, count,
                                                             partial=throughout is not None and name not in throughout))
        texts = ids.in_window(call.memory.texts, q) if call.memory is not None else ()
        words = scene_text.lines(texts)
        read = scene_text.read_phrase(words, texts, q)      # words read in the scene are part of what was seen
        if not by_name:          # frames were there, but nothing in them was named: that says what cannot be told
            looked = merge([Sighting(r.start, r.end, g.camera, 0.0, g, r) for g, r in obs], gap)
            if read:
                return Composed(f"{lead}{window_words(q)}I read {read}; nothing else in view was named with the "
                                "confidence a sighting needs.", [s.evidence("") for s in looked],
                                {"things": [], "texts": words})
            when = window_words(q)[:-2]
            when = f" {when[0].lower()}{when[1:]}" if when else in_window(q)
            return Composed(f"{lead}I cannot tell what I saw{when}: nothing in view was named with the confidence a "
                            "sighting needs.", [s.evidence("") for s in looked], {"things": [], "abstained": True})
        merged = {n: merge(s, gap) for n, s in by_name.items()}
        ranked = sorted(merged, key=lambda n: (-sum(s.end - s.start + q.frame_interval for s in merged[n]),
                                               -max(s.score for s in merged[n])))[:MAX_THINGS]
        parts = [f"{a(n)} ({spans(merged[n], q, short=True)})" for n in ranked]
        when = window_words(q)
        text = f"{lead}{when}I saw " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
        text += f", and read {read}" if read else ""
        ev = [s.evidence(n) for n in ranked for s in merged[n]]
        return Composed(text + ".", sorted(ev, key=lambda g: g.start),
                        {"things": ranked, **({"texts": words} if texts else {})})

    def _around_event(self, call: Call) -> Composed:
        q, obs, gap = call.q, call.obs, call.gap
        event = q.time.event
        concepts = self.rec.concept(event)
        if concepts is None or not self.rec.can_see(concepts):
            return Composed(f"I cannot tell when {event}: I do not recognise it. {self.limitation}", [],
                            {"abstained": True})
        found = self.sightings(concepts, obs, gap)
        if not found:
            return Composed(f"I have not seen {event}, so I cannot say what came "
                            f"{'before' if q.time.kind is TimeKind.BEFORE else 'after'}.", [], {"seen": False})
        if q.time.kind is TimeKind.BEFORE:
            t = found[0].start
            rest = [(g, r) for g, r in obs if r.end < t]
            lead = f"Before {event} ({timefmt.since(t, q.origin)}), "
        else:
            t = found[-1].end
            rest = [(g, r) for g, r in obs if r.start > t]
            lead = f"After {event} ({timefmt.since(t, q.origin)}), "
        if not rest:
            return Composed(f"{lead}I saw nothing more.", [found[0].evidence(event)], {"things": []})
        return _events_untold(q, self._list_things(replace(call, q=replace(q, time=None), obs=rest), lead=lead))


def _events_untold(q: Question, listed: Composed) -> Composed:
    """'What happened (after the car left)?': lite sees things, not what they did, so it says that first; the
    things it listed stay, as evidence of what it can tell. A yes/no about no thing ("did we stop?") is
    answered the same way: a list of what was seen is no yes and no no."""
    if listed.facts.get("abstained"):
        return listed
    if q.yes_no:
        lead = f"whether {q.ego} {past(q.predicate)} {q.complement}".rstrip() if q.ego and q.predicate else "that"
        return Composed(f"I cannot tell {lead}: this backend tells only what was in view. {listed.text}",
                        listed.evidence, {**listed.facts, "abstained": True})
    if q.attribute != "events":
        return listed
    return Composed(f"I cannot tell what happened: this backend does not recognise actions. {listed.text}",
                    listed.evidence, {**listed.facts, "abstained": True, "events": False})
