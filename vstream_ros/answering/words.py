"""Words every backend's answers and the question grammar share: articles, lists, colour words and
number words. Data and string functions only (no model, no pixels)."""

from __future__ import annotations


def listed(items: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def a(name: str) -> str:
    """'a car', 'an apple', 'a unicorn'."""
    vowel = name[:1] in "aeiou" and not name.startswith(("uni", "use", "euro", "one"))
    return ("an " if vowel else "a ") + name


def a_phrase(phrase: str) -> str:
    """The asked phrase as a noun phrase: 'benches' stays, 'giraffe' becomes 'a giraffe'."""
    p = phrase.strip()
    if p.endswith("s") or p.split(" ")[0].lower() in ("any", "some", "the", "a", "an", "his", "her", "their"):
        return p
    return a(p)
