"""Questions about people or things other than the ones they name: "Was anyone else there besides the woman and
the dog?", "Did anyone else join him?", "Apart from the two children, did you see anybody?", "How many people were
there other than the girl?".

The exclusion is taken out of the question before it is parsed ("Was anyone there?") and kept as
`Question.besides` ("the woman and the dog"): before, it became part of a thing's name ("I saw an anyone else
there besides the woman and the dog"), or was dropped, so that "how many people besides the girl" counted her
too. "Else" that names no one ("did someone else come in?") leaves out someone the question does not say:
`besides` is then UNNAMED, and an answer cannot count who is left out.
"""

from __future__ import annotations

import re

from vstream_ros.answering.phrases import analyse, verb_lemma

UNNAMED = "someone"
_AUXILIARIES = frozenset(("was", "were", "is", "are", "had", "has", "have", "did", "do", "does", "will", "would",
                          "can", "could"))
_DO = re.compile(r"^(?:\w+\s+)*?(?:did|do|does|will|would|can|could)\b", re.I)
_WORDS = r"(?:besides|other\s+than|apart\s+from|aside\s+from|except(?:\s+for)?|in\s+addition\s+to)"
_LEADING = re.compile(rf"^{_WORDS}\s+(?P<who>[^,]+?)\s*,\s*", re.I)
_TRAILING = re.compile(rf"\s*,?\s+{_WORDS}\s+(?P<who>[^,?.!]+?)\s*(?=[,?.!]|$)", re.I)
_ELSE = re.compile(r"\b(anyone|anybody|someone|somebody|anything|something|no\s*one|nobody|who)\s+else\b", re.I)
# "did anyone else join him": the one joined is the one left out, and joining is coming into view
_JOINED = re.compile(r"\b(?:join|joined|accompany|accompanied)\s+"
                     r"(?P<who>him|her|them|the\s+\w+(?:\s+and\s+the\s+\w+)?)", re.I)


def split(stem: str) -> tuple[str, str]:
    """(the question without its exclusion, who or what it leaves out: "" when nothing, UNNAMED when "else"
    names no one)."""
    who = ""
    if m := _LEADING.match(stem):
        who, stem = m["who"], stem[m.end():]
        stem = stem[:1].upper() + stem[1:]
    elif m := _TRAILING.search(stem):
        who, rest = _noun_phrase(m["who"], bool(_DO.match(stem)))
        stem = stem[:m.start()] + (f" {rest}" if rest else "") + stem[m.end():]
    if m := _ELSE.search(stem):
        stem = stem[:m.end(1)] + stem[m.end():]
        if not who and (j := _JOINED.search(stem)):
            who, stem = j["who"], stem[:j.start()] + "come" + stem[j.end():]
        who = who or UNNAMED
    return stem, who.strip()


def _noun_phrase(words: str, do_support: bool) -> tuple[str, str]:
    """'the man come in' (of "did anyone besides the man come in") -> ('the man', 'come in'): the left-out noun
    phrase, and the predicate that followed it (the question's own)."""
    said = words.split()
    if aux := next((i for i, w in enumerate(said) if i and w.lower() in _AUXILIARIES), None):
        return " ".join(said[:aux]), " ".join(said[aux:])          # "the two children were there"
    ph = analyse(words, do_support)
    if not ph.predicate:
        return words, ""
    verb = ph.predicate.split()[0]
    at = next((i for i, w in enumerate(said) if i and verb_lemma(w.lower()) == verb), len(said))
    return " ".join(said[:at]), " ".join(said[at:])
