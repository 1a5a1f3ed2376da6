"""Which way tracked things went ("which way did the people walk?", or options such as "from right to
left"), from where each track was first and last (memory `Track.first_box/last_box`): only from tracks
followed long enough, and only when they agree.

Why these bounds (hand-set; the tuning half holds one such question, walkway_pedestrians at 1 Hz, where
people crossing the frame moved 0.35-0.8 of its width over their tracks): across the frame when the
centre moved at least ACROSS of the width; toward or away from the camera when the box's height grew or
shrank by DEPTH at least and it moved less than that across; still when it moved under STILL of the
width and its height stayed within STILL_DEPTH for at least STILL_S. A track of fewer than MIN_FRAMES
frames says nothing (a box twice is too little to tell motion from the detector's jitter).
"""

from __future__ import annotations

import re

from vstream_ros.answering import timefmt
from vstream_ros.answering.phrases import plural
from vstream_ros.answering.question import OPTION_LETTERS, Question
from vstream_ros.backends.lite.sightings import Composed
from vstream_ros.memory.tracks import Track

ACROSS, DEPTH = 0.2, 1.4
STILL, STILL_DEPTH, STILL_S = 0.05, 1.15, 3.0
MIN_FRAMES = 3

LEFT_TO_RIGHT, RIGHT_TO_LEFT, TOWARD, AWAY, STILL_KIND = "left to right", "right to left", "toward", "away", "still"
SAID = {LEFT_TO_RIGHT: "from left to right", RIGHT_TO_LEFT: "from right to left",
        TOWARD: "toward the camera", AWAY: "away from the camera", STILL_KIND: "staying still"}

# what an option or an answer names, first match wins ("from right to left" before "to the left")
_WORDS = [
    (LEFT_TO_RIGHT, r"\bleft\s+to\s+(?:the\s+)?right\b|\bto\s+the\s+right\b|\brightwards?\b"),
    (RIGHT_TO_LEFT, r"\bright\s+to\s+(?:the\s+)?left\b|\bto\s+the\s+left\b|\bleftwards?\b"),
    (AWAY, r"\baway\s+from\s+(?:the\s+)?camera\b|\bstraight\s+away\b|\binto\s+the\s+distance\b|\bfurther\s+away\b"),
    (TOWARD, r"\btowards?\s+(?:the\s+)?camera\b|\bcloser\b|\bapproach"),
    (STILL_KIND, r"\b(?:stood|stand|standing|stayed|stay|kept)\s+still\b|\bdid\s*n[o']t\s+move\b|\bstationary\b|"
                 r"\bnot\s+moving\b|\bstayed\s+(?:put|where)"),
]


def of_text(text: str) -> str | None:
    """The direction an option names, if it names one."""
    return next((kind for kind, pattern in _WORDS if re.search(pattern, text, re.I)), None)


def of_options(options: tuple[str, ...]) -> list[str | None] | None:
    """Each option's direction, when at least two options name one (a question about which way); else None."""
    kinds = [of_text(o) for o in options]
    return kinds if sum(k is not None for k in kinds) >= 2 else None


def of_track(t: Track) -> str | None:
    """Which way one track went, or None: too short, or no clear way."""
    (a0, b0, a1, b1), (c0, d0, c1, d1) = t.first_box, t.last_box
    h0, h1 = b1 - b0, d1 - d0
    if t.frames < MIN_FRAMES or h0 <= 0 or h1 <= 0:
        return None
    dx, grew = (c0 + c1 - a0 - a1) / 2, h1 / h0
    if abs(dx) >= ACROSS:
        return LEFT_TO_RIGHT if dx > 0 else RIGHT_TO_LEFT
    if grew >= DEPTH or grew <= 1 / DEPTH:
        return TOWARD if grew > 1 else AWAY
    if abs(dx) < STILL and 1 / STILL_DEPTH <= grew <= STILL_DEPTH and t.last - t.first >= STILL_S:
        return STILL_KIND
    return None


def verdict(q: Question, name: str, tracks: list[Track]) -> tuple[str | None, str]:
    """The way the tracks went, when those followed long enough mostly show one and none shows another
    (None otherwise), and the sentence that says so or why it cannot be told."""
    long = [t for t in tracks if t.frames >= MIN_FRAMES]
    shown = [(t, w) for t in long if (w := of_track(t)) is not None]
    names = plural(name)
    followed = f"{len(long)} {name if len(long) == 1 else names} I followed for {MIN_FRAMES} frames or more"
    if not long:
        return None, f"I cannot tell which way: I followed no {name} for {MIN_FRAMES} frames or more"
    kinds = {w for _, w in shown}
    if len(kinds) > 1:
        told = "; ".join(f"{sum(w == k for _, w in shown)} {SAID[k]}" for k in sorted(kinds))
        return None, f"I cannot tell which way: of the {followed}, some went different ways ({told})"
    if 2 * len(shown) < len(long):
        return None, f"I cannot tell which way: of the {followed}, {len(shown)} went clearly one way"
    kind = kinds.pop()
    first, last = min(t.first for t, _ in shown), max(t.last for t, _ in shown)
    who = (f"the {name} I followed" if len(long) == 1 else
           f"{'all ' if len(shown) == len(long) else ''}{len(shown)} of the {followed}")
    went = "stayed still" if kind == STILL_KIND else f"went {SAID[kind]}"
    return kind, f"{who} {went} ({timefmt.span(first, last, q.origin)})"


def answer(q: Question, name: str, tracks: list[Track]) -> Composed:
    """'Which way did the people walk?'"""
    kind, said = verdict(q, name, tracks)
    if kind is None:
        return Composed(said + ".", [], {"abstained": True})
    return Composed(f"{SAID[kind][0].upper()}{SAID[kind][1:]}: {said}.", [], {"direction": kind})


def choose(q: Question, name: str, tracks: list[Track], kinds: list[str | None]) -> Composed:
    """The option naming the way the tracks went (see `verdict`); none stated when it is not among them."""
    kind, said = verdict(q, name, tracks)
    if kind is None:
        return Composed(f"I cannot tell which option is right: {said[len('I cannot tell which way: '):]}.", [],
                        {"abstained": True})
    if kind not in kinds:
        return Composed(f"I cannot tell which option is right: {said}, which no option says.", [],
                        {"abstained": True, "direction": kind})
    i = kinds.index(kind)
    return Composed(f"({OPTION_LETTERS[i]}) {q.options[i]}: {said}.", [], {"option": OPTION_LETTERS[i],
                                                                          "direction": kind})
