"""The answers that pick one value among several: a thing's colour (stated only from the calibrated share of
its pixels up) and a multiple-choice option (only one whose things were seen whole). Mixed into the
Composer (compose.py), whose `rec`, `sightings`, `_resolve` and `_doubt` they use."""

from __future__ import annotations

from dataclasses import replace

from vstream_ros.answering import timefmt
from vstream_ros.answering.phrases import ORDINALS, plural
from vstream_ros.answering.question import OPTION_LETTERS
from vstream_ros.answering.words import a_phrase, the_phrase
from vstream_ros.backends.lite import directions
from vstream_ros.backends.lite.acts import one_of_several
from vstream_ros.backends.lite.calibration import colour_withheld
from vstream_ros.backends.lite.call import Call
from vstream_ros.backends.lite.layout import asked_thing
from vstream_ros.backends.lite.sightings import Composed, Sighting, coverage, measured_colour, unverified
from vstream_ros.backends.lite.wording import in_window, spans


class ColourAndChoice:
    """Handlers for Intent.ATTRIBUTE and Intent.CHOICE."""

    def _attribute(self, call: Call) -> Composed:
        q, obs, gap = call.q, call.obs, call.gap
        if q.attribute == "direction":                 # "which way did the people walk?": tracks, not colours
            return self._direction(call)
        if q.ordinal:       # "what colour was the second car?": that one track's colours, not every car's
            first, _, rest = q.subject.partition(" ")          # the colour question kept "second car" as asked
            subject = rest if first.lower() in ORDINALS and rest else q.subject
            return self._ordinal(replace(call, q=replace(q, subject=subject)))
        concepts, refusal = self._resolve(q, q.subject)
        if refusal:
            return refusal
        target = asked_thing(concepts, q.head, q.subject)
        if target is None:          # "the dog's toy": the dog is recognised, the toy is not; not the dog's colour
            return Composed(f"I cannot tell the colour of {the_phrase(q.subject)}: I do not recognise "
                            f"{a_phrase(q.head)} in what I see.", [], {"abstained": True})
        found = self.sightings([target], obs, gap)
        name = target.name
        if narrowed := one_of_several(q, concepts, target, (s.count for s in found)):
            # "the car in the left lane", "the trousers of the man with the backpack" among several at once
            return Composed(f"I cannot tell the colour of {the_phrase(q.subject)}: I saw "
                            f"{max(s.count for s in found)} {plural(name)} at once ({spans(found, q)}), and cannot "
                            f"tell which {narrowed}.", [], {"abstained": True, "seen": True})
        concepts = [target]
        if not found:   # the question says it was there: not finding it is no evidence that it was not
            doubt = self._doubt(concepts, obs)
            why = doubt.said() if doubt else f"I found no {name} I can be sure of{in_window(q)}"
            return Composed(f"I cannot tell the colour of {the_phrase(q.subject)}: {why}.", [],
                            {"abstained": True, "seen": False})
        measured = measured_colour(found, chromatic_first=not (target.part or target.region))
        source = target.colour_source
        if why := colour_withheld(measured, self.rec.t.colour_of(source), source):
            return Composed(f"I cannot tell the colour of {the_phrase(q.subject)} (seen {spans(found, q)}): {why}.",
                            [s.evidence(name) for s in found], {"abstained": True})
        colour = measured[0]
        best = max(found, key=lambda s: (s.palette.get(colour, 0.0), colour in s.colours, s.score))
        when = timefmt.span(best.start, best.end, q.origin)
        what = q.subject if target.part or target.region else name
        verb = "were" if what.endswith("s") and not what.endswith("'s") else "was"
        owned = what.split(" ")[0].lower() in ("his", "her", "their", "its", "my", "our", "your")
        the = "" if owned else "the "
        if q.yes_no and q.value:
            yes = q.value == colour
            text = (f"Yes, {the}{what} {verb} {colour} ({when})." if yes else
                    f"No, {the}{what} {verb} {colour}, not {q.value} ({when}).")
        else:
            text = f"{the}{what} {verb} {colour} ({when}{call.cam(best)})."
            text = text[0].upper() + text[1:]
        return Composed(text, [best.evidence(f"{colour} {name}")], {"colour": colour})

    def _choice(self, call: Call) -> Composed:
        """The option whose things show best in the memory: all of them together in one run if any
        option has that, else the mean of each thing's best showing (an unseeable thing counts 0)."""
        q, obs, gap = call.q, call.obs, call.gap
        if q.attribute == "direction" and (kinds := directions.of_options(q.options)) is not None:
            return self._direction(call, kinds)       # "which way did they walk? (A) from right to left ..."
        scores: list[tuple[float, int, list[Sighting]]] = []
        for i, option in enumerate(q.options):
            concepts = self.rec.concept(option)
            if concepts is None:
                continue
            seeable = [c for c in concepts if self.rec.can_see([c])]
            if not seeable:
                continue
            found = self.sightings(seeable, obs, gap) if len(seeable) == len(concepts) else []
            if found and not unverified(option, concepts):
                best = 1.0 + max(s.score for s in found)
            elif found:   # seen in part ("a police car": the car, not the police; "pushing a child": not the push)
                best = min(0.99, max(s.score for s in found))
            else:
                best = sum(max((self.rec.seen(c, r.peak).score for _, r in obs), default=0.0)
                           for c in seeable) / len(concepts)
            # an option whose words name more than what was recognised of it ranks below one that names less
            best *= 0.75 + 0.25 * coverage(option, concepts)
            scores.append((best, i, found))
        if not scores:
            return Composed("I cannot tell which option is right: none of them names something I recognise. "
                            f"{self.limitation}", [], {"abstained": True})
        best, i, found = max(scores, key=lambda x: (x[0], -x[1]))
        letter = OPTION_LETTERS[i]
        if best < 1.0:   # no option seen whole: the closest only resembles what was seen (on the tuning half
            # such picks were right 3 times in 9, about chance with four options; options seen in part, 2 in 5):
            # not a choice to state
            return Composed("I cannot tell which option is right: none of them is something I saw (the closest "
                            "only resembles it).", [], {"abstained": True, "closest": letter})
        where = f", seen {spans(found, q)}" if found else ""
        return Composed(f"({letter}) {q.options[i]}{where}.", [s.evidence(q.options[i]) for s in found],
                        {"option": letter})
