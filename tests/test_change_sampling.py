"""Sampling that follows the picture (engine/ingest.py, `sample_on_change`, off by default): a thing that is on
camera only between two due frames is kept when it comes; a busy picture costs at most one extra frame per period.
At the defaults (by stamp alone, 1 Hz) a thing on camera for 1.5 s is kept wherever its stretch falls."""

import numpy as np
import torch
from enginekit import engine_with

from vstream_ros.backends.contract import Backend, Unannotated, Unobserved
from vstream_ros.engine.ingest import thumbnail
from vstream_ros.memory import MemoryConfig


class Means(Unannotated, Unobserved):
    id, dim, feature_grid = "toy:means", 3, (1, 1)
    device, dtype = torch.device("cpu"), torch.float32

    def encode(self, frames):
        return torch.as_tensor(np.asarray(frames), dtype=torch.float32).mean((1, 2))[:, None, None] / 255.0


class Mute:
    def abstract_projections(self):
        return None, None


def scene(t, shown=(), h=48, w=64):
    """A grey room; during each (start, end) of `shown` a white box stands in its middle."""
    f = np.full((h, w, 3), 90, np.uint8)
    if any(a <= t < b for a, b in shown):
        f[10:40, 20:45] = 250
    return f


def kept(shown, seconds=4.0, start=10.0, **cfg):
    engine = engine_with(Backend("means", Means(), Mute(), MemoryConfig(temporal_slots=8)), **cfg)
    try:
        for k in range(int(seconds * 30)):
            t = start + k / 30
            engine.offer("cam", t, scene(t, shown) if not callable(shown) else shown(k), wait=True)
        assert engine.flush()
        return [f.stamp for f in engine.frame_log.since(0)]
    finally:
        engine.stop()


ON = 12.0


def test_a_thing_on_camera_between_two_due_frames_is_kept_when_it_comes():
    brief = [(10.2, 10.9)]                  # 0.7 s, between the due frames at 10 s and 11 s
    assert not [t for t in kept(brief) if 10.2 <= t < 10.9]           # by stamp alone (the default): missed
    stamps = kept(brief, sample_on_change=ON)
    assert [t for t in stamps if 10.2 <= t < 10.9], stamps
    # its leaving is a change too: the frame after it is kept, so the stretch ends where it ended
    longer = kept([(10.2, 11.7)], sample_on_change=ON)
    assert len([t for t in longer if 10.2 <= t < 11.7]) >= 2, longer


def test_a_thing_on_camera_for_a_second_and_a_half_is_kept_at_the_defaults():
    for k in range(10):                    # its stretch begins anywhere in a sampling period
        start = 10.05 + 0.1 * k
        stamps = kept([(start, start + 1.5)])
        assert [t for t in stamps if start <= t < start + 1.5], (start, stamps)


def test_a_still_picture_is_sampled_by_stamp_and_a_busy_one_at_most_twice_as_often():
    assert len(kept(())) == len(kept((), sample_on_change=ON)) == 4
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(8)]
    busy = kept(lambda k: noise[k % 8], seconds=6.0, sample_on_change=ON)
    assert 6 < len(busy) <= 12 and min(np.diff(busy)) >= 0.5 - 1e-9, busy
    assert len(kept(lambda k: noise[k % 8], seconds=6.0)) == 6                        # the default: by stamp


def test_thumbnails_are_cheap_and_only_from_what_offers_one():
    assert thumbnail(np.zeros((480, 640, 3), np.uint8)).shape == (16, 16)
    assert thumbnail(lambda: np.zeros((4, 4, 3), np.uint8)) is None          # a decoder without one: by stamp

    def decode():
        raise AssertionError("never decoded for a thumbnail")
    decode.thumbnail = lambda: np.ones((16, 16), np.float32)
    assert thumbnail(decode).sum() == 256
    assert thumbnail(np.zeros((4, 4), np.uint8)) is None


def test_a_raw_image_message_gives_its_thumbnail_in_place():
    from types import SimpleNamespace

    from vstream_ros.ros.image_codec import image_thumbnail, image_to_rgb

    rgb = np.random.default_rng(1).integers(0, 255, (48, 64, 3), np.uint8)
    msg = SimpleNamespace(height=48, width=64, step=64 * 3, encoding="rgb8", is_bigendian=0, data=rgb.tobytes())
    assert np.allclose(image_thumbnail(msg), thumbnail(image_to_rgb(msg)))
    assert image_thumbnail(SimpleNamespace(**{**vars(msg), "encoding": "mono16"})) is None


def test_load_shedding_holds_change_frames_back_and_counts_them():
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(8)]
    engine = engine_with(Backend("means", Means(), Mute(), MemoryConfig(temporal_slots=8)), sample_on_change=ON)
    try:
        engine.ingest.follow_changes = False       # what the shedder's first level does (engine/shedding.py)
        for k in range(int(6.0 * 30)):
            engine.offer("cam", 10.0 + k / 30, noise[k % 8], wait=True)
        assert engine.flush()
        stamps = [f.stamp for f in engine.frame_log.since(0)]
        st = engine.ingest.stats_copy()["cam"]
        # the rate's frames only (a busy picture gets up to twice as many when followed), one held a period
        assert len(stamps) == 6 and min(np.diff(stamps)) >= 1.0 - 1e-9, stamps
        assert st.held_back == 6 and engine.ingest.held_back_total() == 6
        assert st.received == st.sampled + st.dropped + st.rejected and st.held_back <= st.dropped
    finally:
        engine.stop()


class Gated(Means):
    """Means that waits for a gate on its first batch: the encoder is busy with another frame."""

    def __init__(self):
        import threading

        self.gate, self.busy = threading.Event(), threading.Event()

    def encode(self, frames):
        self.busy.set()
        assert self.gate.wait(30)
        return super().encode(frames)


def test_a_change_frame_and_the_due_frame_after_it_both_wait_for_a_busy_encoder():
    enc = Gated()
    engine = engine_with(Backend("means", enc, Mute(), MemoryConfig(temporal_slots=8)), sample_on_change=ON)
    try:
        engine.offer("cam", 10.0, scene(10.0))
        assert enc.busy.wait(30)                           # the encoder holds the 10 s frame
        shown = [(10.6, 12.0)]
        out = [engine.offer("cam", t, scene(t, shown)) for t in (10.3, 10.6, 11.0)]
        assert [o.outcome for o in out] == ["dropped", "sampled", "sampled"]   # a change, then the due one
        enc.gate.set()
        assert engine.flush()
        assert [f.stamp for f in engine.frame_log.since(0)] == [10.0, 10.6, 11.0]
        assert engine.ingest.stats_copy()["cam"].overwritten == 0
    finally:
        engine.stop()
