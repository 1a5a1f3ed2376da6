"""Text in the scene (vstream_ros/perception/ocr.py): RapidOCR's real PP-OCRv4 models on real frames."""

import builtins
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from vstream_ros.perception import ocr
from vstream_ros.perception.ocr import OcrSchedule, SceneText

pytest.importorskip("rapidocr_onnxruntime")
CLIP = Path(__file__).parent / "fixtures" / "videos" / "flashvstream_example.mp4"


@pytest.fixture(scope="module")
def reader():
    return SceneText().load()


def _frame(index):
    cap = cv2.VideoCapture(str(CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    assert ok
    return np.ascontiguousarray(bgr[:, :, ::-1])


def test_reads_the_word_on_a_shirt_in_a_real_frame(reader):
    """Frame 464 of flashvstream_example.mp4 (480x360; looked at): the man by the swing wears a black
    shirt printed LUANDA / KIPP AMP / CAPOEIRA, the letters about 20 px high, on his chest at about
    x 0.65-0.76, y 0.3-0.37 of the frame. LUANDA is read, and placed there; reading only his box finds
    it in the same place of the frame."""
    frame = _frame(464)
    words = reader.read(frame)
    hit = [w for w in words if w.text.upper() == "LUANDA"]
    assert hit, words
    x0, y0, x1, y1 = hit[0].box
    assert 0.6 < x0 < x1 < 0.8 and 0.25 < y0 < y1 < 0.42 and hit[0].score >= 0.8
    crop = [w for w in reader.read(frame, box=(0.55, 0.1, 0.85, 0.95)) if w.text.upper() == "LUANDA"]
    assert crop and np.allclose(crop[0].box, hit[0].box, atol=0.03), crop


def test_reads_a_printed_page_and_nothing_on_a_photo_without_text(reader):
    """skimage's `page` is a real scan of a printed page; `coffee` a photograph of a cup with no text."""
    text = " ".join(w.text for w in reader.read(np.stack([skimage.data.page()] * 3, -1)))
    assert "segmentation" in text and "background" in text, text
    assert reader.read(skimage.data.coffee()) == []


def test_bad_frames_and_boxes_are_clear_errors(reader):
    with pytest.raises(ValueError, match="uint8 RGB"):
        reader.read(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="box"):
        reader.read(np.zeros((64, 64, 3), np.uint8), box=(0.5, 0.5, 0.2, 0.9))
    assert reader.read(np.zeros((64, 64, 3), np.uint8), box=(0.5, 0.5, 0.51, 0.51)) == []


def test_missing_package_is_a_clear_error(monkeypatch):
    real = builtins.__import__

    def no_rapidocr(name, *args, **kwargs):
        if name.startswith("rapidocr_onnxruntime"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rapidocr)
    with pytest.raises(ocr.OcrUnavailable, match="pip install"):
        SceneText().read(np.zeros((64, 64, 3), np.uint8))


def test_schedule_reads_a_changed_scene_at_most_once_a_period():
    sched = OcrSchedule(period_s=10.0)
    a, b = _frame(0), _frame(464)
    assert sched.due(0.0, a)                 # the first frame is read
    assert not sched.due(5.0, b)             # too soon
    assert not sched.due(12.0, a)            # the same picture: nothing new to read
    assert sched.due(13.0, b)                # changed and the period has passed
    assert sched.due(14.0, b, force=True)    # a question about text reads now


def test_schedule_looks_at_a_frame_only_once_the_period_has_passed(monkeypatch):
    sched = OcrSchedule(period_s=10.0)
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    grey = cv2.resize(frame.mean(2).astype(np.float32), (32, 24), interpolation=cv2.INTER_AREA)
    assert np.abs(OcrSchedule.thumbnail(frame) - grey).max() < 0.5        # the frame's grey levels, shrunk
    assert sched.due(0.0, frame)
    looked = []
    monkeypatch.setattr(OcrSchedule, "thumbnail", staticmethod(lambda f: looked.append(1) or grey))
    assert not sched.due(5.0, frame) and not looked                      # inside the period: not looked at
    assert not sched.due(11.0, frame) and looked == [1]                   # after it: compared, unchanged
