"""Words every backend's answers and the question grammar share: articles, lists, colour words and
number words. Data and string functions only (no model, no pixels)."""

from __future__ import annotations

from vstream_ros.answering.phrases import (
    BARE_ADVERBS,
    DESCRIBING,
    OBJECT_PRONOUNS,
    PARTICLES,
    PERSON_INDEFINITES,
    PREPOSITIONS,
    THING_PRONOUNS,
    head_noun,
    is_plural,
)


def listed(items: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def a(name: str) -> str:
    """'a car', 'an apple', 'a unicorn'."""
    vowel = name[:1] in "aeiou" and not name.startswith(("uni", "use", "euro", "one"))
    return ("an " if vowel else "a ") + name


def a_phrase(phrase: str) -> str:
    """The asked phrase as a noun phrase: 'benches' and 'cars on the street' stay, 'giraffe' becomes
    'a giraffe', 'person wearing glasses' 'a person wearing glasses'; 'anyone's face' and 'his tie' stay."""
    p = phrase.strip()
    first = p.split(" ")[0].lower()
    if (first in ("any", "some", "the", "a", "an", "his", "her", "their", "its", "my", "your", "our", "this",
                  "that", "these", "those", "no", "every", "each")
            or first.removesuffix("'s") in PERSON_INDEFINITES or is_plural(head_noun(p))):
        return p
    return a(p)


def the_phrase(phrase: str) -> str:
    """The asked phrase, definite: 'cups' becomes 'the cups', 'a car' 'the car'; 'his shirt' and 'the
    man's tie' stay."""
    p = phrase.strip()
    first, _, rest = p.partition(" ")
    if first.lower() in ("a", "an", "any", "some") and rest:
        return "the " + rest
    if first.lower() in ("the", "this", "that", "these", "those", "his", "her", "their", "its", "my", "your", "our"):
        return p
    return "the " + p


def the_complement(complement: str) -> str:
    """What a predicate acts on (or a modifier), worded after it: 'hall' -> 'the hall', 'from mug' -> 'from
    the mug'; 'in red shirts', 'wearing hats', 'something' and 'out' stay."""
    first, _, rest = complement.partition(" ")
    if first.lower() in THING_PRONOUNS | OBJECT_PRONOUNS or (first.lower() in PARTICLES | BARE_ADVERBS and not rest):
        return complement                  # "us", "out", "long" ("did she stay long"), "together"
    if (first.lower() in PARTICLES | PREPOSITIONS or first.lower() in DESCRIBING) and rest:
        return f"{first} {rest if is_plural(head_noun(rest)) else the_phrase(rest)}"   # "in red shirts"
    return the_phrase(complement)


# -------------------------------------------------------------------- colours
# the eleven basic colour terms of English (Berlin and Kay), in the order lite's annotations keep them
BASIC_COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
# words people use for a basic colour
COLOUR_SYNONYMS = {"gray": "grey", "silver": "grey", "navy": "blue", "cyan": "blue", "turquoise": "blue",
                   "violet": "purple", "maroon": "red", "beige": "brown", "tan": "brown", "gold": "yellow",
                   "magenta": "pink"}
# every colour word a question may ask about or an answer may assert
COLOUR_WORDS = (*BASIC_COLOURS, *COLOUR_SYNONYMS, "golden", "cream", "teal", "khaki", "olive", "crimson", "scarlet",
                "ivory", "lilac", "lavender")

# ---------------------------------------------------------------------- numbers
CARDINALS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
                                                      "seventy": 70, "eighty": 80, "ninety": 90}
