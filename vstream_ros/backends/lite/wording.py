"""How lite's answers word times: spans of sightings, the window asked about (times count from the
stream's first stamp, in answering/timefmt's words)."""

from __future__ import annotations

from vstream_ros.answering import timefmt
from vstream_ros.answering.question import Question, TimeKind
from vstream_ros.answering.words import a, a_phrase, listed
from vstream_ros.backends.lite.calibration import Doubt
from vstream_ros.backends.lite.sightings import Sighting
from vstream_ros.backends.lite.vision import Concept

MAX_SPANS = 4             # spans written out in a "when" answer; the evidence holds them all


def first_to_last(found: list[Sighting], q: Question) -> str:
    """From the first sighting to the last, and the stretches between when there were several."""
    if len(found) == 1:
        return spans(found, q)
    first, last = found[0], found[-1]
    whole = timefmt.span(first.start, last.end, q.origin)
    if first.partial or last.partial:      # the first or last stretch does not say when in it the thing was
        whole = f"between {timefmt.since(first.start, q.origin)} and {timefmt.since(last.end, q.origin)}"
    return f"{whole}, in {len(found)} separate stretches ({spans(found, q, short=True, ends=True)})"


def span_of(s: Sighting, q: Question, short: bool = False) -> str:
    """One sighting's span: 'from 3.0 s to 9.0 s', or 'sometime between 20.0 s and 58.0 s' where the thing
    was there for part of it only (a merged slot keeps the span, not which of its frames showed it)."""
    if s.partial:
        a, b = timefmt.since(s.start, q.origin), timefmt.since(s.end, q.origin)
        return f"sometime in {a.removesuffix(' s')}-{b}" if short else f"sometime between {a} and {b}"
    w = timefmt.span(s.start, s.end, q.origin)
    return w.removeprefix("from ").replace(" s to ", "-").removeprefix("at ") if short else w


def spans(found: list[Sighting], q: Question, short: bool = False, ends: bool = False) -> str:
    """The spans written out (at most MAX_SPANS; with `ends`, the last one is always among them)."""
    multi_cam = len({s.camera for s in found}) > 1
    shown = found[:MAX_SPANS]
    if ends and len(found) > MAX_SPANS:
        shown = found[: MAX_SPANS - 1] + [found[-1]]
    parts = []
    for s in shown:
        w = span_of(s, q, short)
        parts.append(w + (f" on camera {s.camera}" if multi_cam else ""))
    more = len(found) - len(shown)
    if ends and more > 0:
        return ", ".join(parts[:-1]) + f", {more} more and the last " + parts[-1]
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    if more > 0:
        text += f" and {more} more time{'s' if more > 1 else ''}"
    return text


def in_window(q: Question) -> str:
    if q.window is None:
        return ""
    return f" {timefmt.span(max(q.window[0], q.origin), min(q.window[1], q.newest), q.origin)}"


def window_words(q: Question) -> str:
    """How the answer names the time the question asked about (its evidence gives the stamps)."""
    if q.window is None or q.time is None:
        return ""
    k, n = q.time.kind, q.time.a
    unit = "second" if n == 1 else "seconds"
    lead = {TimeKind.START: "At the start", TimeKind.NOW: "At the end", TimeKind.LAST: f"In the last {n:g} {unit}",
            TimeKind.FIRST: f"In the first {n:g} {unit}", TimeKind.AGO: f"{n:g} {unit} before the end",
            TimeKind.AT: f"At about {timefmt.since(q.origin + n, q.origin)}",
            TimeKind.BETWEEN: f"Between {timefmt.since(q.origin + q.time.a, q.origin)} and "
                              f"{timefmt.since(q.origin + q.time.b, q.origin)}"}.get(k, "In that time")
    return f"{lead}, "


def uncertain(phrase: str, doubt: Doubt, window: str = "") -> str:
    """The abstention: which thing, which source was unsure of it, and how weak its evidence was."""
    return f"I cannot tell whether I saw {a_phrase(phrase)}{window}: {doubt.said()}."


def concept_name(c: Concept) -> str:
    """A concept as an answer names it: "red car", "person"."""
    return f"{c.colour} {c.name}" if c.colour else c.name


def seen_together(concepts: list[Concept]) -> str:
    """What the joint sightings of a subject of several things show: "a woman and a dog together"; "" for
    one thing. Never the asked phrase ("the woman holding the dog's leash"): the relation between them is
    nothing the memory holds."""
    named = [a(n) for n in dict.fromkeys(concept_name(c) for c in concepts)]
    return f"{listed(named)} together" if len(named) > 1 else ""


def few_frames(s: Sighting, frames: int, q: Question, cam: str = "") -> str:
    """'one frame only (at 6.0 s), too few to be sure': where fewer frames showed more of a thing at once than
    the most that enough frames showed (sightings.most_at_once)."""
    when = f"{timefmt.span(s.start, s.end, q.origin)}{cam}"
    shown = f"one frame only ({when})" if frames == 1 else f"{frames} frames only (the first {when})"
    return f"{shown}, too few to be sure"
