"""Questions as data: the text of a question turned into what it asks, about what, and when.

No ROS and no model: a small grammar of the ways operators, programs and benchmarks ask a video
memory about what it saw. Every backend receives the parsed `Question`; the engine turns its time
reference into a memory window. What the grammar does not recognise is an open description
(`Intent.DESCRIBE`) of the question's own words, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from vstream_ros.answering.words import CARDINALS, COLOUR_WORDS


class Intent(StrEnum):
    PRESENCE = "presence"          # yes or no: did you see X?
    WHEN = "when"                  # when did you see X? (first and last sighting, merged spans)
    FIRST_SEEN = "first_seen"
    LAST_SEEN = "last_seen"
    AT_TIME = "at_time"            # what was there at the start / at the end / N s ago / at 12 s?
    RECENT = "recent"              # what did you see in the last N seconds?
    COUNT = "count"                # how many X?
    ATTRIBUTE = "attribute"        # what colour was X? / is X red?
    CHOICE = "multiple_choice"     # one of the given options
    DESCRIBE = "describe"          # what did you see? what happened after X?
    WHERE = "where"                # where did you see X? (the robot's pose)


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


@dataclass(frozen=True)
class Question:
    """A question as data. `subject` is the thing asked about ("a red car", "people"), empty when the
    question names none; `value` is the value a yes/no attribute question checks ("red")."""

    text: str
    intent: Intent
    subject: str = ""
    attribute: str = ""            # "colour" for colour questions, "duration" for "how long was X there"
    value: str = ""
    options: tuple[str, ...] = ()  # the choices of a multiple-choice question; of a presence one, any of them
    time: TimeRef | None = None
    yes_no: bool = False           # the answer must begin with Yes or No
    # filled in by the engine from the memory, for the answerer:
    origin: float = 0.0            # the stream's first stamp: times in answers count from it
    newest: float = 0.0            # the newest stamp in memory ("now")
    window: tuple[float, float] | None = None   # what the memory read was restricted to
    frame_interval: float = 1.0    # typical seconds between a camera's frames (what "adjacent" means)

    def with_intent(self, intent: Intent) -> Question:
        return replace(self, intent=intent)


# ------------------------------------------------------------------- words
_NUMBER_WORDS = {**CARDINALS, "a": 1, "an": 1, "a few": 3, "few": 3, "a couple of": 2, "couple of": 2, "half a": 0.5,
                 "several": 5}
_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
          "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True)) + r")"
_UNIT = r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b"
COLOURS = COLOUR_WORDS
_COLOUR_WORD = r"(?:colou?r|colou?rs|colou?red)"


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
    (re.compile(rf"\bat\s+(?:second\s+)?(\d+(?:\.\d+)?)\s*{_UNIT}(?:\s+(?:into|in)\s+the\s+(?:video|stream|recording))?",
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


# ------------------------------------------------------------------ options
OPTION_LETTERS = "ABCDEFGH"      # a multiple-choice question's options, in order
_INLINE_OPTION = re.compile(
    r"(?:^|\s|\n)(?:\(([A-H])\)|([A-H])[.):])\s+(.+?)(?=(?:\s|\n)(?:\([A-H]\)|[A-H][.):])\s|\n|$)", re.S)


_LISTED_OPTIONS = re.compile(r"^((?:which|what)\b[^:?]*?)\s*[:,]\s*([^:?]+?\bor\b[^:?]+?)\s*\?*$", re.I)


def split_options(text: str) -> tuple[str, tuple[str, ...]]:
    """'Which ...? (A) x (B) y' -> ('Which ...?', ('x', 'y')); also 'A. x' lines."""
    found = list(_INLINE_OPTION.finditer(text))
    letters = [m.group(1) or m.group(2) for m in found]
    if len(found) >= 2 and letters == list(OPTION_LETTERS[: len(found)]):
        stem = text[: found[0].start()].strip()
        stem = re.sub(r"\s*(?:options?|choices?)\s*:?\s*$", "", stem, flags=re.I)
        return stem, tuple(m.group(3).strip().rstrip(".;,") for m in found)
    m = _LISTED_OPTIONS.match(" ".join(text.split()))
    if m:                                              # "Which of these did you see: a dog, a cat or a bird?"
        items = [x.strip() for x in re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", m.group(2)) if x.strip()]
        if len(items) >= 2:
            return m.group(1).strip(), tuple(items)
    return text, ()


# ------------------------------------------------------------------- intents
_AUX = r"(?:did|do|does|have|has|had|was|were|is|are|can|could|would|will)"
_SEE = r"(?:see|seen|saw|spot|spotted|notice|noticed|observe|observed|find|found|encounter|encountered|detect|" \
       r"detected|catch\s+sight\s+of|come\s+across|pass|passed|meet|met)"
_ANSWER_HINT = re.compile(r"(?<=[?.!])\s*(?:please\s+)?(?:answer|respond|reply|choose|select|pick)\b.*$"
                          r"|\s*\(?(?:yes\s+or\s+no|yes/no)\)?\s*[?.]*\s*$", re.I | re.S)


@dataclass
class _Rule:
    pattern: re.Pattern
    intent: Intent
    yes_no: bool = False


def _r(p: str, intent: Intent, yes_no: bool = False) -> _Rule:
    return _Rule(re.compile(p, re.I), intent, yes_no)


def _moved(verbs: str, intent: Intent) -> _Rule:
    """'When did the man leave (the scene)?': the last sighting; '... arrive?': the first."""
    return _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time)\s+(?:{_AUX}\s+)?(?P<s>.+?)\s+(?:{verbs})"
              r"(?:\s+the\s+(?:scene|view|frame|picture))?$", intent)


# Ordered: the first match decides; the named group "s" is the subject.
_RULES: list[_Rule] = [
    _r(rf"^where\s+(?:{_AUX}\s+)?(?:you\s+|i\s+|we\s+)?(?:last\s+|first\s+)?(?:{_SEE}\s+|put\s+|leave\s+|left\s+|"
       rf"place\s+|drop\s+)?(?P<s>.*?)"
       rf"(?:\s+(?:{_AUX}\s+)?(?:last\s+|first\s+)?(?:seen|spotted|found|located|left|put|placed))?$", Intent.WHERE),
    _r(rf"^how\s+long\s+ago\s+{_AUX}\s+(?:you\s+|i\s+|we\s+)?(?:last\s+)?{_SEE}\s+(?P<s>.*)$", Intent.LAST_SEEN),
    _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time)\s+(?:{_AUX}\s+)?(?:you\s+|i\s+|we\s+)?first\s+"
       rf"(?:{_SEE}\s+)?(?P<s>.*?)(?:\s+(?:appear|show\s+up|come\s+into\s+view|enter).*)?$", Intent.FIRST_SEEN),
    _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time)\s+(?:{_AUX}\s+)?(?P<s>.+?)\s+first\s+"
       rf"(?:appear|appeared|show\s+up|seen|spotted|visible|come\s+into\s+view|enter).*$", Intent.FIRST_SEEN),
    _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time)\s+(?:{_AUX}\s+)?(?:you\s+|i\s+|we\s+)?last\s+"
       rf"(?:{_SEE}\s+)?(?P<s>.*)$", Intent.LAST_SEEN),
    _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time)\s+(?:{_AUX}\s+)?(?P<s>.+?)\s+last\s+"
       rf"(?:seen|spotted|visible|appear|appeared|there).*$", Intent.LAST_SEEN),
    _moved(r"leave|left|disappear|disappeared|go\s+away|went\s+away|exit|exited|drive\s+off|drove\s+off|"
           r"move\s+out\s+of\s+view", Intent.LAST_SEEN),
    _moved(r"arrive|arrived|enter|entered|come\s+in|came\s+in|come\s+into\s+view|came\s+into\s+view",
           Intent.FIRST_SEEN),
    _r(r"^(?:when\s+was\s+the\s+first\s+time)\s+(?:you\s+|i\s+)?(?:saw|see|seen)?\s*(?P<s>.*)$", Intent.FIRST_SEEN),
    _r(r"^(?:when\s+was\s+the\s+last\s+time)\s+(?:you\s+|i\s+)?(?:saw|see|seen)?\s*(?P<s>.*)$", Intent.LAST_SEEN),
    _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time|during\s+which\s+(?:time|part|seconds?))\s+"
       rf"(?:{_AUX}\s+)?(?:you\s+|i\s+|we\s+)?(?:{_SEE}\s+)?(?P<s>.*?)(?:\s+(?:appear|appeared|show\s+up|showed\s+up|"
       rf"seen|visible|on\s+(?:camera|screen)|in\s+view|there|present))?$", Intent.WHEN),
    _r(rf"^(?:for\s+)?how\s+long\s+(?:{_AUX}\s+)?(?:you\s+|i\s+|we\s+)?(?:{_SEE}\s+)?(?P<s>.*?)(?:\s+(?:on\s+"
       r"(?:camera|screen)|in\s+(?:view|the\s+(?:video|picture|frame))|visible|there|present|stay|stayed|remain|"
       r"remained|around|for))*$", Intent.WHEN),
    _r(rf"^{_AUX}\s+there\s+(?P<n>more\s+than|over|at\s+least)\s+(?P<v>\d+|{'|'.join(_NUMBER_WORDS)})\s+"
       r"(?P<s>.+)$", Intent.COUNT, yes_no=True),
    _r(r"^(?:how\s+many|what\s+(?:is\s+the\s+)?number\s+of|count\s+(?:the\s+)?)\s*(?P<s>.*?)"
       rf"(?:\s+(?:{_AUX}|were|was|are|is)\s+(?:you\s+|there\s+|i\s+)?.*)?$", Intent.COUNT),
    _r(rf"^(?:what|which)\s+{_COLOUR_WORD}\s+(?P<v>[a-z]+)\s+(?:was|is|were|are|did|does)\s+(?P<s>.+?)\s+"
       r"(?:wearing|wear|have|has|had)$", Intent.ATTRIBUTE),
    _r(rf"^(?:what|which)\s+{_COLOUR_WORD}\s+(?:{_AUX}\s+|of\s+)?(?P<s>.*?)(?:\s+(?:have|had|wear|wearing|"
       rf"is|was|are|were)\b.*)?$", Intent.ATTRIBUTE),
    _r(rf"^what\s+(?:is|was|are|were)\s+the\s+{_COLOUR_WORD}\s+of\s+(?P<s>.*)$", Intent.ATTRIBUTE),
    _r(rf"^(?:is|was|are|were)\s+(?P<s>.+?)\s+(?:{'|'.join(COLOURS)})(?:\s*,\s*(?:{'|'.join(COLOURS)}))*,?\s+or\s+"
       rf"(?:{'|'.join(COLOURS)})$", Intent.ATTRIBUTE),
    _r(rf"^(?:is|was|are|were)\s+(?P<s>.+?)\s+(?P<v>{'|'.join(COLOURS)})$", Intent.ATTRIBUTE, yes_no=True),
    _r(rf"^(?:what|who)\s+(?:{_AUX}\s+)?(?:(?:was|is)\s+)?(?:you\s+|i\s+|we\s+)?(?:{_SEE}|there|on\s+(?:camera|screen)|"
       r"in\s+(?:front\s+of\s+the\s+camera|view)|visible|happened|happening|going\s+on|the\s+scene)\b.*$",
       Intent.DESCRIBE),
    _r(r"^(?:describe|summari[sz]e|tell\s+me\s+(?:about|what)|list)\b.*$", Intent.DESCRIBE),
    _r(r"^what\s+(?:is|was|are|were)\s+(?P<s>.+?)\s+doing\b.*$", Intent.DESCRIBE),
    _r(r"^who\b.*$", Intent.DESCRIBE),
    _r(r"^(?:anything|any\s+thing)\b.*$", Intent.DESCRIBE),
    _r(rf"^{_AUX}\s+(?:you\s+|i\s+|we\s+)?(?:ever\s+|already\s+)?(?:{_SEE})\s+(?:any\s+)?(?P<s>.*)$", Intent.PRESENCE,
       yes_no=True),
    _r(rf"^{_AUX}\s+there\s+(?:ever\s+)?(?:any\s+|a\s+|an\s+)?(?P<s>.*)$", Intent.PRESENCE, yes_no=True),
    _r(rf"^{_AUX}\s+(?:any\s+)?(?P<s>.+?)\s+(?:appear|appeared|show\s+up|showed\s+up|visible|in\s+view|on\s+"
       r"(?:camera|screen)|present|seen|there|pass\s+by|passed\s+by|drive\s+by|around)$", Intent.PRESENCE, yes_no=True),
    _r(rf"^{_AUX}\s+(?:any\s+|a\s+|an\s+|the\s+)?(?P<s>.+)$", Intent.PRESENCE, yes_no=True),
    _r(r"^any\s+(?P<s>.+)$", Intent.PRESENCE, yes_no=True),
]
_ARTICLE = re.compile(r"^(?:a|an|the|any|some|of|all)\s+", re.I)
_TRAILING = re.compile(rf"\s+(?:{_AUX}\s+)?(?:you\s+|i\s+|we\s+)?(?:{_SEE}|appear|appeared|there|so\s+far|today|"
                       r"yet|ever|in\s+(?:the\s+)?(?:video|stream|footage|recording|memory|view)|on\s+(?:camera|screen))"
                       r"\s*$", re.I)


def _clean_subject(s: str) -> str:
    s = re.sub(r"[?.!,;:]+$", "", s.strip())
    for _ in range(3):
        s2 = _TRAILING.sub("", s).strip()
        if s2 == s:
            break
        s = s2
    return s.strip()


def parse(text: str) -> Question:
    """Parse a question; never raises (an unrecognised question is an open description)."""
    raw = " ".join(text.split()) if "\n" not in text else text.strip()
    raw = re.sub(r"\b(what|who|where|when|how|there|that|it)['’]s\b", r"\1 is", raw, flags=re.I)
    stem, options = split_options(raw)
    stem = _ANSWER_HINT.sub("", " ".join(stem.split())).strip()
    event = None
    time, rest = find_time(stem)
    if time is None:
        m = _EVENT.search(stem)
        if m and not re.match(r"^(?:when|what\s+time)\b", stem, re.I):
            kind = TimeKind.BEFORE if m.group(1).lower() == "before" else TimeKind.AFTER
            event = _clean_subject(m.group(2))
            time, rest = TimeRef(kind, event=event), stem[: m.start()].strip()
    core = re.sub(r"[?.!]+$", "", rest).strip()
    core = re.sub(r"\s+(?:in|during|of)\s*$", "", core)
    if options:
        return Question(text, Intent.CHOICE, subject=_clean_subject(core), options=options, time=time)
    for rule in _RULES:
        m = rule.pattern.match(core)
        if not m:
            continue
        groups = m.groupdict()
        subject = _ARTICLE.sub("", _clean_subject(groups.get("s") or ""))
        value = (groups.get("v") or "").lower()
        if rule.intent is Intent.ATTRIBUTE and value and not rule.yes_no:
            subject, value = f"{subject}'s {value}", ""   # "what colour shirt was the man wearing": his shirt
        if rule.intent is Intent.COUNT and value:          # "was there more than one X": the least count for yes
            value = str(int(_number(value)) + (0 if groups["n"].lower().startswith("at") else 1))
        if rule.pattern.pattern.startswith("^who"):
            subject = "person"
        intent = rule.intent
        if intent is Intent.PRESENCE and re.match(r"^(?:you|i|we)\s", subject, re.I):
            intent, subject = Intent.DESCRIBE, ""        # "did you do ..." is not about something seen
        if intent is Intent.DESCRIBE and time is not None and time.kind in (TimeKind.LAST,) and not event:
            intent = Intent.RECENT
        elif intent is Intent.DESCRIBE and time is not None and not event:
            intent = Intent.AT_TIME
        attribute = "colour" if intent is Intent.ATTRIBUTE else ""
        if intent is Intent.WHEN and re.match(r"^(?:for\s+)?how\s+long\b", core, re.I):
            attribute = "duration"
        alternatives: tuple[str, ...] = ()
        if intent is Intent.PRESENCE and re.search(r"\bor\b", subject):   # "a dog, a cat or a bird": any of them
            items = [_ARTICLE.sub("", x.strip()) for x in re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", subject)]
            alternatives = tuple(x for x in items if x) if len([x for x in items if x]) >= 2 else ()
        return Question(text, intent, subject=subject, attribute=attribute, value=value, time=time,
                        yes_no=rule.yes_no, options=alternatives)
    intent = Intent.DESCRIBE
    if time is not None and not event:                  # "what's the last thing you saw": what was there then
        intent = Intent.RECENT if time.kind is TimeKind.LAST else Intent.AT_TIME
    return Question(text, intent, subject="", time=time)
