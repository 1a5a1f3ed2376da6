"""What lite answers from the text the memory read in the scene (perception/ocr.py, read at ingest and for a
question about the text in view): what a sign said, its nth word or line, whether a word was read, and when.

A word read is a fact; a word not read is not its absence: OCR misses small, slanted and moving text (a
T-shirt read as "PAN"). So "no" is said only of a scene whose text was read the same in two reads or more,
and never to when-questions: there "I have not read it" is all that can be said."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

from vstream_ros.answering import timefmt
from vstream_ros.answering.phrases import PREPOSITIONS, noun_lemma
from vstream_ros.answering.question import Intent, Question
from vstream_ros.answering.words import a, listed, the_phrase
from vstream_ros.backends.lite.identities import ORDINAL_WORDS, in_words
from vstream_ros.backends.lite.layout import PART_WORDS
from vstream_ros.backends.lite.sightings import Composed
from vstream_ros.backends.lite.vocabulary import ALIASES, BOXED, CONCEPTS, PERSON_WORDS
from vstream_ros.memory.tracks import TextSighting
from vstream_ros.perception.boxes import overlap

NO_TEXT = "I have no text read in the scene"
# things that bear text, and nothing more: "the sign", "the letters on the screen" single out no one text
# among those read; any other word of the subject ("the alarm label", "the writing on his T-shirt") does
TEXT_BEARERS = frozenset(("sign", "label", "screen", "display", "board", "notice", "poster", "banner", "plate",
                          "placard", "billboard", "monitor", "text", "writing", "lettering", "letter", "word",
                          "line", "message", "caption", "it", "this", "that"))

def lines(texts: tuple[TextSighting, ...]) -> list[str]:
    """The distinct words read, in reading order: by first stamp, then top to bottom, left to right. A read
    of the same place that spells nearly the same ("#BLAC K" where "#BLACK" was read, "MATIER" for "MATTER")
    is that text misread: the one read over the longer span (then the surer) stands, over the span of them all,
    and of two that differ only in a space the one without it (spaced letters split a word, as on a lightbox).
    Reads that differ in a digit stay apart (a clock or a counter changes)."""
    return [t.text.strip() for t in distinct_reads(texts)]


def distinct_reads(texts: tuple[TextSighting, ...]) -> list[TextSighting]:
    """The reads `lines` names, in its order."""
    kept: list[TextSighting] = []
    for t in sorted(texts, key=lambda t: (-(t.last - t.first), -t.score)):
        i = next((i for i, k in enumerate(kept) if _misread(t, k)), None)
        if i is None:
            kept.append(t)
            continue
        k = kept[i]
        text = t.text if "".join(t.text.split()) == "".join(k.text.split()) and len(t.text) < len(k.text) else k.text
        kept[i] = replace(k, text=text, first=min(k.first, t.first), last=max(k.last, t.last))
    seen: dict[str, TextSighting] = {}
    for t in sorted(kept, key=lambda t: (round(t.first, 1), t.box[1], t.box[0])):
        seen.setdefault(t.text.strip(), t)
    return [t for k, t in seen.items() if k]


def text_lines(texts: tuple[TextSighting, ...]) -> list[str]:
    """The distinct reads as lines, top to bottom: a read whose box's middle lies within a line's height joins
    it (left to right), else it starts the next line."""
    rows: list[list[TextSighting]] = []
    for t in sorted(distinct_reads(texts), key=lambda t: (t.box[1] + t.box[3]) / 2):
        mid = (t.box[1] + t.box[3]) / 2
        if rows and min(r.box[1] for r in rows[-1]) <= mid <= max(r.box[3] for r in rows[-1]):
            rows[-1].append(t)
        else:
            rows.append([t])
    return [" ".join(r.text.strip() for r in sorted(row, key=lambda r: r.box[0])) for row in rows]


def _misread(a: TextSighting, b: TextSighting) -> bool:
    """Two reads of one place (their boxes overlap by half the smaller) whose letters nearly agree."""
    x, y = a.text.strip().lower(), b.text.strip().lower()
    if x == y or re.sub(r"\D", "", x) != re.sub(r"\D", "", y):        # the same, or other digits
        return False
    return overlap(a.box, b.box) >= 0.5 and difflib.SequenceMatcher(None, x, y).ratio() >= NEAR_MISS


def read_phrase(words: list[str], texts: tuple[TextSighting, ...], q: Question) -> str:
    """'"#BLACK LIVES MATTER" (from 0.0 s to 30.0 s)': what was read (`words`: `lines(texts)`) and when, for a
    description; "" for nothing."""
    if not texts:
        return ""
    when = timefmt.span(min(t.first for t in texts), max(t.last for t in texts), q.origin)
    return f'"{" ".join(words)}" ({when})'


# a word read this close to the word asked (difflib's ratio) may be it misread: "EXlT" for "EXIT", "STOR" for "STOP"
NEAR_MISS = 0.7


def _near_miss(want: str, word: str) -> bool:
    word = word.strip(".,:;!?\"'()#")
    return bool(word) and difflib.SequenceMatcher(None, want, word).ratio() >= NEAR_MISS


def text_answer(q: Question, texts: tuple[TextSighting, ...]) -> Composed:
    """What the scene's text said, or whether a word was read (exact words, case aside)."""
    if not texts:
        return Composed(f"I cannot tell: {NO_TEXT}{in_words(q)}.", [], {"abstained": True, "texts": []})
    read = lines(texts)
    first, last = min(t.first for t in texts), max(t.last for t in texts)
    when = timefmt.span(first, last, q.origin)
    if q.yes_no and q.value:
        return _was_read(q, texts, read, when)
    said = {noun_lemma(w) for w in re.findall(r"[a-z][a-z-]*", " ".join(read).lower())}
    on = ""
    if (which := _which_text(q)) and not {noun_lemma(w) for w in which} & said:
        # what bears the text asked: the detector's box each word was read inside ("the man's T-shirt": a person)
        labels = [bearer_labels(w) for w in which]
        texts = tuple(t for t in texts if all(labels) and any(t.bearer in ls for ls in labels))
        if not texts:    # nothing read on such a thing: lite reads words, and knows only boxes that bear them
            return Composed(f"I cannot tell what {the_phrase(q.subject)} said: I read \"{' '.join(read)}\" ({when}), "
                            f"but {_on_what(which, labels)}.", [], {"abstained": True, "texts": read})
        read = lines(texts)
        when = timefmt.span(min(t.first for t in texts), max(t.last for t in texts), q.origin)
        on = f", read on {a(texts[0].bearer)}"
    if q.ordinal:
        unit = "line" if q.attribute == "line" else "word"
        words = text_lines(texts) if unit == "line" else " ".join(read).split()
        k = q.ordinal - 1 if q.ordinal > 0 else len(words) - 1
        if 0 <= k < len(words):
            nth = ORDINAL_WORDS.get(q.ordinal, str(q.ordinal))
            return Composed(f"The {nth} {unit} was \"{words[k]}\" (I read \"{' '.join(read)}\" {when}).", [],
                            {"texts": read, unit: words[k]})
    thing = f"The {q.subject}" if q.subject else "The text"
    return Composed(f"{thing} said \"{' '.join(read)}\" ({when}{on}).", [], {"texts": read})


def bearer_labels(word: str) -> frozenset[str]:
    """The detector labels a word of a text question may bear text on: a person for people and their clothes
    ("man", "T-shirt"), the classes of a vehicle ("van": car or truck); empty for what the detector has no
    class for (a sign, an alarm label)."""
    w = noun_lemma(word)
    if w in PERSON_WORDS or w in PART_WORDS or word in PART_WORDS:
        return frozenset(("person",))
    w = ALIASES.get(w, w)
    if w in CONCEPTS:
        return frozenset(CONCEPTS[w][0])
    return frozenset((w,)) if w in BOXED else frozenset()


def _on_what(which: list[str], labels: list[frozenset[str]]) -> str:
    unknown = [w for w, ls in zip(which, labels, strict=True) if not ls]
    if unknown:
        return "cannot tell what it was written on"
    return "none of it was read on " + " or ".join(a(x) for x in sorted(set().union(*labels)))


def _which_text(q: Question) -> list[str]:
    """The words of a text question's subject that single out what bears the text ("alarm" of "the alarm
    label on the screen", "man", "t-shirt" of "the writing on the man's T-shirt"); [] for a bare text-bearer."""
    words = re.findall(r"[a-z][a-z-]*", " ".join([q.head, *q.modifiers]).lower().replace("'s", ""))
    return [w for w in words if w not in PREPOSITIONS and noun_lemma(w) not in TEXT_BEARERS
            and w not in ("his", "her")]          # the other determiners analyse has dropped


def _words(text: str) -> str:
    """Letters and digits only, lower case, one space between words: how a named word is looked for."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _holding(want: str, texts: tuple[TextSighting, ...]) -> list[TextSighting]:
    """The reads that hold the words asked, on their own or as lines read together ("BLACK LIVES" across
    "#BLACK" and "LIVES MATTER"); [] when they were not read."""
    alone = [t for t in texts if f" {want} " in f" {_words(t.text)} "]
    if alone or not want:
        return alone
    parts = [t for t in texts if set(_words(t.text).split()) & set(want.split())]
    return parts if f" {want} " in f" {_words(' '.join(lines(tuple(parts))))} " else []


def _was_read(q: Question, texts: tuple[TextSighting, ...], read: list[str], when: str) -> Composed:
    """Whether the words asked were read: yes with when; no only where the scene's text was read alike twice
    or more (a single read may have missed what is there), else what was read and that it cannot be told."""
    hit = _holding(_words(q.value), texts)
    if hit:
        span = timefmt.span(min(t.first for t in hit), max(t.last for t in hit), q.origin)
        return Composed(f"Yes, I read \"{' '.join(lines(tuple(hit)))}\" {span}.", [],
                        {"seen": True, "texts": [t.text for t in hit]})
    quoted = listed([f'"{x}"' for x in read])
    if near := [w for x in read for w in x.split() if _near_miss(q.value.lower(), w.lower())]:
        return Composed(f'I cannot tell whether "{q.value}" was there: I read "{near[0]}" {when}, which may be it '
                        "misread.", [], {"abstained": True, "texts": read})
    if not any(t.last > t.first for t in texts):
        each = "each " if len(read) > 1 else ""
        return Composed(f'I cannot tell whether "{q.value}" was there: I did not read it, but I read only {quoted} '
                        f"{when}, {each}once, and text read once may be only part of what was there.", [],
                        {"abstained": True, "texts": read})
    return Composed(f'No, I did not read "{q.value}"; I read {quoted} {when}.', [], {"seen": False, "texts": read})


def when_read(q: Question, texts: tuple[TextSighting, ...]) -> Composed:
    """When the words asked ("when did you first see the word EXIT", "when was the ALARM label on screen")
    were read: the reads that hold them, first, last or both. Text is read every few seconds at most (and for
    questions about now), so a span runs from read to read; words not read are not "never there"."""
    hit = _holding(_words(q.value), texts)
    if not hit:
        read = listed([f'"{x}"' for x in lines(texts)]) if texts else ""
        return Composed(f'I cannot tell: I have not read "{q.value}"{in_words(q)}'
                        + (f"; I read {read}." if read else "."), [], {"abstained": True, "texts": lines(texts)})
    first, last = min(t.first for t in hit), max(t.last for t in hit)
    said = " ".join(lines(tuple(hit)))
    if q.intent is Intent.FIRST_SEEN:
        text = f"I first read \"{said}\" {timefmt.span(first, first, q.origin)}."
    elif q.intent is Intent.LAST_SEEN:
        text = f"I last read \"{said}\" {timefmt.span(last, last, q.origin)}."
    else:
        text = f"I read \"{said}\" {timefmt.span(first, last, q.origin)}."
    return Composed(text, [], {"texts": [t.text for t in hit], "first": first, "last": last})
