"""Questions about people other than the ones they name (issue #20: "anyone else besides the woman and the dog"
became a thing called "anyone else there besides the woman and the dog"): the parser takes the exclusion out as
`Question.besides`; lite answers from the most people seen at once and the people followed, against how many
people the left-out phrase names. Pure parsing and a scripted memory: fast."""

from dataclasses import replace

import pytest
from scripted import scripted_read
from test_compose import CLASSES, T0, annotation
from test_compose import read as script_read
from test_compose_identities import TRACKS

from vstream_ros.answering.others import UNNAMED
from vstream_ros.answering.question import Intent, parse
from vstream_ros.backends.lite.compose import Composer
from vstream_ros.backends.lite.others import people_named
from vstream_ros.backends.lite.vision import LiteRecognizer

read = script_read          # a person 0-9 s and 20-24 s (two at once at 22-23 s), a red car 12-16 s


@pytest.mark.parametrize("text, intent, subject, predicate, besides", [
    ("Was anyone else there besides the woman and the dog?", Intent.PRESENCE, "person", "", "the woman and the dog"),
    ("Did anyone else join him?", Intent.PRESENCE, "person", "come", "him"),
    ("Was there anybody other than the two children?", Intent.PRESENCE, "person", "", "the two children"),
    ("Apart from the woman, did you see anyone?", Intent.PRESENCE, "person", "", "the woman"),
    ("Did you see anyone except the man?", Intent.PRESENCE, "person", "", "the man"),
    ("Aside from the driver, was anybody in the car?", Intent.PRESENCE, "person in the car", "", "the driver"),
    ("How many people were there besides the girl?", Intent.COUNT, "people", "", "the girl"),
    ("Did someone else come in?", Intent.PRESENCE, "person", "come in", UNNAMED),
    ("When did anyone besides the man come in?", Intent.FIRST_SEEN, "person", "come in", "the man"),
    ("Did anyone besides the woman leave?", Intent.PRESENCE, "person", "leave", "the woman"),
    ("How many people besides the two children were there?", Intent.COUNT, "people", "", "the two children"),
    ("Did you see a dog?", Intent.PRESENCE, "dog", "", ""),
    ("Did the man leave the room?", Intent.PRESENCE, "man", "leave", ""),
])
def test_the_left_out_phrase_is_taken_out_of_the_subject(text, intent, subject, predicate, besides):
    q = parse(text)
    assert (q.intent, q.subject, q.predicate, q.besides) == (intent, subject, predicate, besides), q
    assert "else" not in q.subject and "besides" not in q.subject and "than" not in " ".join(q.modifiers)


@pytest.mark.parametrize("phrase, people", [
    ("the woman and the dog", 1), ("him", 1), ("the two children", 2), ("the man and the child", 2),
    ("the person with the kettle", 1), ("the two young men", 2), ("the dog", 0),
    ("them", None), ("the children", None), ("the people", None), (UNNAMED, None), ("", None),
])
def test_how_many_people_a_left_out_phrase_names(phrase, people):
    assert people_named(phrase) == people


@pytest.fixture(scope="module")
def composer():
    return Composer(LiteRecognizer(CLASSES, detector_available=True))


def ask(composer, read, text, tracks=()):
    r, interval = read
    q = replace(parse(text), origin=T0, newest=T0 + 29, frame_interval=interval)
    return composer.compose(q, replace(r, tracks=tracks))


def test_more_people_at_once_than_are_left_out_is_yes(composer, read):
    c = ask(composer, read, "Was anyone else there besides the woman?", TRACKS)
    assert c.text.startswith("Yes, I saw 2 people at once at most") and "more than the woman" in c.text, c.text
    assert c.facts["count"] == 1 and c.evidence
    c = ask(composer, read, "How many people were there besides the woman?", TRACKS)
    assert c.text.startswith("1 besides the woman: I saw 2 people") and c.facts["count"] == 1, c.text


def test_no_more_at_once_and_no_more_followed_is_no(composer, read):
    c = ask(composer, read, "Apart from the two men, did you see anyone?", TRACKS)
    assert c.text.startswith("No, I saw no one besides the two men") and "followed 2 people" in c.text, c.text
    assert c.facts["count"] == 0 and c.facts["seen"] is False
    c = ask(composer, read, "How many people were there besides the man and the woman?", TRACKS)
    assert c.text.startswith("0 besides the man and the woman") and c.facts["count"] == 0, c.text


def test_no_is_not_said_where_tracks_tell_more_people_or_none_were_kept(composer, read):
    three = TRACKS + (replace(TRACKS[0], id=9, first=T0 + 25, last=T0 + 27),)
    c = ask(composer, read, "Apart from the two men, did you see anyone?", three)
    assert c.facts.get("abstained") and "my tracks tell 3 people apart" in c.text, c.text
    c = ask(composer, read, "Apart from the two men, did you see anyone?")
    assert c.facts.get("abstained") and "no identities" in c.text, c.text


def test_who_is_left_out_must_be_countable(composer, read):
    c = ask(composer, read, "Did someone else come in?", TRACKS)
    assert c.facts.get("abstained") and "does not say who else" in c.text and "2 people at once" in c.text, c.text
    c = ask(composer, read, "Was anyone there besides them?", TRACKS)
    assert c.facts.get("abstained") and "how many people 'them' are" in c.text, c.text
    c = ask(composer, read, "Was there a car other than the red one?", TRACKS)
    assert c.facts.get("abstained") and "which ones you mean" in c.text, c.text


def test_what_others_did_is_not_told_unless_no_one_else_was_there(composer, read):
    c = ask(composer, read, "Did anyone besides the woman leave?", TRACKS)       # two people at once: one may have
    assert c.facts.get("abstained") and c.text.startswith("I cannot tell whether anyone besides the woman left")
    assert "does not recognise actions" in c.text, c.text
    c = ask(composer, read, "Did anyone besides the two men leave?", TRACKS)     # no one else there to leave
    assert c.text.startswith("No, no one besides the two men left") and c.facts["count"] == 0, c.text


def test_when_or_what_of_the_others_is_never_told(composer, read):
    c = ask(composer, read, "When did anyone besides the man come in?", TRACKS)
    assert c.facts.get("abstained") and c.text == ("I cannot tell when anyone besides the man came in: I cannot "
                                                   "tell which of the people I saw is the man."), c.text
    c = ask(composer, read, "Where was anybody other than the two girls?", TRACKS)
    assert c.facts.get("abstained") and c.text.startswith("I cannot tell where anyone besides the two girls was: ")
    assert c.text.endswith("are the two girls."), c.text


def test_one_frame_with_an_extra_person_is_i_cannot_tell_not_someone_else(composer):
    """The woman alone all along but for one frame with a second person box (the walkway's fifth person where four
    walked): "I cannot tell", not the "yes" one frame would give; two frames of it are someone else, none is "no"."""
    def read_of(people):
        script = [annotation(people=n) for n in people]
        return scripted_read(script, [(True, False)] * len(people), T0, temporal_slots=len(people) + 2)

    woman = (replace(TRACKS[0], first=T0, last=T0 + 9),)
    c = ask(composer, read_of([1, 1, 1, 1, 1, 1, 2, 1, 1, 1]), "Was anyone else there besides the woman?", woman)
    assert c.facts.get("abstained") and c.text.startswith(
        "I cannot tell whether I saw anyone besides the woman: I saw 1 person at once at most"), c.text
    assert "and 2 in one frame only (at 6.0 s), too few to be sure" in c.text, c.text
    c = ask(composer, read_of([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), "Was anyone else there besides the woman?", woman)
    assert c.text.startswith("No, I saw no one besides the woman"), c.text
    c = ask(composer, read_of([1, 1, 1, 1, 1, 1, 2, 2, 1, 1]), "Was anyone else there besides the woman?", woman)
    assert c.text.startswith("Yes, I saw 2 people at once at most"), c.text
