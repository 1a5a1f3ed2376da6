"""Lite's answers that need identities: distinct counts, ordinals ("the second person"), arrivals and
departures, a tracked thing's own colours (memory's `Track`s); and the honest answer for a predicate nothing
in memory shows ("crossed the hall"). Scene text is scene_text.py's.

Only from memory: where the memory keeps no tracks for the time asked, the answer says what cannot be told
instead of counting runs as people.
"""

from __future__ import annotations

import numpy as np

from vstream_ros.answering import timefmt
from vstream_ros.answering.phrases import past, plural
from vstream_ros.answering.question import Intent, Question
from vstream_ros.answering.words import a, the_complement
from vstream_ros.backends.lite import colours
from vstream_ros.backends.lite.calibration import Bounds, colour_withheld
from vstream_ros.backends.lite.sightings import Composed, Sighting
from vstream_ros.backends.lite.vocabulary import BOXED
from vstream_ros.memory.tracks import Track
from vstream_ros.perception import motion
from vstream_ros.perception.boxes import area, centre_distance
from vstream_ros.perception.tracking import GROUPS, MOTION_GROUPS, at_border

NO_IDENTITIES = "I keep no identities for this camera"
# Tracks are counted on only where they followed at least this share of the boxes the detector counted of a
# thing (hand-set from the tuning half: people walking past at 1 Hz, 10 of 22 boxes followed, gave 4 wrong
# identity answers in 5; the other clips' tracks followed 0.75-1.08 of their boxes), once it had MIN_BOXES
TRACK_COVERAGE = 0.5
MIN_BOXES = 4
# A track that began in mid-frame within this long after another of its kind ended in mid-frame is likely the
# same thing followed in pieces (the tracker's own lost budget, perception/tracking.py LOST_S)
PIECES_S = 3.0
# a track seen within this many frame intervals of the stream's first / newest frame was in view then
END_SLACK = 1.5
ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
                  8: "eighth", 9: "ninth", 10: "tenth", -1: "last"}


def in_window(items: tuple, q: Question) -> tuple:
    """Tracks or texts that overlap the window asked about."""
    if q.window is None:
        return items
    lo, hi = q.window
    return tuple(t for t in items if t.last >= lo and t.first <= hi)


def of_label(tracks: tuple[Track, ...], coco: tuple[int, ...]) -> list[Track]:
    """The tracks of the detector classes a concept stands for, by first stamp."""
    labels = {BOXED[i] for i in coco}
    return sorted((t for t in tracks if t.label in labels), key=lambda t: (t.first, t.id))


def left(t: Track, q: Question) -> bool:
    """The track went out of view: it finished at the frame's border, or its last box was at the border and
    it has not been seen since (the tracker finishes a track only `LOST_S` after its last box, so one that
    walked out just before the newest frame is still live, its `exited` unset)."""
    if t.exited:
        return True
    return _at_border(t.last_box) and not _at_end(t, q)


def _at_end(t: Track, q: Question) -> bool:
    """Still in view at the stream's newest frame (within END_SLACK frame intervals of it)."""
    return t.last >= q.newest - END_SLACK * q.frame_interval


def _at_border(box: tuple[float, float, float, float]) -> bool:
    """At the frame's border; a box never kept (a snapshot from before tracks kept boxes) is not."""
    return box[3] > box[1] and at_border(box)


def pieces(tracks: list[Track], gap_s: float = PIECES_S) -> tuple[Track, Track] | None:
    """Two tracks that look like one thing followed in pieces: one ended away from the frame's border and,
    within `gap_s`, the other began away from it (neither left nor came in), where the first could have
    walked to by then (perception/motion.py's gate). Only people: a car far up the road comes into view in
    mid-frame (on the overpass clip such pairs were two cars). None when there are none. Distinct counts and
    ordinals would count such a thing twice."""
    for t in tracks:
        if t.entered or GROUPS.get(t.label, t.label) not in MOTION_GROUPS:   # a car far up the road begins mid-frame
            continue
        for u in tracks:
            if (u is not t and not u.exited and not _at_border(u.last_box) and u.last < t.first <= u.last + gap_s
                    and motion.cost(u.last_box, u.last, (0.0, 0.0), t.first_box, t.first) is not None):
                return u, t
    return None


def unfollowed_movers(tracks: list[Track]) -> list[Track]:
    """Tracks of things the tracker does not link by motion (all but people: MOTION_GROUPS) that moved further
    than their own size between their first and last box. At the ingest rate such tracks break and merge: on
    the tuning half's road, 8 vehicle tracks for the 14 that passed in 12 s and 7 for 5 in the next 6 s (both
    counts wrong), 9 / 15 / 22 tracks at 1 / 2 / 4 Hz. Parked cars keep their tracks; moving ones are not counted
    or ordered from them."""
    out = []
    for t in tracks:
        if GROUPS.get(t.label, t.label) in MOTION_GROUPS:
            continue
        first, last = t.first_box, t.last_box
        size = max(first[2] - first[0], first[3] - first[1], last[2] - last[0], last[3] - last[1])
        if area(first) > 0 and area(last) > 0 and centre_distance(first, last) > size:   # an all-zero box: not kept
            out.append(t)
    return out


def span(t: Track, q: Question) -> str:
    return timefmt.span(t.first, t.last, q.origin)


def distinct_count(q: Question, name: str, tracks: list[Track], why: str, at_once: str,
                   least: int = 0) -> Composed:
    """'How many people came in?': tracks of the label (those that entered / exited for arrive / leave).
    Where nothing was tracked, what was seen at once (`least`: seen in one frame, never tracked). Not stated
    where the tracks disagree with what was seen: fewer tracks than the most seen at once (tracks merged
    two things or missed one; walkway: 4 tracks for 4 people, 5 boxes at once with one drawn twice, and
    the old floor said 5), or, for arrive / leave, tracks that began / ended in
    mid-frame (lost: they may have come in or left unseen). `why`: why the tracks cannot be counted on
    ("" when they can)."""
    if why:
        return Composed(f"I cannot tell how many distinct {plural(name)}{_said(q)}: {why}. {at_once}".strip(),
                        [], {"count": None, "abstained": True})
    kind, names = q.action, plural(name)
    if kind not in ("arrive", "leave") and 0 < len(tracks) < least:    # tracks that merged things, or missed one
        return Composed(f"I cannot tell how many distinct {names}{_said(q)}: my tracks tell {len(tracks)} apart, "
                        f"fewer than I saw at once. {at_once}".strip(), [], {"count": None, "abstained": True})
    chosen = [t for t in tracks if t.entered] if kind == "arrive" else \
        [t for t in tracks if left(t, q)] if kind == "leave" else tracks
    if unsure := [t for t in tracks if t not in chosen and _mid_frame(t, q)]:
        # began (arrive) or ended (leave) in mid-frame, away from the stream's ends: lost, not seen going
        ends = "began" if kind == "arrive" else "ended"
        return Composed(f"I cannot tell how many {names}{_said(q)}: I saw {len(chosen)}{_said(q)}, and "
                        f"{len(unsure)} more {name if len(unsure) == 1 else names} I followed {ends} in mid-frame "
                        f"({', '.join(span(t, q) for t in unsure)}), so I cannot tell whether "
                        f"{'it' if len(unsure) == 1 else 'they'}{_said(q)}.", [], {"count": None, "abstained": True,
                                                                                      "at_least": len(chosen)})
    n = len(chosen) if chosen or kind in ("arrive", "leave") else least   # seen, never tracked: what was at once
    what = f"1 {name}" if n == 1 else f"{n} different {plural(name)}" if n else f"no {plural(name)}"
    verb = {"arrive": " come in", "leave": " leave"}.get(kind, "")
    text = f"I saw {what}{verb}"
    if chosen:
        text += f", the first {span(chosen[0], q)}" + (f" and the last {span(chosen[-1], q)}" if n > 1 else "")
    return Composed(text + ".", [], {"count": n, "tracks": [t.id for t in chosen]})


def _mid_frame(t: Track, q: Question) -> bool:
    """For 'came in' / 'left': the track began / ended away from the frame's border and from the stream's
    first / newest frame, so it may have come in or left unseen (or been lost by the tracker)."""
    if q.action == "arrive":
        return not t.entered and t.first > q.origin + END_SLACK * q.frame_interval
    if q.action == "leave":
        return not left(t, q) and not _at_end(t, q)
    return False


def _said(q: Question) -> str:
    return {"arrive": " came in", "leave": " left"}.get(q.action, f" {past(q.predicate)}" if q.predicate else "")


def nth(q: Question) -> str:
    return ORDINAL_WORDS.get(q.ordinal, f"number {q.ordinal}")


def main_colour(t: Track, chromatic_first: bool) -> tuple[str, float] | None:
    """A track's colour as a thing's colour is named (colours.main_colour: a car's paint before its windows and
    shadows), from the shares its memory keeps (its main colours)."""
    if not t.colours:
        return None
    frac = np.zeros(len(colours.NAMES), np.float32)
    for name, share in t.colours:
        frac[colours.NAMES.index(name)] = share
    return colours.main_colour(frac, chromatic_first)


def ordinal(q: Question, name: str, tracks: list[Track], why: str, colour_bounds: Bounds,
            colour_source: str = "colour") -> Composed:
    """The nth tracked thing of a kind, by its first stamp: when it came, left, was there, its colour (stated
    from `colour_bounds.yes` of its boxes' pixels up: the fitted bounds of `colour_source`, colour or clothes). `why`:
    why the tracks cannot be counted on ("" when they can)."""
    nth_ = nth(q)
    if why:
        return Composed(f"I cannot tell which was the {nth_} {name}: {why}.", [], {"abstained": True})
    if q.ordinal > len(tracks) or not tracks:
        n = len(tracks)
        return Composed(f"No {nth_} {name}: I saw only {n} {name if n == 1 else plural(name)}{in_words(q)}.", [],
                        {"count": n, "seen": False})
    t = tracks[q.ordinal - 1] if q.ordinal > 0 else tracks[-1]
    asks = q.asks or Intent.WHEN
    the = f"The {nth_} {name}"
    if asks is Intent.FIRST_SEEN:
        came = "came in" if t.entered else "was first seen"
        text = f"{the} {came} {timefmt.span(t.first, t.first, q.origin)}."
    elif asks is Intent.LAST_SEEN and q.action == "leave" and not left(t, q):
        if _mid_frame(t, q):                     # lost in mid-frame, not seen leaving
            return Composed(f"I cannot tell when the {nth_} {name} left: my track of it ended in mid-frame "
                            f"{timefmt.span(t.last, t.last, q.origin)} ({timefmt.ago(t.last, q.newest)}), and I did "
                            "not see it leave.", [], {"track": t.id, "abstained": True})
        return Composed(f"The {nth_} {name} did not leave: still in view at the newest frame "
                        f"({timefmt.span(t.last, t.last, q.origin)}).", [], {"track": t.id, "left": False})
    elif asks is Intent.LAST_SEEN:
        went = "left" if left(t, q) else "was last seen"
        text = f"{the} {went} {timefmt.span(t.last, t.last, q.origin)} ({timefmt.ago(t.last, q.newest)})."
    elif asks is Intent.ATTRIBUTE:
        named = main_colour(t, chromatic_first=colour_source == "colour")
        if why := colour_withheld(named, colour_bounds, colour_source):
            return Composed(f"I cannot tell the colour of the {nth_} {name} (seen {span(t, q)}): {why}.", [],
                            {"track": t.id, "abstained": True})
        text = f"{the} was {named[0]} (seen {span(t, q)})."
    elif asks is Intent.PRESENCE:
        text = f"Yes, I saw a {nth_} {name} {span(t, q)}."
    else:
        text = f"I saw the {nth_} {name} {span(t, q)}."
    return Composed(text, [], {"track": t.id, "first": t.first, "last": t.last})


def in_words(q: Question) -> str:
    if q.window is None:
        return ""
    return f" {timefmt.span(max(q.window[0], q.origin), min(q.window[1], q.newest), q.origin)}"


def nth_stretch(q: Question, name: str, found: list[Sighting]) -> Composed:
    """'When did you see the man the second time?': the nth separate stretch of sightings."""
    nth = ORDINAL_WORDS.get(q.ordinal, str(q.ordinal))
    if len(found) < q.ordinal:
        return Composed(f"I saw {a(name)} only in {len(found)} separate stretch{'es' if len(found) != 1 else ''}, "
                        f"so there was no {nth} time.", [s.evidence(name) for s in found], {"seen": True})
    s = found[q.ordinal - 1]
    return Composed(f"The {nth} time I saw {a(name)} was {timefmt.span(s.start, s.end, q.origin)}.",
                    [s.evidence(name)], {"seen": True, "first": s.start, "last": s.end})


# ----------------------------------------------------- predicates unseen
def unseen_action(q: Question, name: str, found: list[Sighting], where: str, seen: str = "") -> Composed:
    """A predicate nothing in memory shows (crossing, carrying, pulling in): the subject's presence,
    and that the action cannot be told; never a confident yes. `seen` names what the sightings of a subject
    of several things show (wording.together): "I saw a woman and a dog together", never the asked relation."""
    what = past(q.predicate) if q.predicate else "did that"
    rest = f" {the_complement(q.complement)}" if q.complement else ""
    carried = next((m for m in q.modifiers if m.startswith(("carrying ", "holding "))), "")
    who = name
    if carried and not q.predicate:         # "was the woman holding the leash": the relation is what is asked
        head = f"{q.head} "
        relation = q.subject[len(head):] if q.head and q.subject.startswith(head) else carried
        who, doing = (q.head if seen and q.head else name), f"was {relation}"
    else:
        doing = f"{what}{rest}"
    # "did we drive under a bridge": the viewer did it, and the bridge is what was seen
    done = f"{q.ego} {what} the {name}" if q.ego else f"the {who} {doing}"
    lead = "when" if q.intent in (Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN) else "whether"
    return Composed(f"I cannot tell {lead} {done}: I saw {seen or a(name)} {where}, but this backend does not "
                    "recognise actions.", [s.evidence(name) for s in found], {"seen": True, "abstained": True})
