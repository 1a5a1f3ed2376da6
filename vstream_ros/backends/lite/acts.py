"""The composer's handlers for what a thing did and which one it was: arrivals, departures, returns and
actions (a predicate apart from the subject), ordinals, distinct counts and the place ("where was
this?"). A mixin of `compose.Composer`: it uses the composer's recogniser and sightings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vstream_ros.answering import timefmt
from vstream_ros.answering.phrases import (
    BARE_ADVERBS,
    DESCRIBING,
    PARTICLES,
    PREPOSITIONS,
    can_be_verb,
    past,
    plural,
    predicate_kind,
    verb_lemma,
)
from vstream_ros.answering.question import Intent, Question
from vstream_ros.answering.words import a, a_phrase, listed, the_complement
from vstream_ros.backends.lite import directions
from vstream_ros.backends.lite import identities as ids
from vstream_ros.backends.lite.call import Call
from vstream_ros.backends.lite.sightings import Composed, Sighting, merge, most_at_once, unverified
from vstream_ros.backends.lite.vision import LAYOUT
from vstream_ros.backends.lite.vocabulary import SCENES
from vstream_ros.backends.lite.wording import few_frames, first_to_last, in_window, seen_together, spans

if TYPE_CHECKING:
    from vstream_ros.backends.lite.vision import Concept


Seen = Callable[[Any, Call, list["Concept"], list[Sighting], str], Composed]


def on_sight(prefix: str = "") -> Callable[[Seen], Callable[[Any, Call], Composed]]:
    """A handler that answers about a subject seen: it gets (call, concepts, sightings, name) from the
    composer's `_look`; when the subject cannot be looked for or was not seen, `_look`'s answer stands
    (`prefix` leads a "not seen", as "No, " to a yes/no)."""
    def wrap(handler: Seen) -> Callable[[Any, Call], Composed]:
        @functools.wraps(handler)
        def run(self: Any, call: Call) -> Composed:
            looked = self._look(call, prefix)
            return looked if isinstance(looked, Composed) else handler(self, call, *looked)
        return run
    return wrap


def carried(q: Question) -> bool:
    """'someone carrying a box': a relation of two things nothing in memory shows."""
    return any(m.startswith(("carrying ", "holding ")) for m in q.modifiers)


def _past(q: Question) -> str:
    return f" {past(q.predicate)}" if q.predicate else ""


def restriction(q: Question, concepts: list[Concept], counted: Concept) -> str:
    """What narrows a counted subject beyond the thing counted, as 'which ...' ends: 'went by in the
    right-hand lane', 'walked past the bicycle', 'were wearing hats' (tracks and counts are of the
    counted thing alone); "" when nothing does ("box trucks" are trucks, "people in the room" people)."""
    if q.complement and unverified(q.complement, concepts):
        return f"{past(q.predicate) if q.predicate else 'were'} {the_complement(q.complement)}"
    after = [m for m in q.modifiers if m.split(" ")[0] in PREPOSITIONS or m.split(" ")[0] in DESCRIBING]
    narrowing = [m for m in after if unverified(m, [counted])]     # not "box" of "box trucks": a kind of truck
    if narrowing:
        return f"were {' and '.join(the_complement(m) for m in narrowing)}"
    return " and ".join(_clause(m) for m in q.modifiers if _did(m))   # a relative clause: "the car that overtook us"


def one_of_several(q: Question, concepts: list[Concept], target: Concept, counts: Iterable[int]) -> str:
    """What narrows the thing a colour is asked of ("the car in the left lane") where lite cannot see it and more
    than one of its kind was in view at once (`counts`: how many at once, per stretch where it was seen): the
    boxes' colours are of any of them, so the answer names none, and the fit (bench/calibrate.py) asks nothing
    of it; "" otherwise."""
    narrowed = restriction(replace(q, complement=""), concepts, target)
    return narrowed if narrowed and max(counts, default=0) > 1 else ""


def _clause(modifier: str) -> str:
    """A relative clause worded: 'pushed swing' -> 'pushed the swing'; 'turned left', 'overtook us' stay."""
    verb, _, rest = modifier.partition(" ")
    if not rest or rest.split()[0] in PARTICLES | BARE_ADVERBS:
        return modifier
    return f"{verb} {the_complement(rest)}"


def _did(modifier: str) -> bool:
    """A modifier that is a relative clause about something done that lite cannot see ("overtook us",
    "parked"), not one that is only being in view ("passed the camera", "came by")."""
    verb, *rest = modifier.split(" ")
    if verb in PREPOSITIONS or verb in DESCRIBING or not can_be_verb(verb) or verb_lemma(verb) == verb:
        return False                       # a bare lemma ("park" of "car park") is a noun here, not a clause
    return "seen" not in (predicate_kind(" ".join([verb_lemma(verb), *rest[:1]])), predicate_kind(verb_lemma(verb)))


def asks_existence(q: Question) -> bool:
    """'was there a man?', not 'did the man leave?' (which presupposes him)."""
    return q.intent is Intent.PRESENCE and q.action in ("", "seen") and not carried(q)


class Identities:
    """Handlers that read the memory's tracks (identities over time) besides its runs, and the answer
    about several things at once."""

    def _tracks(self, call: Call, concept: Concept) -> tuple[list, str]:
        """The concept's tracks in the window, and why identities cannot be counted on ("" when they can):
        none kept, or tracks that followed under TRACK_COVERAGE of the boxes the detector counted of it
        (things that move far between samples break into pieces, or go unfollowed)."""
        memory = call.memory
        every = memory.tracks if memory is not None else ()
        tracks = ids.of_label(ids.in_window(every, call.q), concept.coco)
        if not every:
            return tracks, ids.NO_IDENTITIES
        boxes = sum(float(r.mean[LAYOUT.coco_count][list(concept.coco)].sum()) * r.frames
                    for _, r in call.obs if r.mean is not None)
        followed = sum(t.frames for t in tracks)
        if boxes >= ids.MIN_BOXES and followed < ids.TRACK_COVERAGE * boxes:
            return tracks, (f"my tracks followed only {followed} of the {boxes:.0f} {concept.name} boxes the detector "
                            "counted, so they cannot tell one from another")
        if (pair := ids.pieces(tracks)) is not None:
            u, t = pair
            at = lambda s: timefmt.span(s, s, call.q.origin)   # noqa: E731
            return tracks, (f"one track of {a(concept.name)} ended in mid-frame {at(u.last)} and another began there "
                            f"{at(t.first)}: they may be one {concept.name} followed in pieces")
        if moving := ids.unfollowed_movers(tracks):
            names = plural(concept.name)
            return tracks, (f"{len(moving)} of my {len(tracks)} tracks of {names} moved across the view, and tracks "
                            f"of moving {names} break and merge at the rate I sample frames")
        return tracks, ""

    def _direction(self, call: Call, kinds: list[str | None] | None = None) -> Composed:
        """Which way the subject's tracks went (directions.py); `kinds`: each option's direction, for a
        multiple-choice question."""
        q = call.q
        concepts, refusal = self._resolve(q, q.subject)
        if refusal:
            return refusal
        concept = concepts[0]
        tracks, why = self._tracks(call, concept) if concept.coco else ([], ids.NO_IDENTITIES)
        if why == ids.NO_IDENTITIES:
            return Composed(f"I cannot tell which way{' option is right' if kinds else ''}: {why}.", [],
                            {"abstained": True})
        if kinds is not None:
            return directions.choose(q, concept.name, tracks, kinds)
        return directions.answer(q, concept.name, tracks)

    def _distinct(self, call: Call, concept: Concept, best: Sighting | None) -> Composed:
        """Distinct ones from the tracks; `best`: the run with the most at once (None: never seen)."""
        q = call.q
        at_once = max(1, best.count) if best is not None and concept.countable else 0
        once = f"At most {at_once} at once ({timefmt.span(best.start, best.end, q.origin)})." if at_once else ""
        tracks, why = self._tracks(call, concept)
        return ids.distinct_count(q, concept.name, tracks, why, once, at_once)

    def _count(self, call: Call) -> Composed:
        """How many at once (the most, or at the instant asked), or how many distinct ones (tracks)."""
        q, obs, gap = call.q, call.obs, call.gap
        concepts, refusal = self._resolve(q, q.subject)
        if refusal:
            return refusal
        # what is counted: the head noun's thing ("box trucks": trucks), the last one when none names it
        counted = next((c for c in concepts if q.head and (q.head in (c.asked or c.name) or q.head == c.name)),
                       concepts[-1])
        found = self.sightings([counted], obs, None)
        name, names = counted.name, plural(counted.name)
        most, spike, shown = most_at_once(found)      # the most at once, first, that enough frames showed
        if counted.narrower and most:         # "how many children": the person boxes count people, of every kind
            return Composed(f"I cannot tell how many {counted.asked or counted.narrower} there were: I saw "
                            f"{max(1, most.count)} {names if most.count > 1 else name} at once at most "
                            f"({timefmt.span(most.start, most.end, q.origin)}{call.cam(most)}), but cannot tell "
                            f"{a(counted.narrower)} from any other {name}.", [most.evidence(name)],
                            {"count": None, "abstained": True, "narrower": counted.narrower})
        if found and (which := restriction(q, concepts, counted)):   # "vehicles in the right lane": not the lane
            asked = f"{q.subject}{_past(q)}" + (f" {the_complement(q.complement)}" if q.complement else "")
            return Composed(f"I cannot tell how many {asked}{in_window(q)}: I saw {names}, but cannot tell which "
                            f"{which}.", [], {"count": None, "abstained": True})
        if q.distinct:
            return self._distinct(call, counted, most)
        least = int(q.value) if q.yes_no and q.value.isdigit() else None   # "was there more than one X"
        if not found and (doubt := self._doubt([counted], obs)) is not None:   # as presence says: not "0"
            return Composed(f"I cannot tell how many {names} there were{in_window(q)}: {doubt.said()}.", [],
                            {"abstained": True, "doubt": doubt.source})
        if not found:
            no = "No, " if least is not None else ""
            return Composed(f"{no}I saw no {names}{in_window(q)}: 0.", [], {"count": 0})
        if not counted.coco or not counted.countable:
            found = merge(found, gap)
            return Composed(f"I saw {a(name)} {spans(found, q)}, but I cannot count them with this backend.",
                            [s.evidence(name) for s in found], {"count": None, "abstained": True})
        moment = q.time.moment(q.origin, q.newest) if q.time is not None else None
        if moment is None:
            best = most
        else:                   # "how many at 2 s": the run nearest that instant, not the most in its window
            best = min(found, key=lambda s: (max(s.start - moment, moment - s.end, 0.0), -s.count))
        n = max(1, best.count)
        what = f"1 {name}" if n == 1 else f"{n} {names}"
        when = f"{timefmt.span(best.start, best.end, q.origin)}{call.cam(best)}"
        if moment is None and spike is not None and (least is None or n < least <= spike.count):
            return Composed(f"I cannot tell how many {names} there were at once{in_window(q)}: I saw {what} at once "
                            f"({when}), and {spike.count} in {few_frames(spike, shown, q, call.cam(spike))}.",
                            [best.evidence(name), spike.evidence(name)], {"count": None, "abstained": True})
        yes = "" if least is None else ("Yes, " if n >= least else "No, ")
        at_most = "at once at most " if moment is None else ""
        text = f"{yes}I saw {what} {at_most}({when})."
        return Composed(text[0].upper() + text[1:], [best.evidence(name)], {"count": n})

    @on_sight()
    def _doing(self, call: Call, concepts: list[Concept], found: list[Sighting], name: str) -> Composed:
        """'What was he doing?': when the subject was seen, and that actions are not recognised."""
        return Composed(f"I saw {a(name)} {spans(found, call.q)}; I cannot tell what they were doing "
                        f"(this backend does not recognise actions).", [s.evidence(name) for s in found],
                        {"seen": True})

    @on_sight()
    def _ordinal(self, call: Call, concepts: list[Concept], found: list[Sighting], name: str) -> Composed:
        q = call.q
        if q.attribute == "occurrence":
            return ids.nth_stretch(q, name, found)
        if which := restriction(replace(q, complement=""), concepts, concepts[0]):   # "the 2nd car in the right lane"
            return Composed(f"I cannot tell which was the {ids.nth(q)} {q.subject}: I saw {plural(concepts[0].name)}, "
                            f"but cannot tell which {which}.", [], {"abstained": True})
        tracks, why = self._tracks(call, concepts[0])
        if not why and found and not tracks:     # seen, never followed (one sample each): no count to say "no" from
            why = f"I saw {a(name)} {spans(found, q)}, but followed none of them over time"
        # "the second child": the nth person is not the nth child; only what holds of every person holds of it
        # (fewer people than n, or none of them left)
        kind = concepts[0].narrower
        every = not why and (0 < len(tracks) < q.ordinal or (q.action == "leave" and tracks
                                                             and not any(ids.left(t, q) for t in tracks)))
        if kind and not every:
            return Composed(f"I cannot tell which was the {ids.nth(q)} {concepts[0].asked or kind}: my tracks are of "
                            f"{plural(name)}, and I cannot tell {a(kind)} from any other {name}.", [],
                            {"abstained": True, "narrower": kind})
        source = concepts[0].colour_source
        return ids.ordinal(q, name, tracks, why, self.rec.t.colour_of(source), source)

    def _did(self, call: Call, concepts: list[Concept], found: list[Sighting], name: str) -> Composed:
        """A yes/no about what the subject did. Arrive / leave: the tracks' border flags when the memory
        keeps identities, else whether the stretches reach the stream's ends; return: a second stretch;
        anything else cannot be told."""
        q = call.q
        kind = q.action
        if kind == "action" and (never := self._never_seen(call, q.complement)):
            first, _, rest = never.partition(" ")     # "from mug": the mug was never seen
            thing = rest if first in PREPOSITIONS and rest else never
            return Composed(f"No, I saw {a(name)} {spans(found, q)}, but never {a_phrase(thing)}{in_window(q)}.",
                            [s.evidence(name) for s in found], {"seen": False})
        if kind == "action" or carried(q):
            return ids.unseen_action(q, name, found, spans(found, q), seen_together(concepts))
        if kind == "return":
            if len(found) > 1:
                return Composed(f"Yes, I saw {a(name)} again after a gap: {first_to_last(found, q)}.",
                                [s.evidence(name) for s in found], {"seen": True})
            return Composed(f"No, I saw {a(name)} in one stretch only ({spans(found, q)}).",
                            [s.evidence(name) for s in found], {"seen": True})
        tracks, why = self._tracks(call, concepts[0])
        any_tracks = not why
        first, last = found[0], found[-1]
        if kind == "arrive":
            if any_tracks:
                came = [t for t in tracks if t.entered]
                if came:
                    return Composed(f"Yes, {a(name)} came in {timefmt.span(came[0].first, came[0].first, q.origin)}"
                                    f"{'' if len(came) == 1 else f' ({len(came)} in all)'}.", [], {"seen": True})
                return Composed(f"No, I saw no {name} come in: each was already in view when first seen.", [],
                                {"seen": True})
            if first.start <= q.origin + call.gap:
                return Composed(f"I cannot tell whether {a(name)} came in: one was in view from the start "
                                f"({spans(found, q)}); {why}.", [first.evidence(name)],
                                {"abstained": True})
            return Composed(f"Yes, {a(name)} came into view {timefmt.span(first.start, first.start, q.origin)}.",
                            [first.evidence(name)], {"seen": True})
        if any_tracks:
            went = [t for t in tracks if ids.left(t, q)]
            if went:
                return Composed(f"Yes, {a(name)} left {timefmt.span(went[-1].last, went[-1].last, q.origin)}.", [],
                                {"seen": True})
        if last.end >= q.newest - call.gap:
            return Composed(f"No, {a(name)} was still in view at the end (last seen "
                            f"{timefmt.span(last.end, last.end, q.origin)}).", [last.evidence(name)], {"seen": True})
        if any_tracks:
            return Composed(f"I cannot tell whether the {name} left: I last saw it "
                            f"{timefmt.span(last.start, last.end, q.origin)}, away from the frame's edge.",
                            [last.evidence(name)], {"abstained": True})
        return Composed(f"Yes, {a(name)} went out of view: I last saw it {timefmt.span(last.start, last.end, q.origin)}"
                        f" ({timefmt.ago(last.end, q.newest)}).", [last.evidence(name)], {"seen": True})

    def _never_seen(self, call: Call, phrase: str) -> str:
        """The object of an action ("riding a bicycle") when it is a thing lite can see and nothing of it
        was seen, not even a doubtful trace: the action cannot have happened ("" otherwise; a place such
        as a street is no object whose absence it could tell)."""
        concepts = self.rec.concept(phrase) if phrase else None
        if not concepts or any(c.region or c.name in SCENES for c in concepts) or not self.rec.can_see(concepts):
            return ""
        if self.sightings(concepts, call.obs, call.gap) or self._doubt(concepts, call.obs) is not None:
            return ""
        return phrase

    def _any_of(self, call: Call) -> Composed:
        """Any of several things ("did you see a dog, a cat or a bird?"): yes with those seen, no when none
        was, and which ones this backend cannot tell apart from not seen."""
        q = call.q
        seen, unknown, evidence = [], [], []
        for option in q.options:
            looked = self._look(replace(call, q=replace(q, subject=option, options=())))
            if isinstance(looked, Composed):
                if looked.facts.get("abstained"):
                    unknown.append(option)
                continue
            concepts, found, name = looked
            seen.append(f"{a(name) if len(concepts) == 1 else a_phrase(name)} {spans(found, q)}")
            evidence += [s.evidence(name) for s in found]
        if seen:
            return Composed(f"Yes, I saw {listed(seen)}.", evidence, {"seen": True})
        if len(unknown) == len(q.options):
            return Composed(f"I cannot tell: I do not recognise {listed(unknown, 'or')} in what I see. "
                            f"{self.limitation}", [], {"abstained": True})
        known = [a_phrase(o) for o in q.options if o not in unknown]
        text = f"No, I have not seen {listed(known, 'or')}{in_window(q)}."
        if unknown:
            text += f" I cannot tell about {listed(unknown, 'or')}."
        return Composed(text, [], {"seen": False})

    def _place(self, call: Call) -> Composed:
        """'Where was this?': the place whose things showed longest, or what was seen when none did."""
        q = call.q
        best: tuple[float, str, list[Sighting]] | None = None
        for place in SCENES:
            concepts = self.rec.concept(place)
            if not concepts or not self.rec.can_see(concepts):
                continue
            found = self.sightings(concepts[:1], call.obs, call.gap)
            held = sum(s.end - s.start + q.frame_interval for s in found)
            if found and (best is None or held > best[0]):
                best = (held, place, found)
        if best is None:
            listed = self._list_things(replace(call, q=replace(q, intent=Intent.DESCRIBE)))
            return Composed(f"I cannot tell what place this was: I recognise no place in what I saw. {listed.text}",
                            listed.evidence, {"abstained": True})
        _, place, found = best
        return Composed(f"It looked like {a(place)}: what I saw there suggests one ({spans(found, q, short=True)}).",
                        [s.evidence(place) for s in found], {"place": place})
