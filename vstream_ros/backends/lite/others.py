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
from vstream_ros.answering.phrases import analyse, noun_lemma, plural
from vstream_ros.answering.question import Intent
from vstream_ros.answering.words import CARDINALS
from vstream_ros.backends.lite.call import Call
from vstream_ros.backends.lite.sightings import Composed
from vstream_ros.backends.lite.vocabulary import PERSON_WORDS

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
    """The handler of questions with `Question.besides`, for a person subject."""

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
        found = self.sightings([concept], call.obs, None)
        most = max(found, key=lambda s: (s.count, -s.start), default=None)
        at_once = max(1, most.count) if most is not None else 0
        most_seen = (f"{at_once} {name if at_once == 1 else names} at once at most "
                     f"({timefmt.span(most.start, most.end, q.origin)}{call.cam(most)})") if most is not None else ""
        seen = f"I saw {most_seen}"
        evidence = [most.evidence(name)] if most is not None else []
        named = people_named(who)
        count = q.intent is Intent.COUNT
        unsure = f"I cannot tell {'how many ' + names if count else 'whether I saw anyone'} besides"
        if named is None:
            said = "the question does not say who else" if who == UNNAMED else \
                f"the question does not say how many people '{who}' are"
            left_out = "them" if who == UNNAMED else who
            return Composed(f"{unsure} {left_out}: {said}" + (f"; {seen}." if most_seen else "."), evidence,
                            {"abstained": True, "count": None})
        if most is not None and at_once > named:
            n = at_once - named
            text = f"{n} besides {who}: {seen}." if count else f"Yes, {seen}: more than {who}."
            return Composed(text, evidence, {"count": n, "seen": True})
        none = f"0 besides {who}" if count else f"No, I saw no one besides {who}"
        if most is None:
            if (doubt := self._doubt([concept], call.obs)) is not None:
                return Composed(f"{unsure} {who}: {doubt.said()}.", [],
                                {"abstained": True, "doubt": doubt.source, "count": None})
            return Composed(f"{none}: I saw no {names} at all.", [], {"count": 0, "seen": False})
        tracks, why = self._tracks(call, concept)
        if not why and len(tracks) <= named:
            followed = f"I followed {len(tracks)} {name if len(tracks) == 1 else names} in all" if tracks else \
                "I followed none over time"
            return Composed(f"{none}: {seen}, and {followed}.", evidence,
                            {"count": 0, "seen": False, "tracks": [t.id for t in tracks]})
        why = why or f"my tracks tell {len(tracks)} {names} apart"
        return Composed(f"{unsure} {who}: {seen}, but {why}.", evidence, {"abstained": True, "count": None})
