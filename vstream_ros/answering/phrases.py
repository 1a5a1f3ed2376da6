"""The subject of a question apart from its predicate: "a man in a red jacket come by" is the noun phrase
"man in a red jacket" (head "man", modifier "in red jacket") and the predicate "come by".

Why: a question's words run subject and action together, and an answerer that looks the whole string
up finds "a someone carrying a box". Here pronouns and indefinites never become things (someone ->
a person, "this" -> nothing), ordinals are read off ("the third visitor"), and verbs are lemmatised by
`lemminflect` (a maintained lexicon: "crossed" -> cross, "left" -> leave, "knives" -> knife).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lemminflect import getAllLemmas, getInflection, getLemma

# indefinites and pronouns: what they stand for (a person, or no thing at all)
PERSON_INDEFINITES = frozenset(("someone", "somebody", "anyone", "anybody", "everyone", "everybody", "nobody",
                                "no-one", "noone"))
PERSON_PRONOUNS = frozenset(("he", "she", "him", "her", "they", "them"))
OBJECT_PRONOUNS = frozenset(("me", "us", "you", "him", "her", "them"))     # said bare after a verb: "overtook us"
THING_PRONOUNS = frozenset(("it", "this", "that", "something", "anything", "everything", "nothing", "these",
                            "those", "one"))
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
            "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
            "tenth": 10, "10th": 10, "last": -1, "final": -1, "latest": -1}
_DETERMINERS = frozenset(("a", "an", "the", "any", "some", "all", "every", "each", "another", "other",
                          "my", "our", "your", "their", "its"))       # not "his" / "her": also pronouns
PREPOSITIONS = frozenset(("in", "with", "on", "at", "of", "near", "beside", "behind", "by", "under", "over",
                           "next", "from", "inside", "outside", "along", "across", "into", "onto", "without",
                           "above", "below", "between", "around", "toward", "towards", "through", "to", "who",
                           "which", "that", "where"))
_AUX_WORDS = frozenset(("is", "was", "are", "were", "be", "being", "been", "has", "have", "had", "did", "do",
                        "does", "will", "would", "can", "could", "get", "got", "ever", "just", "already", "actually"))
# words that close a phrase without naming anything ("a person anywhere", "a taxi yet")
_ADVERBS = frozenset(("anywhere", "somewhere", "here", "there", "yet", "again", "too", "also", "today", "now",
                      "ever", "still", "already", "around", "outside", "inside", "nearby", "at all"))
# adverbs said bare after a verb, never with an article ("stayed long", "walked together")
BARE_ADVERBS = _ADVERBS | frozenset(("long", "together", "home", "fast", "slowly", "quickly", "alone", "left", "right"))
# participles that describe the subject rather than say what it did ("a woman wearing a hat")
DESCRIBING = {"wearing": "wearing", "carrying": "carrying", "holding": "holding", "dressed": "in", "having": "with"}
# the same said as the verb of a did/does question: "did she wear glasses" asks of "a person wearing glasses", not
# whether a person was seen and something else besides; "does the girl have a ball", of "a girl with a ball"
HAVING = {"wear": "wearing", "have": "with", "has": "with", "own": "with"}

# the predicates an operator asks about, by what a video memory can tell of them:
#   seen: being on camera is the predicate ("did a truck go by"); arrive / leave / return: a track's
#   first or last stamp and its border flags tell them; action: nothing lite keeps shows it
PARTICLES = frozenset(("in", "out", "by", "past", "up", "down", "off", "on", "away", "back", "over", "around",
                       "through", "into", "across", "along"))
PREDICATES: dict[str, str] = {
    **dict.fromkeys(("appear", "show up", "turn up", "pass", "pass by", "go by", "go past", "walk by", "walk past",
                     "drive by", "drive past", "come by", "come past", "ride by", "ride past", "run by", "run past",
                     "cycle by", "cycle past", "walk", "go", "drive", "run", "visit", "pass through", "come",
                     "come into view", "be", "happen"), "seen"),
    **dict.fromkeys(("arrive", "enter", "come in", "walk in", "drive in", "get in", "come into", "pull up",
                     "come along", "step in", "roll in"), "arrive"),
    **dict.fromkeys(("leave", "exit", "go out", "walk out", "drive off", "drive away", "go away", "walk away",
                     "run away", "walk off", "run off", "disappear", "depart", "get out", "step out",
                     "move out"), "leave"),
    **dict.fromkeys(("wear", "have", "own"), "with"),
    **dict.fromkeys(("come back", "return", "go back", "walk back", "drive back", "reappear"), "return"),
    **dict.fromkeys(("cross", "pull in", "pull out", "park", "carry", "put down", "put", "pick up", "pour",
                     "drink", "eat", "shuffle", "stand up", "stand", "sit down", "sit", "jump", "wave", "open",
                     "close", "throw", "push", "pull", "hide", "change", "move", "start", "stop", "turn",
                     "light up", "come on", "go off", "fall", "fall down", "play", "hold", "touch", "take", "give",
                     "drop", "lift", "climb", "look", "talk", "wait", "stay", "lie", "ride", "cook", "write",
                     "read", "use", "fill", "empty", "clean", "wash", "cut", "lock", "unlock", "load",
                     "unload", "deliver", "knock", "turn on", "turn off", "switch on", "switch off", "speed",
                     "overtake", "brake", "reverse", "crash", "swap", "place", "set down", "lay", "bring",
                     "remove", "take away", "play with", "kick", "catch", "dance", "juggle", "fight", "hug"),
                    "action"),
}
_VERB_HEADS = frozenset(p.split()[0] for p in PREDICATES)
# words that are nouns first: their bare form is a predicate only after "did/does/can" ("did the car park")
_NOUN_FIRST = frozenset(("park", "cross", "walk", "drink", "stand", "run", "turn", "wave", "change", "exit",
                         "return", "stop", "drive", "hold", "close", "play", "visit", "look", "pull", "push",
                         "fall", "light", "place", "lie", "cut", "lock", "load", "dance", "catch", "kick", "hug",
                         "start", "use", "read", "fight", "swap", "crash", "speed", "brake", "talk", "ride",
                         "go", "come", "move", "cook", "wash", "clean", "fill", "empty", "drop", "lift", "climb",
                         "wait", "stay", "jump", "give", "take", "open", "be", "pass", "write"))


@dataclass(frozen=True)
class Phrase:
    """A subject phrase taken apart. `text` is the noun phrase as asked, its determiners and predicate
    cut off and an indefinite said as a noun ("someone carrying a box" -> "person carrying a box")."""

    text: str = ""
    head: str = ""                     # singular head noun ("person" for someone / she / the visitors)
    modifiers: tuple[str, ...] = ()    # "white", "in red jacket", "wearing hat", "carrying box", "with dog"
    predicate: str = ""                # lemmatised: "arrive", "pull in", "cross"; "" when only seen
    complement: str = ""               # what the predicate acts on or where: "hall", "along far side"
    pronoun: str = ""                  # the pronoun or indefinite it was said as: "someone", "she", "this"
    ordinal: int = 0                   # "the second person": 2; "the last car": -1


def predicate_kind(predicate: str) -> str:
    """'seen', 'with' (has or wears the complement), 'arrive', 'leave', 'return' or 'action' (nothing
    kept shows it); '' for no predicate."""
    return PREDICATES.get(predicate, "action") if predicate else ""


def warm_up() -> None:
    """Load lemminflect's tables now: about 1.4 s of Python that holds the GIL, which on a question asked
    while cameras stream starved the camera callbacks and lost about half the frames of a 2-camera node."""
    getLemma("crossed", upos="VERB")
    getLemma("knives", upos="NOUN")


@lru_cache(maxsize=4096)
def verb_lemma(word: str) -> str:
    w = word.lower()
    return (getLemma(w, upos="VERB") or (w,))[0]


def can_be_verb(word: str) -> bool:
    """Whether the lexicon knows a verb reading of the word ("stopped", "hit"; not "late", "on", "there")."""
    return "VERB" in getAllLemmas(word.lower())


def past(predicate: str) -> str:
    """A predicate in the past tense, for wording: 'cross' -> crossed, 'pull in' -> pulled in,
    'pick up' -> picked up."""
    verb, _, particle = predicate.partition(" ")
    if not verb:
        return ""
    inflected = (getInflection(verb, tag="VBD") or (verb + "ed",))[0]
    return f"{inflected} {particle}".strip()


def plural(name: str) -> str:
    """A thing's name in the plural, from the lexicon: 'bus' -> buses, 'sports ball' -> sports balls,
    'person' -> people."""
    *rest, last = name.split(" ")
    word = "people" if last == "person" else (getInflection(last, tag="NNS") or (last + "s",))[0]
    return " ".join([*rest, word])


def is_plural(noun: str) -> bool:
    """Whether a noun is plural ('cars', 'children', 'glasses'), for its article; 'bus' and 'news' are not."""
    w = noun.lower()
    return noun_lemma(w) != w or (w in _IRREGULAR_NOUNS and w not in ("news", "series", "species"))


def head_noun(phrase: str) -> str:
    """The word a noun phrase is about: 'cars on the street' -> cars, 'person wearing glasses' -> person."""
    ws = phrase.split()
    end = next((i for i, w in enumerate(ws) if i and (w.lower() in PREPOSITIONS or w.lower() in DESCRIBING)),
               len(ws))
    return ws[end - 1] if ws else ""


_IRREGULAR_NOUNS = {"people": "person", "persons": "person", "folks": "person", "glasses": "glasses",
                    "jeans": "jeans", "trousers": "trousers", "shorts": "shorts", "pants": "pants",
                    "scissors": "scissors", "clothes": "clothes", "series": "series", "species": "species",
                    "police": "police", "news": "news", "sunglasses": "sunglasses", "leggings": "leggings"}


@lru_cache(maxsize=4096)
def noun_lemma(word: str) -> str:
    """A noun's singular: 'buses' -> bus, 'knives' -> knife, 'mice' -> mouse, 'people' -> person; words
    that are plural only (glasses, jeans) stay."""
    w = word.lower()
    if w in _IRREGULAR_NOUNS:
        return _IRREGULAR_NOUNS[w]
    if len(w) <= 2 or not w.isalpha() or w.endswith("ss"):
        return w
    if not w.endswith("s") and w not in ("men", "women", "children", "mice", "feet", "teeth", "geese", "oxen"):
        return w                            # not a plural ("parked", "swing"): the lexicon would guess a stem
    return (getLemma(w, upos="NOUN") or (w,))[0]


def _is_verb(word: str, do_support: bool) -> str:
    """The lemma when the word can start a predicate here, else ''."""
    w = word.lower()
    lemma = verb_lemma(w)
    if lemma not in _VERB_HEADS:
        return ""
    if w == lemma and w in _NOUN_FIRST and not do_support:
        return ""                       # "a car park", "the exit": nouns unless a "did" asks
    if w != lemma and w.endswith("s") and noun_lemma(w) == lemma and (do_support or lemma in _NOUN_FIRST):
        return ""                       # "traffic lights", "bus stops": after "did" a verb is bare, and the
    return lemma                        # plural of a noun-first word is that noun


def _predicate(words: list[str], i: int, lemma: str) -> tuple[str, int]:
    """The longest predicate of the lexicon that starts at words[i] ("pull in", "come into view")."""
    for n in (3, 2):
        cand = " ".join([lemma, *words[i + 1: i + n]])
        if len(words) >= i + n and cand in PREDICATES:
            return cand, i + n
    if i + 1 < len(words) and words[i + 1] in PARTICLES and f"{lemma} {words[i + 1]}" not in PREDICATES \
            and words[i + 1] in ("up", "down", "off", "away", "back", "out", "in", "by", "past"):
        return f"{lemma} {words[i + 1]}", i + 2
    return lemma, i + 1


def _drop_articles(words: list[str]) -> list[str]:
    return [w for w in words if w not in _DETERMINERS]


def analyse(text: str, do_support: bool = False) -> Phrase:
    """Take a subject phrase apart. `do_support`: the question has "did/does/can <subject>", so a bare
    verb after the subject is its predicate ("did a white van pull in")."""
    words = re.findall(r"[a-z0-9][a-z0-9'’-]*", text.lower())
    said = re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", text)
    if not words:
        return Phrase()
    ordinal, i = 0, 0
    while i < len(words) and (words[i] in _DETERMINERS or words[i] in ORDINALS):
        if words[i] in ORDINALS and (i + 1 < len(words) and words[i + 1] not in ("time", "times")):
            ordinal = ORDINALS[words[i]]
        i += 1
    if ordinal and i + 1 < len(words) and words[i] == "of":        # "the second of the two women"
        i += 1
        while i < len(words) and (words[i] in _DETERMINERS or re.fullmatch(r"\d+|two|three|four|five", words[i])):
            i += 1
    start = i
    np_words: list[str] = []
    pre: list[str] = []
    mods: list[str] = []
    cur: list[str] | None = None               # the modifier being collected ("in red jacket")
    predicate, end, pred_at = "", len(words), len(words)
    relative = False                           # inside a relative clause: its verb is not the predicate
    reworded: dict[int, str] = {}              # words said otherwise in the phrase: "she wear glasses" -> "wearing"
    while i < len(words):
        w = words[i]
        if w in _ADVERBS and np_words and cur is None:
            i += 1
            continue
        if do_support and w in HAVING and np_words and cur is None and not relative:
            cur = [HAVING[w]]
            reworded[i] = HAVING[w]
            i += 1
            continue
        if w in _AUX_WORDS and np_words:       # "the cups being shuffled", "the man was walking"
            i += 1
            continue
        if np_words and cur is None and w in _DETERMINERS and np_words[-1] == "of":
            i += 1                                     # "the bag of the woman"
            continue
        if np_words and cur is None and (w in _DETERMINERS or (w.endswith("ly") and len(w) > 4)):
            cur = [] if w in _DETERMINERS else [w]      # "the top the woman wore", "the car directly in front"
            relative = w in _DETERMINERS
            i += 1
            continue
        if w in DESCRIBING and np_words:
            if cur:
                mods.append(" ".join(_drop_articles(cur)))
            cur = [DESCRIBING[w]]
            i += 1
            continue
        prev = (cur[-1] if cur else words[i - 1]) if i else ""
        after_function = not prev or prev in _DETERMINERS | PREPOSITIONS or prev.endswith(("'s", "’s"))
        lemma = "" if relative or after_function or not np_words or w in PARTICLES else _is_verb(w, do_support)
        if lemma:
            pred_at = i
            predicate, i = _predicate(words, i, lemma)
            if w == "gone" and predicate == "go":     # "has the van gone": left, not went by
                predicate = "leave"
            elif predicate == "leave" and i < len(words) and (words[i] in ("a", "an", "any", "some", "something")
                                                              or words[-1] == "behind"):
                predicate = "leave behind"            # "did someone leave a bag (behind)": not a departure
            end = i
            break
        if w in PREPOSITIONS and w != "of" and np_words:
            if cur:
                mods.append(" ".join(_drop_articles(cur)))
            cur = [w] if w not in ("who", "which", "that", "where") else []
            relative = w in ("who", "which", "that", "where")
            i += 1
            continue
        if cur is not None:
            cur.append(w)
        else:
            np_words.append(w)
        i += 1
    if cur:
        mods.append(" ".join(_drop_articles(cur)))
    complement = " ".join(_drop_articles(words[end:])) if predicate else ""
    if predicate == "leave behind":
        complement = complement.removesuffix(" behind")
    # the noun phrase itself: pronouns, "of" compounds, pre-head words
    np_core = [w for w in np_words if w not in _DETERMINERS]
    if "of" in np_core:                       # "cup of coffee": the head comes before "of"
        k = np_core.index("of")
        head_words, of_part = np_core[:k], np_core[k:]
        if head_words:
            mods.insert(0, " ".join(of_part))
        np_core = head_words or np_core[k + 1:]
    pronoun = ""
    head = noun_lemma(np_core[-1]) if np_core else ""
    pre = np_core[:-1]
    if np_core and np_core[-1] in PERSON_INDEFINITES | PERSON_PRONOUNS:
        pronoun, head = np_core[-1], "person"
    elif np_core and np_core[-1] in THING_PRONOUNS:
        pronoun, head = np_core[-1], ""
    head = re.sub(r"['’]s$", "", head)
    modifiers = tuple([*pre, *mods])
    # the noun phrase as asked (the caller's casing), without determiners, ordinal or predicate
    keep = [reworded.get(k, w) for k, w in enumerate(said if len(said) == len(words) else words)][start:pred_at]
    while predicate and keep and keep[-1].lower() in _AUX_WORDS:      # "the cups being" shuffled
        keep = keep[:-1]
    while len(keep) > 1 and keep[-1].lower() in _ADVERBS:               # "anyone here", "a taxi yet"
        keep = keep[:-1]
    text_out = " ".join(keep)
    if pronoun in PERSON_INDEFINITES | PERSON_PRONOUNS:    # "he wearing a hat": a person, never "a he"
        text_out = re.sub(rf"^{pronoun}\b", "person", text_out, flags=re.I)
    elif pronoun in THING_PRONOUNS:
        text_out = re.sub(rf"^{pronoun}\b\s*", "", text_out, flags=re.I)
    if predicate in HAVING and complement:     # "people who wore hats", "how many people wore hats": as "wearing hats"
        modifiers = (*modifiers, f"{HAVING[predicate]} {complement}")
        text_out = f"{text_out} {HAVING[predicate]} {' '.join(words[end:])}"
        predicate, complement = "", ""
    return Phrase(text_out.strip(), head, modifiers, predicate, complement, pronoun, ordinal)
