"""A question after a sentence that sets it up: "Two white vans came down the road. When did the second one
appear?" The question is the last sentence; "one", "it" and "they" in it stand for what the sentence before
it named, so the question is read as "When did the second white van appear?". Without this the sentences ran
together ("I cannot tell when did the second one").
"""

from __future__ import annotations

import re

from vstream_ros.answering.phrases import analyse, noun_lemma
from vstream_ros.answering.words import CARDINALS

_SENTENCES = re.compile(r"(?<=[.!])\s+(?=[A-Z])")
_QUANTITY = frozenset((*CARDINALS, "several", "some", "many", "few", "a", "an", "the", "both"))


def resolve(stem: str) -> str:
    """The last sentence of `stem` with its pronouns for the thing the sentences before named; `stem` as it
    is when it is one sentence, or the ones before name nothing."""
    parts = _SENTENCES.split(stem.strip())
    if len(parts) < 2:
        return stem
    question, named = parts[-1], analyse(re.sub(r"[.!]+$", "", parts[-2]))
    words = [w for w in named.text.split() if w.lower() not in _QUANTITY and not w.isdigit()]
    if not named.head or not words:
        return question
    plural, one = " ".join(words), " ".join([*words[:-1], noun_lemma(words[-1].lower())])
    question = re.sub(r"\b(the\s+\w+\s+)ones?\b", lambda m: f"{m.group(1)}{one}", question, flags=re.I)
    question = re.sub(r"\bit\b", f"the {one}", question, flags=re.I)
    return re.sub(r"\b(?:they|them)\b", f"the {plural}", question, flags=re.I)
