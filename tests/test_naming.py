"""One name and one answer per thing (issue #25 item 5), on hand-built reads: describe, presence, locate
and where give a thing the same label, describe lists only what presence says Yes to, broad words find
narrower things, and narrower words than lite can tell apart are answered by the broader thing, honestly."""

from dataclasses import replace

import numpy as np
import pytest
from scripted import scripted_read

from vstream_ros.answering.question import parse
from vstream_ros.backends.lite.calibration import Thresholds
from vstream_ros.backends.lite.compose import Composer
from vstream_ros.backends.lite.vision import LAYOUT, LiteRecognizer
from vstream_ros.backends.lite.vocabulary import BOXED
from vstream_ros.backends.shared.imagenet import imagenet_classes

T0 = 100.0
CLASSES = imagenet_classes()
LEMMAS = [n.split(",")[0] for n in CLASSES]


def frame(boxes=None, imagenet=None):
    a = np.zeros(LAYOUT.size, np.float32)
    for name, score in (boxes or {}).items():
        k = BOXED.index(name)
        a[LAYOUT.coco_score.start + k] = score
        a[LAYOUT.coco_count.start + k] = 1
    for name, p in (imagenet or {}).items():
        a[LAYOUT.imagenet.start + LEMMAS.index(name)] = p
    return a


# second by second: a rocket (the classifier's "missile") 0-5 s; a dog box the classifier calls a cat
# 8-13 s; a person 16-21 s; a car 24-29 s; a phone 32-35 s; a dog the classifier agrees with 38-41 s
SCRIPT = ([frame(imagenet={"missile": 0.6})] * 6 + [frame()] * 2
          + [frame(boxes={"dog": 0.6}, imagenet={"tabby": 0.9})] * 6 + [frame()] * 2
          + [frame(boxes={"person": 0.9})] * 6 + [frame()] * 2
          + [frame(boxes={"car": 0.8})] * 6 + [frame()] * 2
          + [frame(boxes={"cell phone": 0.8})] * 4 + [frame()] * 2
          + [frame(boxes={"dog": 0.8}, imagenet={"golden retriever": 0.6})] * 4)
END = T0 + len(SCRIPT) - 1


@pytest.fixture(scope="module")
def read():
    return scripted_read(SCRIPT, [a.tobytes() for a in SCRIPT], T0, temporal_slots=12, y=1.0)


@pytest.fixture(scope="module")
def composer():
    return Composer(LiteRecognizer(CLASSES, detector_available=True, thresholds=Thresholds()))


def answer(composer, read, text):
    r, interval = read
    q = replace(parse(text), origin=T0, newest=END, frame_interval=interval)
    return composer.compose(replace(q, window=q.time.window(T0, END, 1.5) if q.time else None), r)


def test_describe_lists_only_what_presence_says_yes_to(composer, read):
    """The dog box the classifier contradicts (a cat) is no sighting for "Did you see a dog?": describe
    does not list a dog at those seconds either; every thing it names, a presence question finds."""
    told = answer(composer, read, "What did you see?")
    named = told.facts["things"]
    assert named and all(answer(composer, read, f"Did you see a {n}?").text.startswith("Yes") for n in named), named
    dogs = [g for g in told.evidence if g.label == "dog"]
    assert dogs and all(g.start >= T0 + 38 for g in dogs), [(g.label, g.start - T0) for g in told.evidence]
    presence = answer(composer, read, "Did you see a dog?")
    assert [(g.start, g.end) for g in presence.evidence] == [(g.start, g.end) for g in dogs], presence.text


def test_a_thing_has_one_label_in_describe_presence_locate_and_where(composer, read):
    """The classifier's "missile" is a rocket everywhere; the detector's "cell phone" a phone."""
    r, interval = read
    told = answer(composer, read, "What did you see?")
    assert "rocket" in told.facts["things"] and "missile" not in told.text, told.text
    assert "phone" in told.facts["things"] and "cell phone" not in told.text, told.text
    for asked in ("rocket", "missile"):
        said = answer(composer, read, f"Did you see a {asked}?")
        assert said.text.startswith("Yes, I saw a rocket") and {g.label for g in said.evidence} == {"rocket"}, said.text
        assert {g.label for g in composer.locate(asked, r, interval).evidence} == {"rocket"}
    where = answer(composer, read, "Where did you see the missile?")
    assert where.text.startswith("I last saw a rocket") and where.evidence[0].label == "rocket", where.text
    phone = answer(composer, read, "Did you see a cell phone?")
    assert phone.text.startswith("Yes, I saw a phone") and phone.evidence[0].label == "phone", phone.text


@pytest.mark.parametrize("broad, narrow, at", [("vehicle", "car", 24), ("animal", "dog", 38)])
def test_a_broad_word_finds_the_narrower_thing_and_names_it(composer, read, broad, narrow, at):
    r, interval = read
    said = answer(composer, read, f"Did you see an {broad}?" if broad[0] in "aeiou" else f"Did you see a {broad}?")
    assert said.text.startswith(f"Yes, I saw a {narrow}"), said.text
    # each sighting labelled by what it was; the broad word where the recognisers disagree on which
    # (the dog box the classifier calls a cat, 8-13 s: an animal)
    labels = {g.start - T0: g.label for g in said.evidence}
    assert labels[at] == narrow and set(labels.values()) <= {narrow, broad}, labels
    assert {g.label for g in composer.locate(broad, r, interval).evidence} == set(labels.values())
    assert "animal" not in answer(composer, read, "What did you see?").facts["things"]


def test_people_words_find_the_person_box(composer, read):
    """A question that presupposes a kind of person is answered by the person box; one that asks whether
    such a one was there is not: a person box cannot tell a woman, a child or an adult from another."""
    said = answer(composer, read, "When did the woman leave?")
    assert "person" in said.text and said.evidence[0].start == T0 + 16, said.text
    assert "cannot tell" not in said.text, said.text
    assert answer(composer, read, "Did you see someone?").text.startswith("Yes, I saw a person"), "generic"
    for question, kind in (("Did you see a woman?", "a woman"), ("Were there any children?", "a child"),
                           ("Was there an adult in the room?", "an adult")):
        said = answer(composer, read, question)
        assert said.text.startswith("I cannot tell whether I saw") and said.facts["abstained"], said.text
        assert ": I saw a person " in said.text, said.text
        assert said.text.endswith(f"cannot tell {kind} from any other person."), said.text
        assert said.evidence and said.evidence[0].start == T0 + 16, said.text


def test_a_count_of_a_kind_of_person_is_not_a_count_of_people(composer, read):
    said = answer(composer, read, "How many children were there?")
    assert said.text.startswith("I cannot tell how many children there were: I saw 1 person"), said.text
    assert said.facts["count"] is None and said.facts["abstained"], said.facts
    assert answer(composer, read, "How many people were there?").facts["count"] == 1


@pytest.mark.parametrize("question, broad, narrow", [
    ("Where did you see the astronaut?", "person", "astronaut"),
    ("When did you see a sedan?", "car", "sedan"),
])
def test_a_narrower_word_is_answered_by_the_broader_thing_honestly(composer, read, question, broad, narrow):
    """ImageNet has no astronaut and COCO no sedan: the person (car) box answers, and the answer says it
    cannot tell whether it was the narrower thing, instead of "I do not recognise" or a plain "Yes"."""
    said = answer(composer, read, question)
    assert said.text.startswith(("I saw a " + broad, "I last saw a " + broad)), said.text
    assert said.text.endswith(f"I cannot tell whether it was {'an' if narrow[0] in 'aeiou' else 'a'} {narrow}.")
    assert said.evidence and {g.label for g in said.evidence} == {broad}
    assert said.facts["narrower"] == narrow
    if question.startswith("Where"):
        assert "when the robot was at x=21.00 m, y=1.00 m" in said.text, said.text


@pytest.mark.parametrize("question, narrow", [("Did you see an astronaut?", "an astronaut"),
                                             ("Was there a sedan?", "a sedan")])
def test_whether_a_narrower_thing_was_there_is_an_abstention_first(composer, read, question, narrow):
    """Asked whether it was there, the answer leads with its verdict ("I cannot tell"), not with a
    sighting a reader would take for a yes."""
    said = answer(composer, read, question)
    assert said.text.startswith(f"I cannot tell whether I saw {narrow}: I saw a"), said.text
    assert f"but cannot tell {narrow} from any other" in said.text and said.facts["abstained"], said.text


def test_a_narrower_word_not_seen_at_all_is_a_no(composer, read):
    said = answer(composer, read, "Did you see a firefighter in the first 10 seconds?")
    assert said.text.startswith("No, I have not seen a firefighter") and not said.evidence, said.text


@pytest.mark.parametrize("name", [n for n in BOXED if " " in n])
def test_a_two_word_coco_name_asked_is_the_thing_describe_lists(composer, name):
    """"Did you see a wine glass?" looks for the detector's wine glass, the label a description gives, not
    for "wine" and "glass" apart (which the classifier alone would have to see)."""
    concepts = composer.rec.concept(parse(f"Did you see a {name}?").subject)
    assert len(concepts) == 1 and BOXED.index(name) in concepts[0].coco, concepts


def counted(n: int) -> np.ndarray:
    a = frame(boxes={"person": 0.9})
    a[LAYOUT.coco_count.start + BOXED.index("person")] = n
    return a


def test_a_count_at_an_instant_reads_that_instant_not_the_most_in_its_window(composer):
    """'How many people at 2 s' is the frame at 2 s (4 people), not the 5 a second later that the
    question's window (a second either side) also holds; without an instant, the most at once (two frames
    of it: one frame's more is "I cannot tell", test_compose)."""
    script = [counted(n) for n in (1, 2, 4, 5, 5, 3, 2)]
    read = scripted_read(script, list(range(len(script))), T0, temporal_slots=12)
    said = answer(composer, read, "How many people were on camera at once at 2 s?")
    assert said.facts["count"] == 4 and said.evidence[0].start == T0 + 2, said.text
    assert answer(composer, read, "How many people were there at once?").facts["count"] == 5
