"""What an answer claims, read from its wording: negation scopes, yes/no polarity, phrases asserted outside a
negation, and the times, counts and positions it states. scoring.py judges these claims against a question's
truth; kept apart so that each stays small and the wording rules can be tested on their own."""

from __future__ import annotations

import re

from vstream_ros.answering.words import CARDINALS, COLOUR_WORDS

STOP = {"a", "an", "the", "is", "are", "was", "were", "of", "in", "on", "at", "to", "and", "or", "with", "it",
        "this", "that", "be", "by", "for", "from", "as", "into", "their", "his", "her", "its", "yes", "no"}
COLOURS = frozenset(COLOUR_WORDS)
IRREGULAR = {"men": "man", "women": "woman", "children": "child", "people": "person", "feet": "foot",
             "gray": "grey", "kids": "kid", "persons": "person"}
NUMBER_WORDS = CARDINALS | {"single": 1, "once": 1, "twice": 2, "none": 0, "nobody": 0, "nothing": 0}

# negation: a cue opens a scope that runs to the end of its clause
_NEG_CUE = re.compile(r"\b(?:not|no|never|nothing|none|nobody|neither|nor|without|cannot)\b|n['’]t\b", re.I)
_CLAUSE_END = re.compile(r"[.;!?\n]+|\b(?:but|however|instead|although|though|whereas|what i did see)\b"
                         r"|,\s*(?=(?:it|i|there|he|she|they|this|that)\s+(?:is|was|were|are|saw|see|has|had)\b)", re.I)
_LEADING_PARTICLE = re.compile(r"^\s*(?:yes|yeah|yep|no|nope)\s*[,.!:;-]", re.I)
_ABSTAIN = re.compile(
    r"^\W*(?:i\s+(?:do\s+not|don['’]?t|dont)\s+know|i\s+(?:cannot|can['’]?t|can\s+not|could\s+not|couldn['’]?t)"
    r"\s+(?:tell|say|answer|determine|know|be\s+sure)|i\s+am\s+(?:not\s+sure|unable\s+to)|i['’]m\s+(?:not\s+sure"
    r"|unable\s+to)|not\s+sure|unsure|unknown|no\s+idea|hard\s+to\s+say|it\s+is\s+unclear|unclear|n/?a\W*$)",
    re.I)
REFUSAL = re.compile(   # an answer that opens by saying it saw nothing of the kind
    r"^\W*(?:no|none|nothing|nobody|i\s+(?:have\s+not|haven['’]?t|did\s+not|didn['’]?t|do\s+not|don['’]?t)\s+(?:seen?|"
    r"spotted|noticed)|i\s+saw\s+(?:no|nothing|none)|there\s+(?:is|was|were|are)\s+(?:no|nothing|none))\b", re.I)
_YES = {"yes", "yeah", "yep", "yup", "correct", "true", "affirmative", "indeed", "sure"}
_NO = {"no", "nope", "never", "none", "nothing", "negative", "nobody", "not"}
_AUX = {"have", "has", "had", "did", "do", "does", "is", "was", "were", "are", "ca", "could", "would", "wo"}
_POS_CUE = {"saw", "seen", "see", "sees", "spotted", "noticed", "observed", "there", "visible", "appeared",
            "appears", "present", "was", "were", "is", "are"}

_NUM = r"\d+(?:\.\d+)?"
_UNIT = r"(?:s|sec|secs|second|seconds)\b"
_TIME_PATTERNS = [   # in order of precedence; a later match overlapping an earlier one is ignored
    ("clock", re.compile(r"(?<![\d.:])(\d{1,3}):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?(?![\d:])")),
    ("range", re.compile(rf"({_NUM})\s*(?:{_UNIT})?\s*(?:-|–|to|and|until|till)\s*({_NUM})\s*{_UNIT}", re.I)),
    ("from_to", re.compile(rf"\bfrom\s+({_NUM})\s*(?:{_UNIT})?\s*(?:-|–|to|until|till)\s*({_NUM})(?![\d.])", re.I)),
    ("minutes", re.compile(rf"({_NUM})\s*(?:min|mins|minute|minutes)\b", re.I)),
    ("seconds", re.compile(rf"({_NUM})\s*{_UNIT}", re.I)),
    ("at", re.compile(rf"\b(?:at|after|since|until)\s+({_NUM})(?![\d.:])(?!\s*(?:%|people|persons|m\b))", re.I)),
]


# ----------------------------------------------------------------- text helpers
def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'", ""))


_ARTICLES = {"a", "an", "the"}


def _variants(w: str) -> set[str]:
    """A word and its possible singulars, so 'bicycles' matches 'bicycle' and 'buses' matches 'bus'."""
    out = {w, IRREGULAR.get(w, w)}
    if len(w) > 3 and w.endswith("s"):
        out.add(w[:-1])
        if w.endswith("es"):
            out.add(w[:-2])
        if w.endswith("ies"):
            out.add(w[:-3] + "y")
    return out


def word_spans(text: str) -> list[tuple[str, int]]:
    """Words of the text (lower case, apostrophes dropped) with their character offsets."""
    low = text.lower().replace("’", "'")
    return [(m.group().replace("'", ""), m.start()) for m in re.finditer(r"[a-z0-9]+(?:'[a-z]+)?", low)]


def negated_ranges(text: str) -> list[tuple[int, int]]:
    """Character ranges under a negation: from each cue to the end of its clause. A leading "No," is an
    answer particle, not a negation of what follows it."""
    skip = m.end() if (m := _LEADING_PARTICLE.match(text)) else 0
    ends = [m.start() for m in _CLAUSE_END.finditer(text)] + [len(text)]
    out = []
    for cue in _NEG_CUE.finditer(text):
        if cue.start() < skip:
            continue
        end = next(e for e in ends if e >= cue.end())
        out.append((cue.start(), end))
    return out


def in_ranges(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in ranges)


def find_phrase(text: str, phrase: str) -> list[int]:
    """Offsets where `phrase` (one or more words, plurals allowed) occurs in `text`."""
    target = [_variants(w) for w in words(phrase) if w not in _ARTICLES]
    spans = [(w, p) for w, p in word_spans(text) if w not in _ARTICLES]
    hits = []
    for i in range(len(spans) - len(target) + 1):
        if target and all(_variants(spans[i + j][0]) & target[j] for j in range(len(target))):
            hits.append(spans[i][1])
    return hits


def asserted(text: str, phrase: str) -> bool:
    """The phrase occurs outside every negated phrase."""
    neg = negated_ranges(text)
    return any(not in_ranges(p, neg) for p in find_phrase(text, phrase))


def abstains(prediction: str) -> bool:
    return not words(prediction) or bool(_ABSTAIN.match(prediction.strip()))


def polarity(text: str) -> int:
    """+1 for an answer that says yes (or that it saw the thing), -1 for no, 0 for neither."""
    ws = [w for w, _ in word_spans(text.split("\n")[0])]
    if not ws:
        return 0
    if ws[0] in _YES:
        return 1
    if ws[0] in _NO:
        return -1
    first_sentence = re.split(r"[.!?;]", text, maxsplit=1)[0]
    ws = [w for w, _ in word_spans(first_sentence)]
    for i, w in enumerate(ws):
        if _negative_word(w):
            return -1
        if w in _POS_CUE:   # "I saw no bicycle", "there was nothing like a dog"; not "I saw a man, not a woman"
            after = [a for a in ws[i + 1: i + 4] if a not in ("was", "were", "is", "are", "be", "been", "really",
                                                               "absolutely", "actually")]
            return -1 if after and _negative_word(after[0]) else 1
    return 0


def _negative_word(w: str) -> bool:
    """no, not, never, ...; also contractions with their apostrophe dropped: havent, didnt, cant, isnt."""
    return w in _NO or w == "cannot" or (w.endswith("nt") and w[:-2] in _AUX)


# ----------------------------------------------------------------- times and numbers
def stated_times(text: str) -> tuple[list[float], list[tuple[int, int]]]:
    """The times (s) an answer states, in order, and where they are in the text."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, float]] = []
    for kind, pat in _TIME_PATTERNS:
        for m in pat.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            g = m.groups()
            if kind == "clock":
                if g[2] is not None:
                    found.append((m.start(), int(g[0]) * 3600 + int(g[1]) * 60 + float(g[2])))
                else:
                    found.append((m.start(), int(g[0]) * 60 + float(g[1])))
            elif kind in ("range", "from_to"):
                found += [(m.start(1), float(g[0])), (m.start(2), float(g[1]))]
            elif kind == "minutes":
                found.append((m.start(), 60 * float(g[0])))
            else:
                found.append((m.start(), float(g[0])))
    return [t for _, t in sorted(found)], taken


def mask_times(text: str) -> str:
    _, taken = stated_times(text)
    return "".join(" " if any(a <= i < b for a, b in taken) else c for i, c in enumerate(text))


def stated_count(text: str) -> int | None:
    """The first number an answer states outside its times (digits or words); "no people" is 0."""
    text_wo = re.sub(r"\bcam(?:era)?\s*#?\d+\b", " ", mask_times(text), flags=re.I)   # "camera 2" is no count
    for m in re.finditer(r"\bno\s+(?:one|body)\b|\b\d+\b|\b[a-z]+\b", text_wo.lower()):
        tok = m.group()
        if tok.startswith("no"):
            if tok in ("no one", "no body", "nobody", "none", "nothing"):
                return 0
            continue
        if tok.isdigit():
            return int(tok)
        if tok in NUMBER_WORDS:
            return NUMBER_WORDS[tok]
    return 0 if polarity(text) < 0 else None    # "I have not seen any people", "I saw no people"


_COORD = r"(-?\d+(?:\.\d+)?)\s*(?:m\b|metres?\b|meters?\b)?"
_POSITIONS = (re.compile(rf"\bx\s*[=:]\s*{_COORD}\s*,?\s*(?:and\s+)?y\s*[=:]\s*{_COORD}", re.I),
              re.compile(rf"\(\s*{_COORD}\s*,\s*{_COORD}\s*(?:,\s*-?\d+(?:\.\d+)?\s*)?\)"))


def stated_positions(text: str) -> list[tuple[float, float]]:
    """The (x, y) positions an answer states, in order: "x=1.20 m, y=-0.40 m", "x: 1.2 and y: 3", "(1.2, -0.4)"."""
    found = []
    for pat in _POSITIONS:
        found += [(m.start(), float(m.group(1)), float(m.group(2))) for m in pat.finditer(text)]
    return [(x, y) for _, x, y in sorted(found)]
