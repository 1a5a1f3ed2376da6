"""The lite backend on real photographs (scikit-image and scikit-learn sample images): questions about
objects that were shown cite the time they were shown; absent objects get the not-seen answer."""

import numpy as np
import pytest
from skimage import data
from sklearn.datasets import load_sample_image

from vstream_ros.memory import STARMemory
from vstream_ros.models import load_backend
from vstream_ros.models.lite import MATCH_THRESHOLD, object_phrase

PHOTOS = [("cat", data.chelsea), ("coffee", data.coffee), ("rocket", data.rocket),
          ("astronaut", data.astronaut), ("china", lambda: load_sample_image("china.jpg")),
          ("flower", lambda: load_sample_image("flower.jpg"))]
SHOWN_FOR = 8.0   # seconds of stamps per photo, one frame a second


@pytest.fixture(scope="module")
def lite():
    return load_backend("lite", device="cpu")


@pytest.fixture(scope="module")
def stream(lite):
    """Six photos, each shown for 8 s with camera-like jitter and noise, through the STAR memory."""
    enc = lite.encoder
    mem = STARMemory(lite.memory_config, enc.dim, enc.feature_grid, encoder_id=enc.id)
    rng = np.random.default_rng(0)
    spans, t = {}, 1000.0
    for name, load in PHOTOS:
        img = load()
        spans[name] = (t, t + SHOWN_FOR - 1)
        for _ in range(int(SHOWN_FOR)):
            dy, dx = rng.integers(0, 12, 2)
            crop = img[dy: img.shape[0] - 12 + dy, dx: img.shape[1] - 12 + dx]
            noisy = np.clip(crop + rng.normal(0, 5, crop.shape), 0, 255).astype(np.uint8)
            mem.update(enc.encode(noisy)[0], t)
            t += 1.0
    return mem.read(), spans


@pytest.mark.parametrize("name, question", [("cat", "When did you see a cat?"),
                                            ("coffee", "Was there a cup of coffee?"),
                                            ("rocket", "Did you see a rocket?")])
def test_shown_object_is_cited_with_its_time(lite, stream, name, question):
    read, spans = stream
    ans = lite.answerer.answer(read, question, max_new_tokens=32)
    text = ans.text()
    assert text.startswith("I saw") and ans.evidence, text
    lo, hi = spans[name]
    for g in ans.evidence:
        assert g.end >= lo and g.start <= hi, (name, g, spans)
        assert g.weight >= MATCH_THRESHOLD
    assert "ImageNet" in ans.limitations


@pytest.mark.parametrize("question", ["Did you see a giraffe?", "Have you seen a dog?", "Did you see a car?"])
def test_absent_object_is_not_invented(lite, stream, question):
    read, _ = stream
    ans = lite.answerer.answer(read, question, max_new_tokens=32)
    assert ans.evidence == []
    assert ans.text().startswith(f"I have not seen {object_phrase(question)}")


def test_last_seconds_question_cites_the_newest_slots(lite, stream):
    read, spans = stream
    ans = lite.answerer.answer(read, "What did you see in the last 5 seconds?", max_new_tokens=24)
    newest = max(g.end for g in read.groups)
    assert ans.evidence and all(g.end >= newest - 5 for g in ans.evidence)
    assert ans.text().startswith("I saw")


def test_encoder_contract(lite):
    enc = lite.encoder
    f = enc.encode(np.zeros((2, 100, 150, 3), np.uint8))
    assert f.shape == (2, 7, 7, 1280) and enc.feature_grid == (7, 7) and enc.dim == 1280
    assert lite.memory_config.full_tokens(enc.feature_grid) == 25 + 25 * 16 + 4 * 49
    (top,) = enc.label(enc.encode(data.coffee()).mean((1, 2)))
    assert top[0][0] == "espresso" and top[0][1] > 0.5


def test_question_naming_no_object_gets_the_main_things_seen(lite, stream):
    read, spans = stream
    ans = lite.answerer.answer(read, "What did you see?", max_new_tokens=24)
    assert ans.text().startswith("I saw") and 1 <= len(ans.evidence) <= 5
    assert [g.start for g in ans.evidence] == sorted(g.start for g in ans.evidence)
