"""Time references in questions: "in the last 10 seconds", "at 0:12", "at the start", "after the car
passed". Data and regular expressions only; question.py cuts the first one out of a question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from vstream_ros.answering.words import CARDINALS


class TimeKind(StrEnum):
    START = "start"                # the first moments of the stream
    NOW = "now"                    # the newest frame ("now", "at the end", "right now")
    AGO = "ago"                    # `a` seconds before the newest frame
    AT = "at"                      # `a` seconds after the first frame
    LAST = "last"                  # the last `a` seconds
    FIRST = "first"                # the first `a` seconds
    BETWEEN = "between"            # from `a` to `b` seconds after the first frame
    AFTER = "after"                # after `a` seconds, or after the event `event`
    BEFORE = "before"              # before `a` seconds, or before the event `event`


@dataclass(frozen=True)
class TimeRef:
    kind: TimeKind
    a: float = 0.0
    b: float = 0.0
    event: str = ""                # for AFTER / BEFORE an event ("after the car passed")

    def moment(self, origin: float, newest: float) -> float | None:
        """The one instant a point reference names (the start, now, N s ago, at N s); None for a span."""
        return {TimeKind.START: origin, TimeKind.NOW: newest, TimeKind.AGO: newest - self.a,
                TimeKind.AT: origin + self.a}.get(self.kind) if not self.event else None

    def window(self, origin: float, newest: float, tolerance: float = 1.0) -> tuple[float, float] | None:
        """The absolute stamps this refers to, given the stream's first and newest stamps; None for a
        reference to an event (the answerer finds the event first)."""
        k, a, b = self.kind, self.a, self.b
        if self.event:
            return None
        if k is TimeKind.START:
            return origin, origin + tolerance
        if k is TimeKind.NOW:
            return newest - tolerance, newest
        if k is TimeKind.AGO:
            return newest - a - tolerance, newest - a + tolerance
        if k is TimeKind.AT:
            return origin + a - tolerance, origin + a + tolerance
        if k is TimeKind.LAST:
            return newest - a, newest
        if k is TimeKind.FIRST:
            return origin, origin + a
        if k is TimeKind.BETWEEN:
            return origin + a, origin + b
        if k is TimeKind.AFTER:
            return origin + a, newest
        return origin, origin + a                     # BEFORE


# ------------------------------------------------------------------- words
_NUMBER_WORDS = {**CARDINALS, "a": 1, "an": 1, "a few": 3, "few": 3, "a couple of": 2, "couple of": 2, "half a": 0.5,
                 "several": 5}
_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
          "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True)) + r")"
_UNIT = r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b"


def _number(text: str) -> float:
    text = text.strip().lower()
    return float(text) if re.fullmatch(r"\d+(?:\.\d+)?", text) else float(_NUMBER_WORDS[text])


def clock_seconds(text: str) -> float:
    """'0:12' / '1:02:03' / '00:02:37.5' -> seconds."""
    parts = [float(p) for p in text.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def _seconds(num: str, unit: str | None) -> float:
    return _number(num) * _UNITS.get((unit or "s").lower(), 1)


# -------------------------------------------------------------- time refs
_TIME_PATTERNS: list[tuple[re.Pattern, callable]] = [
    (re.compile(rf"\b(?:in|during|over|within|for)?\s*the\s+(?:last|past|previous|latest)\s+(?:{_NUM}\s*)?{_UNIT}",
                re.I), lambda m: TimeRef(TimeKind.LAST, _seconds(m.group(1) or "1", m.group(2)))),
    (re.compile(rf"\b(?:in|during|within)?\s*the\s+first\s+(?:{_NUM}\s*)?{_UNIT}", re.I),
     lambda m: TimeRef(TimeKind.FIRST, _seconds(m.group(1) or "1", m.group(2)))),
    (re.compile(rf"\b{_NUM}\s*{_UNIT}\s+ago\b", re.I),
     lambda m: TimeRef(TimeKind.AGO, _seconds(m.group(1), m.group(2)))),
    (re.compile(r"\bbetween\s+(\d+(?:\.\d+)?)\s*(?:s|sec|seconds)?\s+and\s+(\d+(?:\.\d+)?)\s*(?:s|sec|seconds)?\b",
                re.I),
     lambda m: TimeRef(TimeKind.BETWEEN, float(m.group(1)), float(m.group(2)))),
    (re.compile(r"\b(?:from|between)\s+(\d+:\d\d(?::\d\d)?)\s+(?:to|and|until|-)\s+(\d+:\d\d(?::\d\d)?)\b", re.I),
     lambda m: TimeRef(TimeKind.BETWEEN, clock_seconds(m.group(1)), clock_seconds(m.group(2)))),
    (re.compile(r"\bat\s+(\d+:\d\d(?::\d\d)?)\b", re.I), lambda m: TimeRef(TimeKind.AT, clock_seconds(m.group(1)))),
    (re.compile(rf"\b(?:at|around)\s+(?:about\s+|around\s+|roughly\s+|approximately\s+)?(?:second\s+)?"
                rf"(\d+(?:\.\d+)?)\s*{_UNIT}(?:\s+(?:into|in)\s+the\s+(?:video|stream|recording))?",
                re.I), lambda m: TimeRef(TimeKind.AT, _seconds(m.group(1), m.group(2)))),
    (re.compile(rf"\bafter\s+(\d+(?:\.\d+)?)\s*{_UNIT}", re.I),
     lambda m: TimeRef(TimeKind.AFTER, _seconds(m.group(1), m.group(2)))),
    (re.compile(rf"\bbefore\s+(\d+(?:\.\d+)?)\s*{_UNIT}", re.I),
     lambda m: TimeRef(TimeKind.BEFORE, _seconds(m.group(1), m.group(2)))),
    (re.compile(r"\bthe\s+(?:very\s+)?first\s+things?\b", re.I), lambda m: TimeRef(TimeKind.START)),
    (re.compile(r"\bthe\s+(?:very\s+)?(?:last|latest|most\s+recent)\s+things?\b", re.I),
     lambda m: TimeRef(TimeKind.NOW)),
    (re.compile(r"\b(?:at|in|during)\s+the\s+(?:very\s+)?(?:start|beginning|outset)\b|\b(?:at\s+)?first\s+glance\b"
                r"|\bin\s+the\s+first\s+(?:frame|moments?)\b|\bat\s+the\s+start\s+of\s+the\s+\w+", re.I),
     lambda m: TimeRef(TimeKind.START)),
    (re.compile(r"\b(?:at|in|by)\s+the\s+(?:very\s+)?end\b|\bin\s+the\s+(?:last|final)\s+(?:frame|moments?)\b"
                r"|\bright\s+now\b|\bjust\s+now\b|\bcurrently\b|\bat\s+the\s+moment\b|\bnow\b|\bat\s+present\b"
                r"|\bmost\s+recently\b|\blatest\s+frame\b", re.I),
     lambda m: TimeRef(TimeKind.NOW)),
    # "is the person still there?": at the newest frame; not "did he stand still?", "was the car still?"
    (re.compile(r"(?<!stand\s)(?<!stood\s)(?<!standing\s)(?<!sit\s)(?<!sat\s)(?<!keep\s)(?<!kept\s)(?<!stay\s)"
                r"(?<!stayed\s)(?<!hold\s)(?<!held\s)(?<!lie\s)(?<!lay\s)\bstill\b(?!\s*[?.!]*\s*$)", re.I),
     lambda m: TimeRef(TimeKind.NOW)),
]
# "after/before <event>" where the event is a clause, not a time
_EVENT = re.compile(r"\b(after|before|once|when)\s+(?!\d)(.+?)(?:[?.!]|$)", re.I)


def find_time(text: str) -> tuple[TimeRef | None, str]:
    """The first time reference in the text, and the text with it cut out."""
    for pattern, make in _TIME_PATTERNS:
        m = pattern.search(text)
        if m:
            return make(m), (text[: m.start()] + " " + text[m.end():]).strip()
    return None, text


