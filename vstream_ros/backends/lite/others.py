"""Lite's answers about people other than the ones a question names ("was anyone else there besides the woman
and the dog?", "how many people were there besides the girl?"): from the most people seen at once and the
people followed (tracks), against how many people the left-out phrase names. A mixin of `compose.Composer`.

Yes only where more people were seen at once than are left out (a count answer's own figure); no only where
no more were seen at once and the tracks, trusted as distinct counts trust them, followed no more; anything
else, and a left-out phrase whose people cannot be counted ("them", "else" naming no one), is "I cannot tell".
"""

from __future__ import annotations

import re

from vstream_ros.answering import timefmt
from vstream_ros.answering.others import UNNAMED
from vstream_ros.answering.phrases import analyse, noun_lemma, past, plural
from vstream_ros.answering.question import Intent, Question
from vstream_ros.answering.words import CARDINALS
from vstream_ros.backends.lite.call import Call
from vstream_ros.backends.lite.sightings import Composed, most_at_once
from vstream_ros.backends.lite.vocabulary import PERSON_WORDS
from vstream_ros.backends.lite.wording import few_frames

_PRONOUNS = {"him": 1, "her": 1, "me": 1, "us": None, "them": None}


def people_named(besides: str) -> int | None:
    """How many people a left-out phrase names: "the woman and the dog" 1, "the two children" 2, "him" 1;
    None where it cannot be told ("them", "the children", UNNAMED)."""
    if not besides or besides == UNNAMED:
        return None
    total = 0
    for part in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", besides.strip().lower()):
        if part in _PRONOUNS:
            if _PRONOUNS[part] is None:
                return None
            total += _PRONOUNS[part]
            continue
        ph = analyse(part)
        said = next((w for w in part.split() if w in PERSON_WORDS), "")
        if ph.head != "person" and not said:
            continue                                    # "the dog": no person
        counts = [CARDINALS[w] for w in part.split() if w in CARDINALS]
        if not counts and said and noun_lemma(said) != said:
            return None                                 # "the children", "the workers": how many is not said
        total += counts[0] if counts else 1
    return total


class Others:
    """The handlers of questions with `Question.besides`, for a person subject."""

    def _others(self, call: Call) -> Composed:
        q = call.q
        concepts, refusal = self._resolve(q, q.subject)
        if refusal:
            return refusal
        concept, who = concepts[0], q.besides
        name, names = concept.name, plural(concept.name)
        if not concept.person or len(concepts) > 1:
            return Composed(f"I cannot tell whether I saw {names} besides {who}: I cannot tell which ones you mean.",
                            [], {"abstained": True})
        did = f" {past(q.predicate)}" if q.action not in ("", "seen") else ""   # "left", "came in": not only seen
        if q.intent not in (Intent.PRESENCE, Intent.COUNT):
            return self._which_other(q, who, names)
        found = self.sightings([concept], call.obs, None)
        most, spike, shown = most_at_once(found)
        at_once = max(1, most.count) if most is not None else 0
        seen = (f"I saw {at_once} {name if at_once == 1 else names} at once at most "
                f"({timefmt.span(most.start, most.end, q.origin)}{call.cam(most)})") if most is not None else ""
        evidence = [most.evidence(name)] if most is not None else []
        named = people_named(who)
        count = q.intent is Intent.COUNT
        unsure = (f"I cannot tell how many {names} besides {who}{did}" if count else
                  f"I cannot tell whether {'anyone' if did else 'I saw anyone'} besides {who}{did}")
        if named is None:
            said = "the question does not say who else" if who == UNNAMED else \
                f"the question does not say how many people '{who}' are"
            return Composed(f"{unsure}: {said}" + (f"; {seen}." if seen else "."), evidence,
                            {"abstained": True, "count": None})
        if most is not None and at_once > named:
            if did:                                    # more people, but whether one of them left is not shown
                return Composed(f"{unsure}: {seen}, but this backend does not recognise actions.", evidence,
                                {"abstained": True, "count": None})
            n = at_once - named
            text = f"{n} besides {who}: {seen}." if count else f"Yes, {seen}: more than {who}."
            return Composed(text, evidence, {"count": n, "seen": True})
        if spike is not None and spike.count > named:         # more than them in too few frames
            return Composed(f"{unsure}: {seen}, and {spike.count} in {few_frames(spike, shown, q, call.cam(spike))}.",
                            evidence + [spike.evidence(name)], {"abstained": True, "count": None})
        # no more people than are left out, so no one else was there to do anything
        none = f"0 besides {who}" if count else f"No, {'no one' if did else 'I saw no one'} besides {who}{did}"
        if most is None:
            if (doubt := self._doubt([concept], call.obs)) is not None:
                return Composed(f"{unsure}: {doubt.said()}.", [],
                                {"abstained": True, "doubt": doubt.source, "count": None})
            return Composed(f"{none}: I saw no {names} at all.", [], {"count": 0, "seen": False})
        tracks, why = self._tracks(call, concept)
        if not why and len(tracks) <= named:
            followed = f"I followed {len(tracks)} {name if len(tracks) == 1 else names} in all" if tracks else \
                "I followed none over time"
            return Composed(f"{none}: {seen}, and {followed}.", evidence,
                            {"count": 0, "seen": False, "tracks": [t.id for t in tracks]})
        why = why or f"my tracks tell {len(tracks)} {names} apart"
        return Composed(f"{unsure}: {seen}, but {why}.", evidence, {"abstained": True, "count": None})

    @staticmethod
    def _which_other(q: Question, who: str, names: str) -> Composed:
        """'When did anyone besides the man come in?': which of the people seen the left-out ones are is not
        told by anything lite keeps (a person box, a track), so nothing about the others can be said."""
        asked = {Intent.WHEN: "when", Intent.FIRST_SEEN: "when", Intent.LAST_SEEN: "when", Intent.WHERE: "where",
                 Intent.ATTRIBUTE: f"the {q.attribute or 'look'} of", Intent.ORDINAL: "which"}.get(q.intent, "what")
        did = f" {past(q.predicate)}" if q.predicate else {"when": " was seen", "where": " was"}.get(asked, "")
        return Composed(f"I cannot tell {asked} anyone besides {who}{did}: I cannot tell which of the {names} I saw "
                        f"{'is' if people_named(who) == 1 else 'are'} {who}.", [], {"abstained": True})
