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

from vstream_ros.answering import others
from vstream_ros.answering.context import resolve
from vstream_ros.answering.named_text import moment, named_text
from vstream_ros.answering.options import OPTION_LETTERS, split_options
from vstream_ros.answering.phrases import (
    ORDINALS,
    PARTICLES,
    PREPOSITIONS,
    analyse,
    can_be_verb,
    predicate_kind,
    verb_lemma,
)
from vstream_ros.answering.times import _EVENT, _NUMBER_WORDS, TimeKind, TimeRef, _number, clock_seconds, find_time
from vstream_ros.answering.words import COLOUR_WORDS

__all__ = ["OPTION_LETTERS", "Intent", "Question", "TimeKind", "TimeRef", "clock_seconds", "find_time", "parse",
           "split_options"]
COLOURS = COLOUR_WORDS
_COLOUR_WORD = r"(?:colou?r|colou?rs|colou?red)"


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
    WHERE = "where"                # where did you see X? (the robot's pose); "where was this?": the place
    ORDINAL = "ordinal"            # the nth thing of a kind ("when did the second person arrive?")
    TEXT = "text"                  # words read in the scene ("what did the sign say?", "did you see EXIT?")


@dataclass(frozen=True)
class Question:
    """A question as data. `subject` is the thing asked about ("a red car", "people"), empty when the
    question names none; `value` is the value a yes/no attribute question checks ("red")."""

    text: str
    intent: Intent
    subject: str = ""
    attribute: str = ""            # "colour" for colour questions, "duration" for "how long was X there",
    #                                "events" for "what happened", "direction" for "which way did X go"
    value: str = ""
    options: tuple[str, ...] = ()  # the choices of a multiple-choice question; of a presence one, any of them
    time: TimeRef | None = None
    yes_no: bool = False           # the answer must begin with Yes or No
    # filled in by the engine from the memory, for the answerer:
    origin: float = 0.0            # the stream's first stamp: times in answers count from it
    newest: float = 0.0            # the newest stamp in memory ("now")
    window: tuple[float, float] | None = None   # what the memory read was restricted to
    frame_interval: float = 1.0    # typical seconds between a camera's frames (what "adjacent" means)
    # the subject taken apart (answering/phrases.py): what a memory can look for apart from what it did
    head: str = ""                 # the subject's head noun, singular ("person" for someone, she, visitors)
    modifiers: tuple[str, ...] = ()   # its modifiers: "white", "in red jacket", "wearing hat", "carrying box"
    predicate: str = ""            # what the subject did, lemmatised ("arrive", "pull in"); "" when only seen
    complement: str = ""           # what the predicate acts on or where ("hall" of "crossed the hall")
    pronoun: str = ""              # the pronoun or indefinite the subject was said as ("someone", "she", "this")
    ordinal: int = 0               # ORDINAL: the nth thing (or, with attribute "occurrence", the nth stretch);
    #                                -1 the last
    asks: Intent | None = None     # ORDINAL: what is asked of that nth thing (FIRST_SEEN, LAST_SEEN, WHEN, ...)
    distinct: bool = False         # COUNT: distinct things over time ("how many came in"), not most at once
    ego: str = ""                  # the viewer did the predicate to the subject ("did we drive under a bridge"):
    #                                who, as an answer says it ("we", "I", "the robot")
    besides: str = ""              # who or what the question leaves out ("anyone else besides the woman": "the woman";
    #                                others.UNNAMED where "else" names no one: "did someone else come in?")

    @property
    def action(self) -> str:
        """What a memory can tell of the predicate: 'seen', 'arrive', 'leave', 'return', 'action' or ''
        (what the viewer did to the subject is an action whatever its verb: "did we leave the bag")."""
        return "action" if self.ego and self.predicate else predicate_kind(self.predicate)

    def with_intent(self, intent: Intent) -> Question:
        return replace(self, intent=intent)


# ------------------------------------------------------------------- intents
_AUX = r"(?:did|do|does|have|has|had|was|were|is|are|can|could|would|will)"
_SEE = r"(?:see|seen|saw|spot|spotted|notice|noticed|observe|observed|find|found|encounter|encountered|detect|" \
       r"detected|catch\s+sight\s+of|come\s+across|pass|passed|meet|met)"
_WHEN = r"(?:when|at\s+what\s+(?:time|point|moment)|what\s+time)"     # asks for a time
_WE = r"(?:you\s+|i\s+|we\s+)?"                                      # who saw: the camera's wearer, or us
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
    return _r(rf"^{_WHEN}\s+(?:{_AUX}\s+)?(?P<s>.+?)\s+(?P<p>{verbs})"
              r"(?:\s+the\s+(?:scene|view|frame|picture))?$", intent)


# Ordered: the first match decides; the named group "s" is the subject.
_QUOTED = r"[\"'“‘]?(?P<v>[^\"'”’]+?)[\"'”’]?"
_RULES: list[_Rule] = [
    # words read in the scene
    _r(rf"^(?:{_AUX}\s+)?{_WE}(?:ever\s+)?(?:{_SEE}|read)\s+(?:the\s+|a\s+|any\s+)?(?:word|words|"
       rf"text|writing|sign\s+(?:saying|that\s+said|reading)|label\s+(?:saying|reading))\s+{_QUOTED}$", Intent.TEXT,
       yes_no=True),
    _r(rf"^(?:did|does|do)\s+(?P<s>.+?)\s+(?:say|read)\s+{_QUOTED}$", Intent.TEXT, yes_no=True),
    _r(r"^(?:was|is|were|are)\s+(?:the\s+word\s+|the\s+text\s+)?[\"'“‘](?P<v>[^\"'”’]+)[\"'”’]\s+(?:written|shown|"
       r"displayed|visible|on|in)\b\s*(?:on\s+|in\s+)?(?P<s>.*)$", Intent.TEXT, yes_no=True),
    _r(r"^what\s+(?:did|does|do)\s+(?P<s>.+?)\s+(?:say|read|spell)$", Intent.TEXT),   # letters spell words
    # "what did the screen show" asks for text; "what did the camera show" asks what was seen
    _r(r"^what\s+(?:did|does|do)\s+(?P<s>(?:the\s+|that\s+|this\s+|a\s+)?(?:\w+\s+)?(?:sign|screen|display|label|"
       r"board|notice|poster|banner|monitor|plate|placard|billboard)s?)\s+(?:show|display)$", Intent.TEXT),
    _r(r"^what\s+(?:was|is|were|are)\s+(?:written|printed|displayed|shown|painted)\s+(?:on|in)\s+(?P<s>.+)$",
       Intent.TEXT),
    _r(r"^what\s+(?:was|is|were|are)\s+the\s+(?:(?P<o>first|second|third|last|1st|2nd|3rd)\s+)?(?:word|words|text|"
       r"writing|message|line|letters)\s+(?:on|of|in)\s+(?P<s>.+)$", Intent.TEXT),
    _r(r"^(?:what|which)\s+(?:text|words?|writing|letters|message)\b(?:.*?\b(?:on|in)\s+(?P<s>.+)|.*)$", Intent.TEXT),
    _r(r"^(?:read|what\s+(?:does|did)\s+it\s+say)\b(?:\s+(?:the\s+)?(?P<s>.+))?$", Intent.TEXT),
    # the place itself: "where was this?"
    _r(r"^(?:where\s+(?:was|is|were|are)\s+(?:this|that|it|we|you|the\s+camera|the\s+robot)(?:\s+(?:filmed|taken|"
       r"recorded|shot|happening))?|where\s+(?:did|does)\s+(?:this|that|it)\s+(?:happen|take\s+place)|what\s+"
       r"(?:kind\s+of\s+)?(?:place|room|location|setting|scene)\s+(?:is|was)\s+(?:this|that|it))$", Intent.WHERE),
    _r(rf"^where\s+(?:{_AUX}\s+)?{_WE}(?:last\s+|first\s+)?(?:{_SEE}\s+|put\s+|leave\s+|left\s+|"
       rf"place\s+|drop\s+)?(?P<s>.*?)"
       rf"(?:\s+(?:{_AUX}\s+)?(?:last\s+|first\s+)?(?:seen|spotted|found|located|left|put|placed))?$", Intent.WHERE),
    _r(rf"^how\s+long\s+ago\s+{_AUX}\s+{_WE}(?:last\s+)?{_SEE}\s+(?P<s>.*)$", Intent.LAST_SEEN),
    _r(rf"^{_WHEN}\s+(?:{_AUX}\s+)?{_WE}first\s+"
       rf"(?:{_SEE}\s+)?(?P<s>.*?)(?:\s+(?:appear|show\s+up|come\s+into\s+view|enter).*)?$", Intent.FIRST_SEEN),
    _r(rf"^{_WHEN}\s+(?:{_AUX}\s+)?(?P<s>.+?)\s+first\s+"
       rf"(?:appear|appeared|show\s+up|seen|spotted|visible|come\s+into\s+view|enter).*$", Intent.FIRST_SEEN),
    _r(rf"^{_WHEN}\s+(?:{_AUX}\s+)?{_WE}last\s+"
       rf"(?:{_SEE}\s+)?(?P<s>.*)$", Intent.LAST_SEEN),
    _r(rf"^{_WHEN}\s+(?:{_AUX}\s+)?(?P<s>.+?)\s+last\s+"
       rf"(?:seen|spotted|visible|appear|appeared|there).*$", Intent.LAST_SEEN),
    _moved(r"leave|left|disappear|disappeared|go\s+away|went\s+away|exit|exited|drive\s+off|drove\s+off|"
           r"move\s+out\s+of\s+view|go\s+out|went\s+out|walk\s+out|walked\s+out|get\s+out|got\s+out|"
           r"drive\s+away|drove\s+away|walk\s+away|walked\s+away|run\s+away|ran\s+away|depart|departed",
           Intent.LAST_SEEN),
    _moved(r"arrive|arrived|enter|entered|come\s+in|came\s+in|come\s+into\s+view|came\s+into\s+view|"
           r"walk\s+in|walked\s+in|show\s+up|showed\s+up|get\s+in|got\s+in|step\s+in|stepped\s+in",
           Intent.FIRST_SEEN),
    _moved(r"come\s+back|came\s+back|return|returned|reappear|reappeared|go\s+back|went\s+back", Intent.WHEN),
    *(_r(rf"^(?:when\s+was\s+the\s+{which}\s+time)\s+(?:you\s+|i\s+)?(?:saw|see|seen)?\s*(?P<s>.*)$", intent)
      for which, intent in (("first", Intent.FIRST_SEEN), ("last", Intent.LAST_SEEN))),
    _r(rf"^(?:when|at\s+what\s+(?:time|point|moment)|what\s+time|during\s+which\s+(?:time|part|seconds?))\s+"
       rf"(?:{_AUX}\s+)?{_WE}(?:{_SEE}\s+)?(?P<s>.*?)(?:\s+(?:appear|appeared|show\s+up|showed\s+up|"
       rf"seen|visible|on\s+(?:camera|screen)|in\s+view|there|present))?$", Intent.WHEN),
    _r(rf"^(?:for\s+)?how\s+long\s+(?:{_AUX}\s+)?{_WE}(?:{_SEE}\s+)?(?P<s>.*?)(?:\s+(?:on\s+"
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
    _r(rf"^(?:what|who)\s+(?:{_AUX}\s+)?(?:(?:was|is)\s+)?{_WE}(?:{_SEE}|there|on\s+(?:camera|screen)|"
       r"in\s+(?:front\s+of\s+the\s+camera|view)|visible|happened|happening|going\s+on|the\s+scene)\b.*$",
       Intent.DESCRIBE),
    _r(r"^(?:describe|summari[sz]e|tell\s+me\s+(?:about|what)|list)\b.*$", Intent.DESCRIBE),
    _r(r"^what\s+(?:is|was|are|were)\s+(?P<s>.+?)\s+doing\b.*$", Intent.DESCRIBE),
    _r(r"^who\b.*$", Intent.DESCRIBE),
    _r(r"^(?:anything|any\s+thing)\b.*$", Intent.DESCRIBE),
    _r(rf"^{_AUX}\s+{_WE}(?:ever\s+|already\s+)?(?:{_SEE})\s+(?:any\s+)?(?P<s>.*)$", Intent.PRESENCE,
       yes_no=True),
    _r(rf"^{_AUX}\s+there\s+(?:ever\s+)?(?:any\s+|a\s+|an\s+)?(?P<s>.*)$", Intent.PRESENCE, yes_no=True),
    _r(rf"^{_AUX}\s+(?:any\s+)?(?P<s>.+?)\s+(?:appear|appeared|show\s+up|showed\s+up|visible|in\s+view|on\s+"
       r"(?:camera|screen)|present|seen|there|pass\s+by|passed\s+by|drive\s+by|around)$", Intent.PRESENCE, yes_no=True),
    _r(rf"^{_AUX}\s+(?:any\s+|a\s+|an\s+|the\s+)?(?P<s>.+)$", Intent.PRESENCE, yes_no=True),
    _r(r"^any\s+(?P<s>.+)$", Intent.PRESENCE, yes_no=True),
]
_ARTICLE = re.compile(r"^(?:a|an|the|any|some|of|all)\s+", re.I)
# "what happened", "what was going on": a question about events (what was done), not only what was in view
_EVENTS = re.compile(r"\b(?:happen|happened|happens|happening|going\s+on|occurred|occurring)\b", re.I)
# "which way did X go", "in what direction were the cars driving": attribute "direction", X the subject
_DIRECTION = re.compile(r"^(?:in\s+)?(?:which|what)\s+(?:way|direction)\s+(?:did|does|do|was|were|is|are)\s+"
                        r"(?P<s>.+?)\s+(?:walk|walking|go|going|move|moving|drive|driving|head|heading|run|running|ride|riding|"
                        r"travel|travelling|traveling|come|coming|cross|crossing|pass|passing)\b.*$", re.I)
_SEE_TRAIL = _SEE.replace("|pass|passed|", "|")   # "how many cars passed": a predicate, kept
_TRAILING = re.compile(rf"\s+(?:{_AUX}\s+)?{_WE}(?:{_SEE_TRAIL}|appear|appeared|there|so\s+far|today|"
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
    stem = resolve(_ANSWER_HINT.sub("", " ".join(stem.split())).strip())     # "Two vans came. When did the second one"
    stem, besides = others.split(stem)                 # "anyone else besides the woman": who is left out
    q = _parse_stem(text, stem, options)
    return replace(q, besides=besides) if besides else q


def _parse_stem(text: str, stem: str, options: tuple[str, ...]) -> Question:
    event = None
    time, rest = find_time(stem)
    if time is None:
        m = _EVENT.search(stem)
        if m and not re.match(r"^(?:when|what\s+time)\b", stem, re.I):
            kind = TimeKind.BEFORE if m.group(1).lower() == "before" else TimeKind.AFTER
            event = _clean_subject(m.group(2))
            time, rest = TimeRef(kind, event=event), stem[: m.start()].strip()
    core = re.sub(r"[?.!]+$", "", rest).strip()
    if time is not None:                               # "what did you see in <the last 10 s>"
        core = re.sub(r"\s+(?:during|of)\s*$", "", core)
    way = _DIRECTION.match(core)
    if options:
        return Question(text, Intent.CHOICE, subject=_clean_subject(way.group("s") if way else core), options=options,
                        time=time, attribute="direction" if way else "")
    if (named := named_text(core)) and ((asks_when := bool(re.match(rf"^{_WHEN}\b", core, re.I)))
                                        or re.match(rf"^{_AUX}\b", core, re.I)):   # "the word EXIT"
        yes_no = not asks_when                          # else when it was read: first, last or when
        when = {"first": Intent.FIRST_SEEN, "last": Intent.LAST_SEEN}.get(moment(core), Intent.WHEN)
        return Question(text, Intent.TEXT if yes_no else when, attribute="" if yes_no else "text", value=named,
                        time=time, yes_no=yes_no)
    if way:                                            # "which way did the people walk?"
        subject = _ARTICLE.sub("", _clean_subject(way.group("s")))
        return _structure(Question(text, Intent.ATTRIBUTE, subject=subject, attribute="direction", time=time), core,
                          {"s": way.group("s")})
    for rule in _RULES:
        m = rule.pattern.match(core)
        if not m:
            continue
        groups = m.groupdict()
        subject = _ARTICLE.sub("", _clean_subject(groups.get("s") or ""))
        value = (groups.get("v") or "").lower() if rule.intent is not Intent.TEXT else (groups.get("v") or "").strip()
        if rule.intent is Intent.ATTRIBUTE and value and not rule.yes_no:
            subject, value = f"{subject}'s {value}", ""   # "what colour shirt was the man wearing": his shirt
        if rule.intent is Intent.COUNT and value:          # "was there more than one X": the least count for yes
            value = str(int(_number(value)) + (0 if groups["n"].lower().startswith("at") else 1))
        if rule.pattern.pattern.startswith("^who"):
            subject = "person"
            groups = {"s": "someone " + re.sub(r"^who\s+", "", core, flags=re.I)}
        intent = rule.intent
        if intent is Intent.PRESENCE and _EGO.match(subject):
            return _ego(text, subject, time, rule.yes_no)   # "did we drive under a bridge": the bridge is the thing
        if intent is Intent.DESCRIBE and time is not None and time.kind in (TimeKind.LAST,) and not event:
            intent = Intent.RECENT
        elif intent is Intent.DESCRIBE and time is not None and not event:
            intent = Intent.AT_TIME
        attribute = "colour" if intent is Intent.ATTRIBUTE else ""
        if intent in (Intent.DESCRIBE, Intent.RECENT, Intent.AT_TIME) and not subject and _EVENTS.search(core):
            attribute = "events"                       # "what happened?": events, not only what was there
        if intent is Intent.WHEN and re.match(r"^(?:for\s+)?how\s+long\b", core, re.I):
            attribute = "duration"
        alternatives: tuple[str, ...] = ()
        if intent is Intent.PRESENCE and re.search(r"\bor\b", subject):   # "a dog, a cat or a bird": any of them
            items = [_ARTICLE.sub("", x.strip()) for x in re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", subject)]
            alternatives = tuple(x for x in items if x) if len([x for x in items if x]) >= 2 else ()
        q = Question(text, intent, subject=subject, attribute=attribute, value=value, time=time,
                     yes_no=rule.yes_no, options=alternatives)
        return q if alternatives else _structure(q, core, groups)
    intent = Intent.DESCRIBE
    if time is not None and not event:                  # "what's the last thing you saw": what was there then
        intent = Intent.RECENT if time.kind is TimeKind.LAST else Intent.AT_TIME
    return Question(text, intent, subject="", time=time, attribute="events" if _EVENTS.search(core) else "")


# ------------------------------------------------------------------- the viewer's own doing
# "did we / you / the robot <verb> <thing>": the viewer is the doer, and the thing is what a memory can look for;
# as an answer says the doer (asked "you", the node answers "I")
_EGO = re.compile(r"^(?P<who>you|i|we|robot|camera)\s+(?P<verb>[a-z]+)\b\s*(?P<rest>.*)$", re.I)
_EGO_SAID = {"you": "I", "i": "you", "we": "we", "robot": "the robot", "camera": "the camera"}
# what the viewer did that is only having it in view: "did we pass a bus" is "did a bus come into view"
_EGO_SEEN = frozenset(("see", "spot", "notice", "meet", "encounter", "find", "pass", "come across", "run into",
                       "go past", "drive past", "walk past", "ride past", "go by", "drive by", "walk by", "pass by",
                       "come by", "look at", "watch"))


def _ego(text: str, subject: str, time: TimeRef | None, yes_no: bool) -> Question:
    """A question about what the viewer did ("did we drive under a bridge", "did the robot hit a cone").
    Its predicate is the viewer's; its subject is the thing done to, so that a memory looks for the bridge,
    not for "we". Without a thing ("did we stop?"), or without a verb ("were we late?"), nothing can be
    looked for: an open one."""
    m = _EGO.match(subject)
    if not can_be_verb(m["verb"]):
        return Question(text, Intent.DESCRIBE, time=time, yes_no=yes_no)
    words = m["rest"].split()
    verb = [verb_lemma(m["verb"])]
    while words and len(verb) < 3 and words[0].lower() in PARTICLES | PREPOSITIONS:
        verb.append(words.pop(0).lower())          # "drive under", "go into", "stop at", "come across"
    predicate, who = " ".join(verb), _EGO_SAID[m["who"].lower()]
    ph = analyse(" ".join(words))
    if not ph.head or ph.pronoun:                  # "did we stop", "did you hear anything": no thing named
        return Question(text, Intent.DESCRIBE, time=time, yes_no=yes_no, predicate=predicate, ego=who,
                        complement=ph.pronoun if ph.pronoun in ("anything", "something", "it") else "")
    seen = predicate in _EGO_SEEN
    return Question(text, Intent.PRESENCE, subject=ph.text, time=time, yes_no=yes_no, head=ph.head,
                    modifiers=ph.modifiers, predicate="" if seen else predicate, ego="" if seen else who)


# ------------------------------------------------------------- structure
_DO_SUPPORT = re.compile(r"^(?:(?:when|where|why|how\s+many\s+\S+(?:\s+\S+)?|what\s+time|at\s+what\s+\w+)\s+)?"
                         r"(?:did|do|does|will|would|can|could|should|has|have|had)\s+(?!you\b|i\b|we\b)", re.I)
_DISTINCT = re.compile(r"\b(?:different|distinct|separate|individual|in\s+total|in\s+all|altogether|overall|total)"
                       r"\b\s*", re.I)
_OCCURRENCE = re.compile(r"\b(?:the\s+)?(second|third|fourth|fifth|2nd|3rd|4th|5th)\s+time\b", re.I)
_ORDINAL_OF = (Intent.FIRST_SEEN, Intent.LAST_SEEN, Intent.WHEN, Intent.ATTRIBUTE, Intent.PRESENCE, Intent.WHERE,
               Intent.DESCRIBE, Intent.AT_TIME)


def _structure(q: Question, core: str, groups: dict) -> Question:
    """The subject taken apart (phrases.analyse) and the kinds that rest on it: the place ("where was
    this"), ordinals ("the second person"), distinct counts ("how many came in"), a pronoun's referent."""
    if q.intent is Intent.WHERE and "s" not in groups:
        return replace(q, attribute="place")
    subject = _DISTINCT.sub("", q.subject).strip() if q.intent is Intent.COUNT else q.subject
    if q.subject == "person" and groups.get("s", "").startswith("someone "):   # "who came in"
        subject = groups["s"]
    ph = analyse(subject, bool(_DO_SUPPORT.match(core)))
    predicate, complement = ph.predicate, ph.complement
    if groups.get("p"):                                # "when did the man leave": the rule matched the verb
        verb, *rest = groups["p"].lower().split()
        predicate = " ".join([verb_lemma(verb), *rest])
    subject = ph.text if (ph.text or ph.pronoun) else subject
    if q.attribute == "colour" and not ph.predicate:  # "man's shirt", "car directly in front" stay as asked
        subject = q.subject
    q = replace(q, subject=subject, head=ph.head, modifiers=ph.modifiers, predicate=predicate,
                complement=complement, pronoun=ph.pronoun)
    if q.intent is Intent.WHERE and not ph.head and ph.pronoun:
        return replace(q, attribute="place", subject="")
    if q.intent is Intent.PRESENCE and ph.head in ("text", "word", "writing", "lettering") and not predicate:
        return replace(q, intent=Intent.TEXT, subject="", head="")    # "did you see any text?"
    if q.intent is Intent.TEXT:                       # "the second word", "the last line" of what was read
        o = ORDINALS.get((groups.get("o") or "").lower(), 0) or ph.ordinal
        unit = "line" if re.search(r"\b(?:line|row)s?\b", core, re.I) else "word"
        return replace(q, ordinal=o, attribute=unit if o else "")
    if q.intent is Intent.COUNT:
        distinct = bool(_DISTINCT.search(core)) or (bool(predicate) and predicate != "be")
        if re.search(r"\bat\s+(?:once|the\s+same\s+time|a\s+time)\b", core, re.I):
            distinct = False
        return replace(q, distinct=distinct)
    m = _OCCURRENCE.search(core)
    if m and q.intent in _ORDINAL_OF:                # "when did you see him the second time": his 2nd stretch
        n = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5}
        return replace(q, intent=Intent.ORDINAL, asks=Intent.WHEN, attribute="occurrence",
                       ordinal=n[m.group(1).lower()], complement=_OCCURRENCE.sub("", complement).strip(),
                       subject=_OCCURRENCE.sub("", q.subject).strip(),
                       modifiers=tuple(x for x in q.modifiers if not x.endswith(" time")))
    if ph.ordinal and ph.head and q.intent in _ORDINAL_OF:
        asks = q.intent
        if asks is Intent.WHEN and (q.action == "arrive" or re.search(r"\b(?:appear|appeared|show\s+up)\b", core)):
            asks = Intent.FIRST_SEEN
        elif asks is Intent.WHEN and q.action == "leave":
            asks = Intent.LAST_SEEN
        if asks is Intent.ATTRIBUTE:                 # "what colour was the second car": still a colour question
            return replace(q, ordinal=ph.ordinal, asks=asks)
        return replace(q, intent=Intent.ORDINAL, asks=asks, ordinal=ph.ordinal)
    return q
