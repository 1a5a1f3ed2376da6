"""Honest scoring of an answer against a question's truth, for vstream-eval.

An answer is scored on what it asserts, never on words merely appearing in it:
- multiple choice: only an answer that picks exactly one option counts (a standalone letter, or the text
  of exactly one option outside a negation); an echo of the options, or several options, is "no_choice";
- yes/no (type presence, or a gold answer starting with Yes/No): the answer's polarity ("Yes", "No",
  "I have not seen", "I saw no"); a "Yes" that names only other things is wrong;
- when / first_seen / last_seen with an answer_span: the times the answer states, within
  max(TOL_MIN_S, TOL_FRACTION * clip length) of the span's start and/or end;
- ordinal ("when did the second car appear?") with an answer_span (the nth thing's appearance): the first
  time the answer states, in its own order ("at 20.6 s; the first one was at 15 s"), within that tolerance of
  the span's start;
- text ("what did the sign say?") with keywords: EVERY keyword outside a negation (a sign read in part is
  wrong), in an answer that does not lead with "I have not seen";
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
from vstream_ros.tools.answer_claims import (
    COLOURS,
    IRREGULAR,
    NUMBER_WORDS,
    REFUSAL,
    STOP,
    abstains,
    asserted,
    find_phrase,
    in_ranges,
    mask_times,
    negated_ranges,
    polarity,
    stated_count,
    stated_positions,
    stated_times,
    word_spans,
    words,
)
from vstream_ros.tools.questions import LETTERS, Question

TOL_MIN_S = 2.0        # time tolerance: at least this many seconds ...
TOL_FRACTION = 0.10    # ... or this fraction of the clip, whichever is larger
ORDINAL = "ordinal"    # question types beyond the parser's intents: when the nth thing appeared ...
TEXT = "text"          # ... and what the writing in the scene said
TIME_TYPES = (Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN, ORDINAL)
POSE_TOL_M = 0.5       # a stated position counts within this distance of the truth (a Nav2 goal's order)

_FILLER = STOP | {
    "yeah", "yep", "yup", "indeed", "correct", "i", "we", "saw", "seen", "see", "sees", "spotted", "noticed",
    "observed", "have", "has", "had", "did", "do", "does", "one", "them", "they", "there", "here", "these",
    "those", "camera", "cameras", "video", "stream", "frame", "frames", "image", "compressed", "s", "sec",
    "secs", "second", "seconds", "min", "minute", "minutes", "time", "times", "first", "last", "earlier",
    "before", "ago", "start", "end", "beginning", "around", "about", "approximately", "roughly", "present",
    "visible", "appeared", "appears", "until", "till", "between", "then", "also", "so", "far", "right", "now",
    "just", "once", "twice", "several", "few", "memory", "evidence", "clip", "while", "during", "both"}


@dataclass
class Result:
    verdict: str                  # "right" | "wrong" | "abstained" | "no_choice"
    rule: str                     # "choice" | "yesno" | "time" | "count" | "place" | "text" | "open"
    reason: str
    extra: dict

    def as_record(self) -> dict:
        return {"correct": float(self.verdict == "right"), "verdict": self.verdict, "rule": self.rule,
                "reason": self.reason, **self.extra}


def tolerance_s(clip_s: float | None) -> float:
    return max(TOL_MIN_S, TOL_FRACTION * (clip_s or 0.0))


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
            if not in_ranges(m.start(1), neg):
                letters.add(m.group(1))
    hedge = rf"(?:^|[\s(])([{letters_ok}])\)?\s*(?:,|/|or|and)\s*\(?([{letters_ok}])(?=[\s).,;:!?]|$)"
    for m in re.finditer(hedge, text):     # "A or C", "B/D"
        letters |= {m.group(1), m.group(2)}
    # option texts named outside a negation; an option found only inside another option's text is not named
    occ = []
    for i, opt in enumerate(q.options):
        n = len(words(opt))
        for pos in find_phrase(text, opt):
            if not in_ranges(pos, neg):
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
        content = [w for w in words(mask_times(prediction))
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
              Intent.LAST_SEEN: [(last, end)], ORDINAL: [(times[0], start)]}
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
    masked = mask_times(prediction).lower()
    if re.search(r"\b(?:\d+|" + "|".join(NUMBER_WORDS) + r")\s*(?:or|to|-)\s*(?:\d+|"
                 + "|".join(NUMBER_WORDS) + r")\b", masked):
        return Result("wrong", "count", "hedges between numbers", extra)
    return Result("right" if n == truth else "wrong", "count", f"said {n}, truth {truth}", extra)


def _text(prediction: str, q: Question) -> Result:
    hits = [k for k in q.keywords if asserted(prediction, k)]
    missing = [k for k in q.keywords if k not in hits]
    extra = {"keyword_hits": hits}
    if REFUSAL.match(prediction) and not REFUSAL.match(q.answer):
        return Result("wrong", "text", "leads with not having seen what was asked", extra)
    if missing:
        return Result("wrong", "text", f"does not state {missing} (every one of {q.keywords} is needed)", extra)
    return Result("right", "text", f"states every one of {q.keywords}", extra)


def _open(prediction: str, q: Question) -> Result:
    keys = _gold_keywords(q)
    hits = [k for k in keys if asserted(prediction, k)]
    extra = {"keyword_hits": hits}
    if REFUSAL.match(prediction) and not REFUSAL.match(q.answer):
        # "I have not seen What was in front of the camera ... What I did see: <every label>": a refusal
        # followed by a dump of the memory is not an answer about what was there
        return Result("wrong", "open", "leads with not having seen what was asked", extra)
    colour_keys = {IRREGULAR.get(w, w) for k in keys for w in words(k) if w in COLOURS}
    if q.type == Intent.ATTRIBUTE and colour_keys:
        neg = negated_ranges(prediction)
        said = {IRREGULAR.get(w, w) for w, pos in word_spans(prediction) if w in COLOURS and not in_ranges(pos, neg)}
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
    if q.type == TEXT and q.keywords:
        return "text"
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
    elif rule == "text":
        r = _text(prediction, q)
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
