"""Honest scoring in vstream-eval: adversarial answers score wrong, right answers score right."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vstream_ros.tools.questions import Question, load_questions
from vstream_ros.tools.scoring import negated_ranges, polarity, score, stated_count, stated_times, tally

from conftest import REPO


def q(type_, answer="", **kw):
    return Question(id="t", question=kw.pop("question", "?"), answer=answer, ask_at=kw.pop("ask_at", None),
                    type=type_, **kw)


def verdict(prediction, question, clip_s=10.0):
    return score(prediction, question, clip_s)["verdict"]


MC = q("multiple_choice", "a playground", question="Where was this filmed?", correct="A",
       options=["a playground", "a kitchen", "a beach", "an office"])
ECHO = "Where was this filmed?\n(A) a playground\n(B) a kitchen\n(C) a beach\n(D) an office\n" \
       "Answer with the option's letter."


@pytest.mark.parametrize("prediction", ["A", "(A)", "A.", "The answer is A.", "Answer: (A) a playground",
                                        "A playground.", "It was a playground, not a beach.",
                                        "A, because there are swings."])
def test_multiple_choice_right_answers_pick_the_option(prediction):
    r = score(prediction, MC)
    assert r["verdict"] == "right" and r["chosen"] == "A" and r["correct"] == 1.0


@pytest.mark.parametrize("prediction, expected", [
    (ECHO, "no_choice"),                                # an echo of the prompt and its options
    ("(A) a playground (B) a kitchen (C) a beach (D) an office", "no_choice"),
    ("A or C", "no_choice"),                            # two letters
    ("A playground or a beach.", "no_choice"),          # two option texts
    ("(A) a kitchen", "no_choice"),                     # the letter of one option, the text of another
    ("A man pushing a child.", "no_choice"),            # "A" the article is not a letter
    ("Not a playground.", "no_choice"),                 # the only option named is negated
    ("B", "wrong"), ("A kitchen.", "wrong"), ("the answer is D", "wrong"),
    ("", "abstained"), ("I don't know.", "abstained"),
])
def test_multiple_choice_echo_and_several_options_are_no_choice(prediction, expected):
    r = score(prediction, MC)
    assert r["verdict"] == expected and r["correct"] == 0.0


def test_multiple_choice_option_inside_a_longer_option_is_not_a_second_choice():
    colours = q("multiple_choice", "red and white", correct="B", options=["red", "red and white", "green"])
    assert verdict("It was red and white.", colours) == "right"
    assert verdict("It was red.", colours) == "wrong"


YES = q("presence", "Yes, a bicycle.", question="Did you see a bicycle?", keywords=["bicycle", "bike", "cyclist"])
NO = q("presence", "No, there was no bicycle.", question="Did you see a bicycle?")


@pytest.mark.parametrize("prediction", ["Yes.", "Yes, I saw a bicycle (mountain bike) from 3.0 s to 9.5 s.",
                                        "I saw two bicycles.", "A cyclist at 4 s.", "Yes, at 4 s on camera video."])
def test_yes_no_right_answers(prediction):
    assert verdict(prediction, YES) == "right"


@pytest.mark.parametrize("prediction", ["No.", "No, I have not seen a bicycle.", "I have not seen a bicycle.",
                                        "I haven't seen one.", "I saw no bicycle.",
                                        "There was nothing like a bicycle. What I did see: cars, a taxi.",
                                        "I did not see a bicycle, but I saw a car."])
def test_no_answers_are_right_only_for_absent_things(prediction):
    assert verdict(prediction, NO) == "right"
    assert verdict(prediction, YES) == "wrong"      # "I have not seen a man" against "Yes, a man"


@pytest.mark.parametrize("prediction", ["I saw a bicycle (tricycle).", "Yes.", "Yes, a bicycle at 3 s."])
def test_a_sighting_is_wrong_for_an_absent_thing(prediction):
    assert verdict(prediction, NO) == "wrong"       # "I saw a bicycle" against "No bicycle"


@pytest.mark.parametrize("prediction", ["Yes, I saw a car.", "Yes, a dog (golden retriever) at 3 s."])
def test_right_polarity_with_wrong_words_is_wrong(prediction):
    assert verdict(prediction, YES) == "wrong"


def test_yes_no_without_a_polarity_is_wrong_and_empty_is_abstained():
    assert verdict("A red car.", YES) == "wrong"
    assert verdict("   ", YES) == "abstained"
    assert verdict("I cannot tell.", NO) == "abstained"


WHEN = q("when", question="When did you see the bicycle?", span=(3.04, 9.96))
FIRST = q("first_seen", question="When did you first see a bicycle?", span=(3.04, 9.96))
LAST = q("last_seen", question="When did you last see a car?", span=(0.8, 7.44))


@pytest.mark.parametrize("prediction", ["I saw a bicycle from 3.0 s to 9.5 s.", "From 00:03 to 00:10.",
                                        "A bicycle: 3-4 s and 8-9.9 s.", "between 4 and 10 seconds",
                                        "from 0:04 to 0:09"])
def test_when_right_spans(prediction):
    assert verdict(prediction, WHEN) == "right"


@pytest.mark.parametrize("prediction, why", [
    ("I saw a bicycle from 0.0 s to 9.9 s.", "start"),         # claims it was there from the first frame
    ("I saw a bicycle at 3 s.", "end"),                        # one moment for a 7 s span
    ("from 16:00:04 to 16:00:09", "outside"),                  # wall clock on a 10 s clip
    ("from 3 s to 25 s", "outside"),
    ("I have not seen a bicycle.", "not see"),
    ("A bicycle.", "no time"),
])
def test_when_wrong_spans(prediction, why):
    r = score(prediction, WHEN, 10.0)
    assert r["verdict"] == "wrong", r
    assert why in r["reason"] or why in ("start", "end")


def test_first_and_last_seen_use_their_own_end_of_the_span():
    assert verdict("I first saw a bicycle at 3 s.", FIRST) == "right"
    assert verdict("I first saw a bicycle at 6 s.", FIRST) == "wrong"
    assert verdict("I last saw a car at 7.4 s.", LAST) == "right"
    assert verdict("I saw a car from 1 s to 9.9 s.", LAST) == "wrong"
    assert verdict("I have not seen a car.", LAST) == "wrong"


def test_time_tolerance_grows_with_the_clip():
    long = q("first_seen", span=(100.0, 300.0))
    assert score("at 85 s", long, 400.0)["verdict"] == "right"        # 10 % of 400 s = 40 s
    assert score("at 85 s", long, 40.0)["verdict"] == "wrong"         # 2 s on a short clip... and outside it
    assert score("at 85 s", long, 400.0)["tolerance_s"] == pytest.approx(40.0)


def test_when_for_an_absent_thing_wants_a_no():
    dog = q("when", "I have not seen a dog.", question="When did you see a dog?")
    assert verdict("I have not seen a dog.", dog) == "right"
    assert verdict("I saw a dog from 3 s to 5 s.", dog) == "wrong"


SECOND = q("ordinal", "At about 20.6 s; the first one was at about 15 s.",
           question="When did the second red car appear?", span=(20.6, 25.5))


@pytest.mark.parametrize("prediction, expected", [
    ("At about 20.6 s; the first one was at about 15 s.", "right"),   # the gold answer
    ("The second red car appeared at 21 s.", "right"),
    ("From 20 s to 25 s.", "right"),                                 # a span: its start is the appearance
    ("At 15 s; the second one at 20.6 s.", "wrong"),                 # the first stated time is the first car's
    ("At about 15 s.", "wrong"),                                     # the first car, not the second
    ("I saw a red car from 15 s to 25 s.", "wrong"),
    ("At 45 s.", "wrong"),                                           # outside the 30 s stream
    ("I have not seen a second red car.", "wrong"), ("A red car.", "wrong"), ("I cannot tell.", "abstained"),
])
def test_ordinal_is_scored_on_the_first_stated_time_against_the_span_start(prediction, expected):
    r = score(prediction, SECOND, 30.0)
    assert r["verdict"] == expected and (expected == "abstained" or r["rule"] == "time"), r


def test_ordinal_tolerance_is_the_usual_one():
    third = q("ordinal", "At about 2.5 s.", span=(2.5, 6.66))
    assert verdict("at 4.4 s", third, 11.0) == "right" and verdict("at 4.6 s", third, 11.0) == "wrong"  # 2 s
    assert verdict("at 10 s", q("ordinal", span=(40.0, 50.0)), 100.0) == "wrong"   # 10 s of 100 s: 10 s ...
    assert verdict("at 31 s", q("ordinal", span=(40.0, 50.0)), 100.0) == "right"   # ... either side


SIGN = q("text", "\"#BLACK LIVES MATTER\", on three lines.", question="What did the sign say?",
         keywords=["black", "lives", "matter"])


@pytest.mark.parametrize("prediction, expected", [
    ("\"#BLACK LIVES MATTER\", on three lines.", "right"),               # the gold answer
    ("The sign said BLACK LIVES MATTER.", "right"), ("black / lives / matter", "right"),
    ("It said LIVES MATTER.", "wrong"),                                # a part of it: every word is needed
    ("BLACK.", "wrong"),
    ("It did not say black lives matter.", "wrong"),                   # negated
    ("It said EXIT, not black lives matter.", "wrong"),
    ("I have not seen a sign. What I did see: black lives matter.", "wrong"),   # a refusal, then a dump
    ("No text.", "wrong"), ("A lightbox on a table.", "wrong"), ("I cannot tell", "abstained"),
])
def test_text_needs_every_keyword_outside_a_negation(prediction, expected):
    r = score(prediction, SIGN, 37.4)
    assert r["verdict"] == expected and (expected == "abstained" or r["rule"] == "text"), r


def test_text_keywords_match_whatever_the_case():
    word = q("text", "SQUAD.", keywords=["SQUAD"])
    assert verdict("The door said Squad.", word) == "right" and verdict("squad", word) == "right"
    assert verdict("The door said SQUARE.", word) == "wrong"
    # a text question without keywords is scored on its words, as any open answer
    assert score("A sign.", q("text", "A sign."), 10.0)["rule"] == "open"


COUNT = q("count", "Two people.", count=2)


@pytest.mark.parametrize("prediction, expected", [
    ("2", "right"), ("Two people: a man and a child.", "right"), ("I saw 2 people from 3 s to 5 s.", "right"),
    ("I saw 1 man and 1 child.", "wrong"), ("1 or 2", "wrong"), ("three", "wrong"), ("I saw no people.", "wrong"),
    ("At 2 s I saw three people.", "wrong"),       # the 2 is a time, not a count
    ("I saw people.", "wrong"), ("I don't know", "abstained"),
    ("I saw 2 people on camera video from 00:10:30 to 00:30:30.", "right"),   # clock times are not counts
    ("I saw 3 people from 00:00:10 to 00:00:12.", "wrong"),
    ("On camera 3 I saw two people.", "right"),    # a camera's number is not a count
])
def test_count(prediction, expected):
    assert verdict(prediction, COUNT) == expected


def test_count_zero_from_words():
    zero = q("count", "None.", count=0)
    for p in ("I have not seen a dog.", "None.", "No people.", "nobody", "0"):
        assert verdict(p, zero) == "right", p
    assert verdict("1 dog", zero) == "wrong"


COLOUR = q("attribute", "Red.", question="What colour was the car?", keywords=["red"])


@pytest.mark.parametrize("prediction, expected", [
    ("Red.", "right"), ("The car was dark red.", "right"), ("It was not green, it was red.", "right"),
    ("green ... red", "wrong"),                        # the right word after a wrong one
    ("A green car; no wait, a red car.", "wrong"),
    ("Not red.", "wrong"), ("I have not seen a red car.", "wrong"),   # a negated keyword
    ("A red car and a white van.", "wrong"),           # every colour asserted must be accepted
    ("Blue.", "wrong"), ("I cannot tell", "abstained"),
])
def test_attribute_colours(prediction, expected):
    assert verdict(prediction, COLOUR) == expected


def test_several_accepted_colours_and_grey_spelt_gray():
    sign = q("attribute", "White with red letters.", keywords=["white", "red"])
    assert verdict("A white sign with red letters.", sign) == "right"
    assert verdict("White, red and yellow.", sign) == "wrong"
    grey = q("attribute", "Grey.", keywords=["grey", "silver"])
    assert verdict("It was gray.", grey) == "right"


@pytest.mark.parametrize("prediction, expected", [
    ("The roof of a white bus.", "right"), ("Buses.", "right"),
    ("I have not seen What was in front of the camera at the start.", "wrong"),
    ("No bus, only a car.", "wrong"), ("I saw a car, but not a bus.", "wrong"),
    ("Nothing like a bus or a van.", "wrong"), ("", "abstained"),
    # a refusal, then a dump of every label in memory, is not an answer about the start
    ("I have not seen What was in front of the camera at the start. What I did see: cat, bus, swing.", "wrong"),
])
def test_open_answers_with_keywords_and_negation(prediction, expected):
    start = q("at_time", "The white roof of a bus.", keywords=["bus", "roof", "van"])
    assert verdict(prediction, start) == expected


def test_open_answers_without_keywords_use_the_gold_words():
    shape = q("describe", "A red circle.")
    assert verdict("a red circle", shape) == "right"
    assert verdict("I have not seen a red circle.", shape) == "wrong"
    assert verdict("a green square", shape) == "wrong"


def test_helpers():
    assert stated_times("from 3.0 s to 9.5 s, again at 00:12 and 1:02:03")[0] == [3.0, 9.5, 12.0, 3723.0]
    assert stated_times("I saw 2 people at 3 s")[0] == [3.0]
    assert stated_count("at 3 s I saw 2 people") == 2 and stated_count("I saw a man") is None
    assert polarity("Yes") == 1 and polarity("I saw no bicycle") == -1 and polarity("There was an elephant") == 1
    assert polarity("I saw a man, not a woman.") == 1 and polarity("The man was not there") == -1
    text = "No, I have not seen a dog. What I did see: a cat."
    (neg,) = negated_ranges(text)
    assert text[neg[0]:neg[1]].startswith("not seen a dog") and "cat" not in text[neg[0]:neg[1]]


def test_tally_counts_each_verdict_per_type():
    recs = [{"type": "count", "verdict": v} for v in ("right", "wrong", "abstained")] + \
           [{"type": "multiple_choice", "verdict": "no_choice"}, {"type": "", "verdict": "right"}, {"type": "x"}]
    t = tally(recs)
    assert t["overall"] == {"n": 5, "right": 2, "wrong": 1, "abstained": 1, "no_choice": 1, "accuracy": 0.4}
    assert t["by_type"]["count"]["accuracy"] == pytest.approx(1 / 3) and t["by_type"]["untyped"]["n"] == 1


def test_truth_fields_are_read_and_checked(tmp_path):
    f = tmp_path / "q.json"
    f.write_text(json.dumps([
        {"id": "a", "question": "When?", "answer": "3-9 s", "type": "when", "answer_span": [3, 9]},
        {"id": "b", "question": "How many?", "answer": "2", "type": "count", "answer_count": 2},
        {"id": "c", "question": "What?", "answer": "a bus", "type": "describe", "keywords": ["bus", "van"]},
        {"id": "d", "question": "When?", "answer": "x", "answer_span": [9, 3]},
        {"id": "e", "question": "How many?", "answer": "x", "answer_count": "two"},
        {"id": "f", "question": "What?", "answer": "x", "keywords": []},
        {"id": "g", "question": "Where?", "answer": "x", "type": "where", "answer_pose": [1.5, -2]},
        {"id": "h", "question": "Where?", "answer": "x", "answer_pose": [1.5]},
        {"id": "i", "question": "Where?", "answer": "x", "answer_pose": ["1", "2"]},
    ]))
    qs, errors = load_questions(f)
    assert [x.id for x in qs] == ["a", "b", "c", "g"] and [e.item for e in errors] == ["d", "e", "f", "h", "i"]
    assert qs[0].span == (3.0, 9.0) and qs[1].count == 2 and qs[2].keywords == ["bus", "van"]
    assert qs[3].pose == (1.5, -2.0)


WHERE = q("where", "At x=1.73 m, y=1.00 m.", question="Where did you see the cup?", pose=(1.732, 1.0))


@pytest.mark.parametrize("prediction", [
    "I last saw a cup from 3.6 s to 5.8 s on camera cam0, when the robot was at x=1.73 m, y=1.00 m.",
    "At x: 1.9, y: 0.8.", "The robot stood at (1.5, 1.2) then.", "Around (1.70 m, 1.05 m, 0.0)."])
def test_where_right_positions(prediction):
    assert verdict(prediction, WHERE) == "right"


@pytest.mark.parametrize("prediction, why", [
    ("I last saw a cup from 3.6 s to 5.8 s, when the robot was at x=0.00 m, y=0.00 m.", "said (0.00, 0.00)"),
    ("I last saw a cup at 4 s, but no pose was recorded then, so I cannot say where.", "states no position"),
    ("I have not seen a cup.", "did not see"),
    ("At x=1.73, y=1.00 or at (0, 4).", "said (0.00, 4.00)"),          # a hedge between places
    ("Near the table, 1.7 m from the start.", "states no position"),
])
def test_where_wrong_positions(prediction, why):
    r = score(prediction, WHERE, 10.0)
    assert r["verdict"] == "wrong" and r["rule"] == "place" and why in r["reason"], r


def test_where_tolerance_is_the_stated_one():
    from vstream_ros.tools.scoring import POSE_TOL_M

    inside, outside = 1.732 + 0.9 * POSE_TOL_M, 1.732 + 1.1 * POSE_TOL_M
    assert verdict(f"x={inside:.3f}, y=1.0", WHERE) == "right"
    assert verdict(f"x={outside:.3f}, y=1.0", WHERE) == "wrong"
    # without a true position, a where question is scored on its words, as before
    assert score("At the door.", q("where", "At the door."), 10.0)["rule"] == "open"


@pytest.mark.slow
def test_eval_report_counts_abstained_and_no_choice(tmp_path):
    """vstream-eval on a small video with the tiny backend (random text): every answer gets a verdict, the
    report's counts add up, and random text never scores as a choice of several options."""
    video = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(60):
        w.write(np.full((48, 64, 3), (i * 4) % 255, np.uint8))
    w.release()
    (tmp_path / "q.json").write_text(json.dumps([
        {"id": "mc", "video_id": "clip", "type": "multiple_choice", "question": "Which?", "timestamp": 3,
         "options": ["grey", "a dog", "a car"], "answer": "grey"},
        {"id": "p", "video_id": "clip", "type": "presence", "question": "Did you see a dog?", "answer": "No."},
        {"id": "w", "video_id": "clip", "type": "when", "question": "When did you see grey?", "answer": "0-5.9 s",
         "answer_span": [0, 5.9]}]))
    out = subprocess.run([sys.executable, "-m", "vstream_ros.tools.evaluate", str(video), "--questions",
                          str(tmp_path / "q.json"), "--backend", "tiny", "--out", str(tmp_path / "r"),
                          "--max-new-tokens", "4"], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    s = report["summary"]
    answers = [json.loads(ln) for ln in (tmp_path / "r" / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 3 and all(a["verdict"] in ("right", "wrong", "abstained", "no_choice") for a in answers)
    assert all(a["correct"] == float(a["verdict"] == "right") for a in answers)
    assert s["right"] + s["abstained"] + s["no_choice"] <= s["answered"] == 3
    assert s["abstained"] == sum(a["verdict"] == "abstained" for a in answers)
    assert set(s["by_type"]) == {"multiple_choice", "presence", "when"}
    assert report["system"]["clip_seconds"] == pytest.approx(5.9) and report["system"]["time_tolerance_s"] == 2.0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| type | questions | right | wrong | abstained | no choice | accuracy |" in md
