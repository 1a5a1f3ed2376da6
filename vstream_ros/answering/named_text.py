"""Words a question names: "the word EXIT", "the words BLACK LIVES", "the PEDESTRIAN ALARM label", the "OPEN"
sign. Whatever else it says, such a question asks about text read in the scene (whether it was read, or
when), not about a thing to recognise ("word MATTER", "PEDESTRIAN ALARM label").

Named words are quoted, or written in capitals in a question that is not all capitals: "did you see the
word exit" names no word (it may be any text), "the STOP sign" does."""

from __future__ import annotations

import re

_QUOTED = r"[\"“‘](?P<q>[^\"”’]+)[\"”’]"
_CAPS = r"(?P<c>#?[A-Z0-9][A-Z0-9#&'’-]*(?:\s+#?[A-Z0-9][A-Z0-9#&'’-]*)*)"
_WORD = re.compile(rf"\b(?i:the|a|any)\s+(?i:words?|text|writing)\s+(?:{_QUOTED}|{_CAPS})")
BEARERS = ("sign", "label", "banner", "poster", "notice", "message", "screen", "display", "placard", "billboard",
           "board")
_LABELLED = re.compile(rf"\b(?i:the|a|an|any)\s+(?:{_QUOTED}|(?P<l>#?[A-Z0-9][A-Z0-9#&'’-]+(?:\s+#?[A-Z0-9]"
                       rf"[A-Z0-9#&'’-]+)*))\s+(?i:{'|'.join(BEARERS)})s?\b")


# capitals that name what a thing is, not what it says: "the TV screen", "an LED sign"
KINDS = frozenset(("TV", "LED", "LCD", "OLED", "USB", "PC", "CD", "DVD", "GPS", "HD", "ID", "IT"))


def named_text(question: str) -> str:
    """The words a question names, as written ("EXIT", "PEDESTRIAN ALARM"); "" when it names none."""
    shouting = question.upper() == question       # "DID YOU SEE A DOG": capitals name nothing
    for pattern in (_WORD, _LABELLED):
        m = pattern.search(question)
        if m and (m.group("q") or not shouting):
            words = " ".join((m.group("q") or m.group("c" if pattern is _WORD else "l") or "").split())
            if m.group("q") or words not in KINDS:
                return words
    return ""


_FIRST = re.compile(r"\b(?:first|appear\w*|show\s+up|come\s+into\s+view|c[oa]me\s+on|start\w*)\b", re.I)
_LAST = re.compile(r"\b(?:last|disappear\w*|go\s+off|went\s+off|gone|end\w*)\b", re.I)


def moment(question: str) -> str:
    """Which end of its time on camera a when-question about words asks for: "first", "last" or "" (both)."""
    return "first" if _FIRST.search(question) else "last" if _LAST.search(question) else ""
