"""Honest scoring of an answer against a question's truth, for vstream-eval.

An answer is scored on what it asserts, never on words merely appearing in it:
- multiple choice: only an answer that picks exactly one option counts (a standalone letter, or the text
  of exactly one option outside a negation); an echo of the options, or several options, is "no_choice";
- yes/no (type presence, or a gold answer starting with Yes/No): the answer's polarity ("Yes", "No",
  "I have not seen", "I saw no"); a "Yes" that names only other things is wrong;
- when / first_seen / last_seen with an answer_span: the times the answer states, within
  max(TOL_MIN_S, TOL_FRACTION * clip length) of the span's start and/or end;
- count: the first number the answer states ("no people" is 0);
- where with an answer_pose: every position the answer states ("x=1.20 m, y=-0.40 m", "(1.2, -0.4)") within
  POSE_TOL_M of the truth; an answer that states none (no pose was recorded) or did not see the thing is wrong;
- anything else: keywords outside negated phrases, in an answer that does not lead with "I have not seen";
  for attribute questions about colour, every colour the answer asserts must be an accepted one;
- an empty answer, or one that says nothing ("I don't know"), is "abstained": not right, not an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vstream_ros.answering.question import Intent
from vstream_ros.answering.words import CARDINALS, COLOUR_WORDS
from vstream_ros.tools.questions import LETTERS, Question

TOL_MIN_S = 2.0        # time tolerance: at least this many seconds ...
TOL_FRACTION = 0.10    # ... or this fraction of the clip, whichever is larger
TIME_TYPES = (Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN)
POSE_TOL_M = 0.5       # a stated position counts within this distance of the truth (a Nav2 goal's order)

STOP = {"a", "an", "the", "is", "are", "was", "were", "of", "in", "on", "at", "to", "and", "or", "with", "it",
        "this", "that", "be", "by", "for", "from", "as", "into", "their", "his", "her", "its", "yes", "no"}
COLOURS = frozenset(COLOUR_WORDS)
_IRREGULAR = {"men": "man", "women": "woman", "children": "child", "people": "person", "feet": "foot",
              "gray": "grey", "kids": "kid", "persons": "person"}
_NUMBER_WORDS = CARDINALS | {"single": 1, "once": 1, "twice": 2, "none": 0, "nobody": 0, "nothing": 0}
_FILLER = STOP | {
    "yeah", "yep", "yup", "indeed", "correct", "i", "we", "saw", "seen", "see", "sees", "spotted", "noticed",
    "observed", "have", "has", "had", "did", "do", "does", "one", "them", "they", "there", "here", "these",
    "those", "camera", "cameras", "video", "stream", "frame", "frames", "image", "compressed", "s", "sec",
    "secs", "second", "seconds", "min", "minute", "minutes", "time", "times", "first", "last", "earlier",
    "before", "ago", "start", "end", "beginning", "around", "about", "approximately", "roughly", "present",
    "visible", "appeared", "appears", "until", "till", "between", "then", "also", "so", "far", "right", "now",
    "just", "once", "twice", "several", "few", "memory", "evidence", "clip", "while", "during", "both"}

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
_REFUSAL = re.compile(   # an answer that opens by saying it saw nothing of the kind
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


@dataclass
class Result:
    verdict: str                  # "right" | "wrong" | "abstained" | "no_choice"
    rule: str                     # "choice" | "yesno" | "time" | "count" | "place" | "open"
    reason: str
    extra: dict

    def as_record(self) -> dict:
        return {"correct": float(self.verdict == "right"), "verdict": self.verdict, "rule": self.rule,
                "reason": self.reason, **self.extra}


# ----------------------------------------------------------------- text helpers
def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'", ""))


_ARTICLES = {"a", "an", "the"}


def _variants(w: str) -> set[str]:
    """A word and its possible singulars, so 'bicycles' matches 'bicycle' and 'buses' matches 'bus'."""
    out = {w, _IRREGULAR.get(w, w)}
    if len(w) > 3 and w.endswith("s"):
        out.add(w[:-1])
        if w.endswith("es"):
            out.add(w[:-2])
        if w.endswith("ies"):
            out.add(w[:-3] + "y")
    return out


def _word_spans(text: str) -> list[tuple[str, int]]:
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


def _in(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in ranges)


def find_phrase(text: str, phrase: str) -> list[int]:
    """Offsets where `phrase` (one or more words, plurals allowed) occurs in `text`."""
    target = [_variants(w) for w in words(phrase) if w not in _ARTICLES]
    spans = [(w, p) for w, p in _word_spans(text) if w not in _ARTICLES]
    hits = []
    for i in range(len(spans) - len(target) + 1):
        if target and all(_variants(spans[i + j][0]) & target[j] for j in range(len(target))):
            hits.append(spans[i][1])
    return hits


def asserted(text: str, phrase: str) -> bool:
    """The phrase occurs outside every negated phrase."""
    neg = negated_ranges(text)
    return any(not _in(p, neg) for p in find_phrase(text, phrase))


def abstains(prediction: str) -> bool:
    return not words(prediction) or bool(_ABSTAIN.match(prediction.strip()))


def polarity(text: str) -> int:
    """+1 for an answer that says yes (or that it saw the thing), -1 for no, 0 for neither."""
    ws = [w for w, _ in _word_spans(text.split("\n")[0])]
    if not ws:
        return 0
    if ws[0] in _YES:
        return 1
    if ws[0] in _NO:
        return -1
    first_sentence = re.split(r"[.!?;]", text, maxsplit=1)[0]
    ws = [w for w, _ in _word_spans(first_sentence)]
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


def tolerance_s(clip_s: float | None) -> float:
    return max(TOL_MIN_S, TOL_FRACTION * (clip_s or 0.0))


def _mask_times(text: str) -> str:
    _, taken = stated_times(text)
    return "".join(" " if any(a <= i < b for a, b in taken) else c for i, c in enumerate(text))


def stated_count(text: str) -> int | None:
    """The first number an answer states outside its times (digits or words); "no people" is 0."""
    text_wo = re.sub(r"\bcam(?:era)?\s*#?\d+\b", " ", _mask_times(text), flags=re.I)   # "camera 2" is no count
    for m in re.finditer(r"\bno\s+(?:one|body)\b|\b\d+\b|\b[a-z]+\b", text_wo.lower()):
        tok = m.group()
        if tok.startswith("no"):
            if tok in ("no one", "no body", "nobody", "none", "nothing"):
                return 0
            continue
        if tok.isdigit():
            return int(tok)
        if tok in _NUMBER_WORDS:
            return _NUMBER_WORDS[tok]
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


# ----------------------------------------------------------------- per rule
def _place(prediction: str, truth: tuple[float, float]) -> Result:
    positions = stated_positions(prediction)
    extra = {"positions": positions, "tolerance_m": POSE_TOL_M}
    if polarity(prediction) < 0 and not positions:
        return Result("wrong", "place", "says it did not see it", extra)
    if not positions:
        return Result("wrong", "place", "states no position", extra)
    far = [(x, y) for x, y in positions if math.hypot(x - truth[0], y - truth[1]) > POSE_TOL_M]
    if far:
        return Result("wrong", "place", f"said ({far[0][0]:.2f}, {far[0][1]:.2f}), truth ({truth[0]:.2f}, "
                      f"{truth[1]:.2f}) (tolerance {POSE_TOL_M:g} m)", extra)
    return Result("right", "place", f"within {POSE_TOL_M:g} m of ({truth[0]:.2f}, {truth[1]:.2f})", extra)


def _choice(prediction: str, q: Question) -> Result:
    letters_ok = LETTERS[: len(q.options)]
    text = prediction.strip()
    neg = negated_ranges(text)
    letters: set[str] = set()
    pats = [rf"^\(?([{letters_ok}])\)?[.):,]?$",                       # the whole answer: "B", "(B)", "B."
            rf"^\(?([{letters_ok}])\)?(?=[.,;:)!?]|\s+(?![a-z]))",          # leading "B, because ..." (not "A man")
            rf"\(([{letters_ok}])\)",                                       # "(B)" anywhere
            rf"(?:^|\s)([{letters_ok}])[.):](?=\s|$)",                      # "... B." / "B) ..."
            rf"(?i:option|answer|choice|choose|pick|select)(?:\s+is)?\s*:?\s*([{letters_ok}])"
            rf"(?=\s*$|[.,;:)!]|\s+(?![a-z]))"]                              # "the answer is B"
    for p in pats:
        for m in re.finditer(p, text):
            if not _in(m.start(1), neg):
                letters.add(m.group(1))
    hedge = rf"(?:^|[\s(])([{letters_ok}])\)?\s*(?:,|/|or|and)\s*\(?([{letters_ok}])(?=[\s).,;:!?]|$)"
    for m in re.finditer(hedge, text):     # "A or C", "B/D"
        letters |= {m.group(1), m.group(2)}
    # option texts named outside a negation; an option found only inside another option's text is not named
    occ = []
    for i, opt in enumerate(q.options):
        n = len(words(opt))
        for pos in find_phrase(text, opt):
            if not _in(pos, neg):
                occ.append((pos, pos + n, i))
    named = {i for (s, e, i) in occ
             if not any(s2 <= s and e <= e2 and (e2 - s2) > (e - s) and i2 != i for s2, e2, i2 in occ)}
    named_letters = {LETTERS[i] for i in named}
    extra = {"chosen": ""}
    if len(letters) > 1 or len(named_letters) > 1:
        return Result("no_choice", "choice", f"names several options: {sorted(letters | named_letters)}", extra)
    if letters and named_letters and letters != named_letters:
        return Result("no_choice", "choice", f"letter {letters} but the text of {named_letters}", extra)
    choice = letters or named_letters
    if not choice:
        if abstains(prediction):
            return Result("abstained", "choice", "says nothing", extra)
        return Result("no_choice", "choice", "picks no option", extra)
    (letter,) = choice
    extra["chosen"] = letter
    ok = letter == q.correct
    return Result("right" if ok else "wrong", "choice", f"chose {letter}, correct is {q.correct}", extra)


def _gold_keywords(q: Question) -> list[str]:
    if q.keywords:
        return q.keywords
    return [w for w in words(q.answer) if w not in STOP]


def _yesno(prediction: str, q: Question) -> Result:
    gold = 1 if polarity(q.answer) > 0 else -1
    pol = polarity(prediction)
    keys = _gold_keywords(q)
    if pol == 0 and any(asserted(prediction, k) for k in keys):
        pol = 1            # "A bicycle at 3 s." names the thing without a yes
    extra = {"polarity": pol}
    if pol == 0:
        return Result("wrong", "yesno", "neither yes nor no", extra)
    if pol != gold:
        return Result("wrong", "yesno", f"says {'yes' if pol > 0 else 'no'}, truth is {'yes' if gold > 0 else 'no'}",
                      extra)
    if gold > 0 and keys and not any(asserted(prediction, k) for k in keys):
        content = [w for w in words(_mask_times(prediction))
                   if w not in _FILLER and not any(c.isdigit() for c in w)]   # cam0, 12
        if content:   # "Yes, I saw a car" for "Did you see a bicycle?"
            return Result("wrong", "yesno", f"yes, but names {content[:4]}, not any of {keys[:4]}", extra)
    return Result("right", "yesno", "polarity matches", extra)


def _times(prediction: str, q: Question, clip_s: float | None) -> Result:
    tol = tolerance_s(clip_s)
    times, _ = stated_times(prediction)
    extra = {"times": times, "tolerance_s": tol}
    if polarity(prediction) < 0:
        return Result("wrong", "time", "says it did not see it", extra)
    if not times:
        return Result("wrong", "time", "states no time", extra)
    limit = q.ask_at if q.ask_at is not None else clip_s
    if limit is not None and any(t < -tol or t > limit + tol for t in times):
        return Result("wrong", "time", f"a time outside the stream (0-{limit:.1f} s)", extra)
    start, end = q.span
    first, last = min(times), max(times)
    checks = {Intent.WHEN: [(first, start), (last, end)], Intent.FIRST_SEEN: [(first, start)],
              Intent.LAST_SEEN: [(last, end)]}
    bad = [(said, truth) for said, truth in checks[q.type] if abs(said - truth) > tol]
    if bad:
        return Result("wrong", "time", f"said {bad[0][0]:.1f} s, truth {bad[0][1]:.1f} s (tolerance {tol:.1f} s)",
                      extra)
    return Result("right", "time", f"within {tol:.1f} s of {start:.1f}-{end:.1f} s", extra)


def _count(prediction: str, truth: int) -> Result:
    n = stated_count(prediction)
    extra = {"count": n}
    if n is None:
        return Result("wrong", "count", "states no number", extra)
    masked = _mask_times(prediction).lower()
    if re.search(r"\b(?:\d+|" + "|".join(_NUMBER_WORDS) + r")\s*(?:or|to|-)\s*(?:\d+|"
                 + "|".join(_NUMBER_WORDS) + r")\b", masked):
        return Result("wrong", "count", "hedges between numbers", extra)
    return Result("right" if n == truth else "wrong", "count", f"said {n}, truth {truth}", extra)


def _open(prediction: str, q: Question) -> Result:
    keys = _gold_keywords(q)
    hits = [k for k in keys if asserted(prediction, k)]
    extra = {"keyword_hits": hits}
    if _REFUSAL.match(prediction) and not _REFUSAL.match(q.answer):
        # "I have not seen What was in front of the camera ... What I did see: <every label>": a refusal
        # followed by a dump of the memory is not an answer about what was there
        return Result("wrong", "open", "leads with not having seen what was asked", extra)
    colour_keys = {_IRREGULAR.get(w, w) for k in keys for w in words(k) if w in COLOURS}
    if q.type == Intent.ATTRIBUTE and colour_keys:
        neg = negated_ranges(prediction)
        said = {_IRREGULAR.get(w, w) for w, pos in _word_spans(prediction) if w in COLOURS and not _in(pos, neg)}
        if said - colour_keys:
            return Result("wrong", "open", f"asserts colour(s) {sorted(said - colour_keys)}", extra)
    if q.keywords:
        ok = bool(hits)
        return Result("right" if ok else "wrong", "open", f"keywords asserted: {hits}" if ok else
                      f"none of {keys[:6]} asserted", extra)
    exact = bool(words(q.answer)) and asserted(prediction, q.answer)
    frac = len(hits) / len(keys) if keys else 0.0
    extra["keyword"] = frac
    ok = exact or frac >= 0.5
    return Result("right" if ok else "wrong", "open", f"{len(hits)}/{len(keys)} answer words asserted", extra)


def rule_for(q: Question) -> str:
    if q.multiple_choice:
        return "choice"
    if q.type == Intent.PRESENCE or re.match(r"\s*(?:yes|no)\b", q.answer, re.I):
        return "yesno"
    if q.type in TIME_TYPES and q.span is None and polarity(q.answer) < 0:
        return "yesno"     # "When did you see a dog?" - "I have not seen a dog."
    if q.type in TIME_TYPES and q.span is not None:
        return "time"
    if q.type == Intent.COUNT and (q.count is not None or stated_count(q.answer) is not None):
        return "count"
    if q.type == Intent.WHERE and q.pose is not None:
        return "place"
    return "open"


def score(prediction: str, q: Question, clip_s: float | None = None) -> dict:
    """Score one answer; `clip_s` is the length of the stream (for the time tolerance)."""
    rule = rule_for(q)
    if rule != "choice" and abstains(prediction):
        return Result("abstained", rule, "says nothing", {}).as_record()
    if rule == "choice":
        r = _choice(prediction, q)
    elif rule == "yesno":
        r = _yesno(prediction, q)
    elif rule == "time":
        r = _times(prediction, q, clip_s)
    elif rule == "count":
        r = _count(prediction, q.count if q.count is not None else stated_count(q.answer))
    elif rule == "place":
        r = _place(prediction, q.pose)
    else:
        r = _open(prediction, q)
    return r.as_record()


def tally(records: list[dict]) -> dict:
    """Counts of each verdict and the accuracy (right / scored; abstained and no-choice answers count as not
    right), overall and per question type, over scored records (those with a verdict)."""
    def count(rs: list[dict]) -> dict:
        n = len(rs)
        out = {"n": n, **{v: sum(r["verdict"] == v for r in rs) for v in ("right", "wrong", "abstained", "no_choice")}}
        return out | {"accuracy": out["right"] / n if n else None}

    scored = [r for r in records if "verdict" in r]
    types = sorted({r.get("type") or "untyped" for r in scored})
    return {"overall": count(scored),
            "by_type": {t: count([r for r in scored if (r.get("type") or "untyped") == t]) for t in types}}
