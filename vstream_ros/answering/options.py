"""A multiple-choice question's options, taken out of its text: "Which ...? (A) x (B) y", "A. x" lines, or
"Which of these did you see: a dog, a cat or a bird?"."""

from __future__ import annotations

import re

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
