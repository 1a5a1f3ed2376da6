"""Hands: the palm detector's anchors and box decoding against MediaPipe's layout, its letterbox undone, and
the real network on real frames of the tuning half's clips (when the weights were fetched: scripts/setup.sh)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vstream_ros.backends.lite import detection, hands, onnx_cpu
from vstream_ros.backends.lite.detection import Combined, Detection
from vstream_ros.backends.lite.hands import HAND_SCALE, INPUT_SIZE, PalmDetector, anchors
from vstream_ros.backends.lite.vision import distinct

from conftest import VIDEOS, frame_at


def test_anchors_are_mediapipes_ssd_layout():
    # strides 8, 16, 32 with 2, 2 and 6 anchors a cell, row by row, centred on their cells: the order of the
    # network's 2944 outputs (the list vladmandic/human ships with the model starts and turns so)
    a = anchors()
    assert a.shape == (2944, 2)
    np.testing.assert_allclose(a[:3], [[1 / 64, 1 / 64], [1 / 64, 1 / 64], [3 / 64, 1 / 64]])
    np.testing.assert_allclose(a[64], [1 / 64, 3 / 64])                  # the second row of the 32x32 grid
    np.testing.assert_allclose(a[2048:2050], [[1 / 32, 1 / 32]] * 2)     # the 16x16 grid begins
    np.testing.assert_allclose(a[2560:2566], [[1 / 16, 1 / 16]] * 6)     # the 8x8 grid: six a cell
    np.testing.assert_allclose(a[-1], [15 / 16, 15 / 16])


def stub(raw: np.ndarray) -> PalmDetector:
    graph = SimpleNamespace(inputs=["input"], outputs=["Identity"], output_specs={})
    d = PalmDetector(graph)
    d.network = lambda x: {"Identity": torch.from_numpy(raw[None].astype(np.float32))}
    return d


def test_a_palm_box_is_decoded_from_its_anchor_and_mapped_back_through_the_letterbox():
    raw = np.full((2944, 19), -20.0, np.float32)                       # every anchor: nothing there
    i = 2048 + 16 * 8 + 8                                              # 16x16 grid, row 4, column 4: (9/32, 9/32)
    cx, cy = anchors()[i] * INPUT_SIZE                                 # 72, 72
    raw[i, :5] = [3.0, 128 - cx, 128 - cy, 32, 16]                     # a palm at the input's centre, 32x16 px
    frame = np.zeros((256, 512, 3), np.uint8)                          # 2:1: scale 0.5, 64 px bars above and below
    (hand,) = stub(raw).detect(frame)[0]
    assert hand.label == "hand" and hand.score == pytest.approx(1 / (1 + np.exp(-3.0)))
    half_w, half_h = 32 * HAND_SCALE / 2 / 0.5 / 512, 16 * HAND_SCALE / 2 / 0.5 / 256
    np.testing.assert_allclose(hand.box, (0.5 - half_w, 0.5 - half_h, 0.5 + half_w, 0.5 + half_h), atol=1e-6)
    raw[i, 0] = np.log(0.45 / 0.55)                                    # below MediaPipe's 0.5: not a hand
    assert stub(raw).detect(frame) == [[]]


def test_a_palm_is_a_hand_only_where_the_landmark_models_hand_presence_says_so():
    # the palm detector alone found "hands" on an empty road at 0.8-0.98; the landmark model's presence output
    # is the bar, and a hand's score is the lower of the two
    raw = np.full((2944, 19), -20.0, np.float32)
    for i, score in ((100, 3.0), (1500, 2.0)):
        raw[i, :5] = [score, 0, 0, 20, 20]
    d = stub(raw)
    seen = []
    d.presence = lambda frame, box: seen.append(box) or ((0.7, (0.1, 0.1, 0.2, 0.2)) if box[1] < 0.3 else
                                                         (0.3, (0.5, 0.5, 0.6, 0.6)))
    (hand,) = d.detect(np.zeros((256, 256, 3), np.uint8))[0]
    assert len(seen) == 2 and hand.score == pytest.approx(0.7)
    assert hand.box == (0.1, 0.1, 0.2, 0.2)                             # boxed about its landmarks


def test_a_palm_too_small_for_the_landmark_model_is_not_looked_at():
    raw = np.full((2944, 19), -20.0, np.float32)
    raw[100, :5] = [3.0, 0, 0, 6, 6]                   # a hand box 9.6 px wide in a 256 px frame: under MIN_HAND
    raw[1500, :5] = [3.0, 0, 0, 9, 9]                  # 14.4 px: over it
    d = stub(raw)
    seen = []
    d.presence = lambda frame, box: seen.append(box) or (0.9, box)
    assert len(d.detect(np.zeros((256, 256, 3), np.uint8))[0]) == 1 and len(seen) == 1
    assert hands.MIN_HAND * 256 == pytest.approx(12.8)


def test_candidates_whose_landmarks_gather_on_one_hand_are_one_hand():
    # on the cups clip at 3 s a wrist's candidate gave the left hand's landmarks again: a narrow box whose centre
    # lies in the hand's own; the right hand, apart, stays a hand
    d = stub(np.zeros((2944, 19), np.float32))
    boxes = {(0.0, 0.0, 0.1, 0.1): (0.95, (0.219, 0.42, 0.243, 0.595)),    # the left hand: a strip of it
             (0.0, 0.5, 0.1, 0.6): (0.84, (0.22, 0.36, 0.30, 0.52)),      # from its wrist: more of the same hand
             (0.5, 0.5, 0.6, 0.6): (0.90, (0.71, 0.39, 0.79, 0.59))}       # the right hand
    d.presence = lambda frame, box: boxes[box]
    found = d._confirm(np.zeros((8, 8, 3), np.uint8), [Detection("hand", 0.99, b) for b in boxes])
    assert [h.box for h in found] == [(0.219, 0.42, 0.243, 0.595), (0.71, 0.39, 0.79, 0.59)]
    assert [h.score for h in found] == [0.95, 0.90]


def test_overlapping_palms_are_one_hand_and_two_apart_are_two():
    raw = np.full((2944, 19), -20.0, np.float32)
    a = anchors() * INPUT_SIZE
    for i, score in ((100, 2.0), (101, 1.0), (1500, 1.5)):              # 100 and 101 share a cell
        raw[i, :5] = [score, 0, 0, 20, 20]
    found = stub(raw).detect(np.zeros((256, 256, 3), np.uint8))[0]
    assert [round(h.score, 3) for h in found] == [round(1 / (1 + np.exp(-2.0)), 3), round(1 / (1 + np.exp(-1.5)), 3)]
    assert a[100].tolist() == a[101].tolist()


def test_a_hand_in_a_persons_box_is_kept_and_a_second_box_of_the_same_hand_is_not():
    person = Detection("person", 0.9, (0.1, 0.1, 0.9, 0.9))
    hand = Detection("hand", 0.8, (0.4, 0.4, 0.5, 0.5))
    echo = Detection("hand", 0.6, (0.41, 0.41, 0.5, 0.5))
    upper = Detection("person", 0.5, (0.1, 0.1, 0.9, 0.5))             # a person's upper body: the same person
    assert distinct([upper, echo, hand, person]) == [person, hand]


def test_combined_detectors_give_each_frame_every_detectors_boxes():
    coco = SimpleNamespace(id="coco", detect=lambda f: [[Detection("person", 0.9, (0, 0, 1, 1))]] * len(f))
    palms = SimpleNamespace(id="palms", label="hand",
                            detect=lambda f: [[Detection("hand", 0.7, (0.2, 0.2, 0.3, 0.3))]] * len(f))
    faces = SimpleNamespace(id="faces", label="face", detect=lambda f: [[]] * len(f))
    both = Combined(coco, palms, faces)
    assert [[d.label for d in f] for f in both.detect(np.zeros((2, 8, 8, 3), np.uint8))] == [["person", "hand"]] * 2
    assert both.id == "coco+palms+faces" and both.labels == {"hand", "face"}
    assert both.without("hand").labels == {"face"} and both.without("hand").without("face") is coco


def test_a_part_with_a_bearer_looks_only_at_frames_with_its_bearers_box():
    person, car = Detection("person", 0.9, (0, 0, 1, 1)), Detection("car", 0.8, (0, 0, 1, 1))
    firsts = [[car], [person], [], [car, person]]
    coco = SimpleNamespace(id="coco", detect=lambda f: [firsts[int(x[0, 0, 0])] for x in f])
    looked: list[list[int]] = []

    def face_search(f):
        looked.append([int(x[0, 0, 0]) for x in f])
        return [[Detection("face", 0.9, (0.4, 0.1, 0.6, 0.3))] for _ in f]

    faces = SimpleNamespace(id="faces", label="face", bearer="person", detect=face_search)
    palms = SimpleNamespace(id="palms", label="hand", detect=lambda f: [[Detection("hand", 0.7, (0.2, 0.2, 0.3, 0.3))]
                                                                        for _ in f])
    frames = np.stack([np.full((4, 4, 3), i, np.uint8) for i in range(4)])
    got = Combined(coco, palms, faces).detect(frames)
    assert looked == [[1, 3]]                                 # faces searched in the frames with a person only
    assert [sorted(d.label for d in f) for f in got] == [["car", "hand"], ["face", "hand", "person"], ["hand"],
                                                         ["car", "face", "hand", "person"]]
    looked.clear()
    assert [[d.label for d in f] for f in Combined(coco, faces).detect(frames[[0, 2]])] == [["car"], []]
    assert looked == []                                       # no person in any frame: no face search at all


# ------------------------------------------------------------------ the real network on real frames
needs_weights = pytest.mark.skipif(not PalmDetector.available() or not (VIDEOS / "tabletop_cups.mp4").exists(),
                                   reason="palm detector weights not fetched (python -m "
                                          "vstream_ros.backends.lite.detection --fetch) or the clips are absent")


@pytest.mark.slow
@needs_weights
def test_hands_on_the_tabletop_and_none_on_the_road(monkeypatch):
    """tabletop_cups at 3 s: both of the woman's hands on the cups (left and right of the table's middle, in
    its upper half); road_overpass at 6 s: cars from a bridge, no hand. ONNX Runtime and the TF.js graph
    give the same hands."""
    found = {}
    for runtime in onnx_cpu.RUNTIMES:
        monkeypatch.setenv(onnx_cpu.RUNTIME_ENV, runtime)
        d = PalmDetector.load()
        assert isinstance(d.network, onnx_cpu.OrtNetwork) == (runtime == "onnxruntime")
        found[runtime] = d.detect(np.stack([frame_at("tabletop_cups.mp4", 3.0)]))[0]
        assert d.detect(frame_at("road_overpass.avi", 6.0)) == [[]]
    cups = found["onnxruntime"]
    centres = sorted(((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in (h.box for h in cups))
    assert len(cups) >= 2 and all(0.2 <= y <= 0.65 for _, y in centres), cups
    assert centres[0][0] < 0.4 and centres[-1][0] > 0.6, centres          # one hand each side
    assert [round(h.score, 3) for h in cups] == [round(h.score, 3) for h in found["torch"]]
    np.testing.assert_allclose([h.box for h in cups], [h.box for h in found["torch"]], atol=1e-3)


def test_a_missing_palm_detector_is_a_clear_error(tmp_path):
    assert not PalmDetector.available(tmp_path)
    with pytest.raises(FileNotFoundError, match="--fetch"):
        PalmDetector.load(tmp_path)
    assert set(hands.FILES) <= set(detection.MODEL_FILES)            # the fetch keeps them


def test_without_the_hand_models_lite_keeps_its_coco_detector_and_says_so(monkeypatch, caplog):
    import logging

    from vstream_ros.backends.lite import backend
    from vstream_ros.backends.lite.detection import CocoDetector
    from vstream_ros.backends.lite.faces import FaceDetector

    coco = SimpleNamespace(id="coco", detect=lambda f: [[]] * len(f))
    monkeypatch.setattr(CocoDetector, "load", classmethod(lambda cls, *a, **k: coco))

    def missing(cls, *a, **k):
        raise FileNotFoundError("no handdetect.json")

    monkeypatch.setattr(PalmDetector, "load", classmethod(missing))
    monkeypatch.setattr(FaceDetector, "load", classmethod(missing))
    # the log line itself, whatever an earlier test did to the loggers' propagation (ros/pylog.py, launch)
    backend.log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=backend.__name__):
            assert backend.load_detector() is coco
    finally:
        backend.log.removeHandler(caplog.handler)
    assert "without the hand detector" in caplog.text and "no handdetect.json" in caplog.text
    (said,) = backend.degraded(coco, faces=False)
    assert said.startswith("lite runs without its hand detector") and "--fetch" in said
    monkeypatch.setattr(PalmDetector, "load", classmethod(lambda cls, *a, **k: SimpleNamespace(id="palms",
                                                                                                label="hand")))
    both = backend.load_detector(faces=False)
    assert isinstance(both, Combined) and backend.degraded(both, faces=False) == []
    assert "COCO detector" in backend.degraded(None)[0]
    assert backend.load_detector(hands=False, faces=False) is coco                            # asked so
    assert backend.degraded(coco, hands=False, faces=False) == []
