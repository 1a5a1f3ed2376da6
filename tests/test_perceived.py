"""Tracks and scene text at ingest (backends/contract.py `observe`, engine/encoding.py, memory/perceived.py,
backends/lite/observing.py): the encoder's per-frame observations reach the memory's bounded per-camera
tables, every read carries them, snapshots keep them, resets clear them. No model here: a toy encoder, and
the real ByteTrack on boxes written here."""

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from enginekit import engine_with, feed

from vstream_ros.backends.contract import NOTHING_OBSERVED, Backend, Observation, Unobserved
from vstream_ros.engine.persistence import _only
from vstream_ros.memory import MemoryConfig, MultiCameraMemory, TextSighting, Track
from vstream_ros.memory.perceived import Perceived
from vstream_ros.memory.snapshot import read_snapshot, write_snapshot
from vstream_ros.perception.ocr import OcrUnavailable


def track(i, first, last, label="person", **kw):
    return Track(i, label, first, last, kw.pop("frames", 2), kw.pop("score", 0.7), **kw)


def memory(cameras=("cam",), stamps=(1.0, 2.0, 3.0)):
    m = MultiCameraMemory(MemoryConfig(temporal_slots=4), 3, (2, 2))
    for c in cameras:
        for t in stamps:
            m.update(c, torch.rand(2, 2, 3), t)
    return m


# ------------------------------------------------------------------ the tables
def test_a_track_keeps_its_newest_record_and_text_read_again_is_one_sighting():
    p = Perceived()
    p.add([track(1, 1.0, 1.0)], [TextSighting("EXIT", 1.0, 1.0, 0.9, (0.1, 0.1, 0.2, 0.2))])
    p.add([track(1, 1.0, 4.0, frames=4, colours=(("red", 0.6),))], [TextSighting("exit", 5.0, 5.0, 0.95)])
    tracks, texts = p.read()
    assert tracks == (track(1, 1.0, 4.0, frames=4, colours=(("red", 0.6),)),)
    assert len(texts) == 1 and (texts[0].first, texts[0].last, texts[0].score) == (1.0, 5.0, 0.95)
    assert p.read((4.5, 9.0))[0] == () and len(p.read((4.5, 9.0))[1]) == 1      # a window cuts both
    assert texts[0].bearer == ""


def test_what_a_text_was_read_on_is_kept_through_a_snapshot_and_a_later_read():
    p = Perceived()
    p.add(texts=[TextSighting("LUANDA", 1.0, 1.0, 0.9, (0.6, 0.2, 0.7, 0.3), bearer="person")])
    p.add(texts=[TextSighting("luanda", 5.0, 5.0, 0.8)])            # read again, on no box this time
    again = Perceived.from_dict(json.loads(json.dumps(p.to_dict())))
    (t,) = again.read()[1]
    assert (t.bearer, t.first, t.last) == ("person", 1.0, 5.0)
    old = p.to_dict()
    del old["texts"][0]["bearer"]                                    # a snapshot from before bearers
    assert Perceived.from_dict(old).read()[1][0].bearer == ""


def test_tables_are_bounded_the_longest_unseen_leave_first():
    p = Perceived(max_tracks=3, max_texts=2)
    for i in range(10):
        p.add([track(i, float(i), float(i) + 0.5)], [TextSighting(f"W{i}", float(i), float(i), 0.9)])
    assert sorted(p.tracks) == [7, 8, 9] and sorted(p.texts) == ["w8", "w9"]


def test_a_track_begun_before_the_memory_is_cut_to_it_and_one_wholly_before_is_dropped():
    p = Perceived()
    p.add([track(1, 2.0, 9.0), track(2, 1.0, 3.0)], since=5.0)
    assert [(t.id, t.first, t.last) for t in p.read()[0]] == [(1, 5.0, 9.0)]


def test_broken_records_are_clear_errors_and_change_nothing():
    m = memory()
    with pytest.raises(KeyError, match="no memory for camera 'other'"):
        m.observe("other", [track(1, 1.0, 2.0)])
    with pytest.raises(ValueError, match="first <= last"):
        m.observe("cam", [track(1, 1.0, 2.0), track(2, 3.0, 1.0)])
    assert m.read().tracks == ()
    with pytest.raises(ValueError, match="version"):
        Perceived.from_dict({"version": 99})


# ----------------------------------------------------------------- the memory
def test_reads_carry_each_cameras_tables_and_a_reset_clears_them():
    m = memory(("a", "b"))
    m.observe("a", [track(1, 1.0, 3.0)], [TextSighting("OPEN", 2.0, 2.0, 0.9)])
    m.observe("b", [track(1, 2.0, 2.5, label="car")])
    r = m.read()
    assert [(t.camera, t.id, t.label) for t in r.tracks] == [("a", 1, "person"), ("b", 1, "car")]
    assert [(s.camera, s.text) for s in r.texts] == [("a", "OPEN")]
    assert [t.camera for t in m.read(["b"]).tracks] == ["b"]
    assert m.read(window=(2.6, 3.0)).tracks == (replace(r.tracks[0]),)
    m.reset("a")
    assert [t.camera for t in m.read().tracks] == ["b"] and m.read().texts == ()
    m.reset()
    m.update("b", torch.rand(2, 2, 3), 9.0)
    assert m.read().tracks == ()


def test_a_snapshot_keeps_tracks_and_texts_and_one_without_them_still_loads(tmp_path):
    m = memory(("a", "b"))
    m.observe("a", [track(3, 1.0, 3.0, colours=(("black", 0.7), ("white", 0.2)), entered=True)],
              [TextSighting("LUANDA", 2.0, 3.0, 0.97, (0.6, 0.3, 0.7, 0.35))])
    path = tmp_path / "memory.safetensors"
    m.save(path)
    back = MultiCameraMemory(m.config, 3, (2, 2))
    back.load(path)
    assert back.read().tracks == m.read().tracks and back.read().texts == m.read().texts
    tensors, meta = read_snapshot(path)
    part, part_meta = _only(tensors, meta, ["a"])              # an archive of one camera keeps its tables
    one = MultiCameraMemory(m.config, 3, (2, 2))
    one.load_state_dict(part, part_meta)
    assert one.read().tracks == m.read(["a"]).tracks
    for cam in meta["cameras"]:                                  # as written before the tables existed
        cam.pop("perceived", None)
    old = tmp_path / "old.safetensors"
    write_snapshot(old, tensors, meta)
    back.load(old)
    assert back.read().tracks == () and back.frames_seen == m.frames_seen


# ----------------------------------------------------------- through the engine
class SeeingEncoder(Unobserved):
    """A toy encoder that 'follows' one thing per camera: each frame observes its track, grown to it."""

    id, dim, feature_grid = "toy:seeing", 3, (2, 2)
    device, dtype = torch.device("cpu"), torch.float32
    annotation_names = ()

    def __init__(self):
        self.first = {}

    def encode(self, frames):
        return torch.as_tensor(np.asarray(frames), dtype=torch.float32)[:, :2, :2] / 255.0

    def annotate(self, frames, features):
        return None

    def observe(self, cameras, stamps, frames):
        out = []
        for c, t in zip(cameras, stamps, strict=True):
            first = self.first.setdefault(c, t)
            out.append(Observation((Track(7, "person", first, t, 1, 0.8),),
                                   (TextSighting("EXIT", t, t, 0.9),) if t >= 3 else ()))
        return out


class Mute:
    def abstract_projections(self):
        return None, None


def observed(encoder):
    """Feed four frames through an engine on `encoder`, flush it, and read back its tracks and texts."""
    engine = engine_with(Backend("seeing", encoder, Mute(), MemoryConfig(temporal_slots=4)))
    try:
        feed(engine, "cam", [1.0, 2.0, 3.0, 4.0])
        assert engine.flush()
        r = engine.read()
        return ([(t.camera, t.id, t.first, t.last) for t in r.tracks],
                [(s.text, s.first, s.last, s.camera) for s in r.texts])
    finally:
        engine.stop()


def test_the_encoder_worker_hands_each_frames_observation_to_the_memory():
    assert observed(SeeingEncoder()) == ([("cam", 7, 1.0, 4.0)], [("EXIT", 3.0, 4.0, "cam")])


# ----------------------------------------------------- lite's observer (real ByteTrack)
@pytest.mark.slow          # imports supervision and trackers (seconds)
def test_a_detector_thinned_by_load_shedding_does_not_break_a_track():
    """At 1 Hz with the detector on every 4th frame (shedding level 4) a person walking slowly is one
    identity: frames the detector did not look at are no evidence that the person left, and the
    tracker's lost budget covers the 4 s between the frames it did look at."""
    pytest.importorskip("trackers")
    from vstream_ros.backends.lite.observing import Observer

    obs = Observer(ocr=False)
    obs.detector_every = 4
    frame = np.full((48, 64, 3), 90, np.uint8)
    seen = []
    for k in range(17):
        x = 0.2 + 0.01 * k
        dets = [SimpleNamespace(label="person", score=0.8, box=(x, 0.2, x + 0.2, 0.9))] if k % 4 == 0 else None
        (o,) = obs.observe(["cam"], [float(k)], frame[None], [dets])
        seen += [(t.id, t.first, t.last, t.frames) for t in o.tracks]
    ids = {s[0] for s in seen}
    assert len(ids) == 1, seen
    assert seen[-1][1:] == (0.0, 16.0, 5), seen


@pytest.mark.slow
def test_frames_without_boxes_do_age_tracks_and_finished_tracks_are_reported_once():
    pytest.importorskip("trackers")
    from vstream_ros.backends.lite.observing import Observer

    obs = Observer(ocr=False)
    frame = np.full((48, 64, 3), 90, np.uint8)
    box = SimpleNamespace(label="person", score=0.8, box=(0.0, 0.2, 0.3, 0.9))
    out = []
    for k in range(10):
        (o,) = obs.observe(["cam"], [float(k)], frame[None], [[box] if k < 3 else []])
        out.append(o.tracks)
    finished = [t for ts in out for t in ts if t.last == 2.0 and t.frames == 3 and t.exited]
    assert len(finished) == 1 and finished[0].entered, out      # at the left edge: came in and went out
    assert out[-1] == ()


class GatedReader:
    """A SceneText stand-in whose every read waits for the test to open the gate (so "a read is under way"
    is a state the test holds, not a race)."""

    reads: list = []
    gate = None

    def read(self, frame):
        GatedReader.gate.wait(30)
        GatedReader.gate.clear()
        GatedReader.reads.append(int(frame[0, 0, 0]))
        if frame[0, 0, 0] == 1:
            raise OcrUnavailable("no rapidocr here")
        return [SimpleNamespace(text="EXIT", score=0.9, box=(0.1, 0.1, 0.3, 0.2))]


def gated_observer():
    import threading

    from vstream_ros.backends.lite.observing import Observer
    from vstream_ros.perception.ocr import BackgroundReader

    GatedReader.reads, GatedReader.gate = [], threading.Event()
    return Observer(tracking=False, reader=BackgroundReader(make=GatedReader))


def finish_read(obs):
    """Let the read under way finish, and wait for its thread to end."""
    GatedReader.gate.set()
    obs._reader.join(30)
    assert not obs._reader.busy()


def test_cameras_take_turns_reading_text_off_the_encoders_thread():
    """Each camera's first frame is due for a read; while one is read (on the reader's own thread) no other
    is started, and `observe` does not wait for it: the words come later, from `late`, stamped with the
    frame they were read in."""
    obs = gated_observer()
    cams, read = ["a", "b", "c"], []
    frames = np.full((3, 48, 64, 3), 90, np.uint8)
    for t in (100.0, 100.5, 101.0, 101.5):
        seen = obs.observe(cams, [t] * 3, frames, [None] * 3)
        assert all(o.texts == () for o in seen)          # nothing read on the caller's thread
        assert obs.late() == [] and (obs.pending() or t == 101.5)   # the read is still under way
        finish_read(obs)
        read += [(cam, [(s.text, s.first, s.last) for s in o.texts]) for cam, o in obs.late()]
    assert read == [("a", [("EXIT", 100.0, 100.0)]), ("b", [("EXIT", 100.5, 100.5)]),
                    ("c", [("EXIT", 101.0, 101.0)])]
    assert len(GatedReader.reads) == 3 and not obs.pending()


def test_a_read_of_a_camera_reset_since_is_dropped_and_a_missing_package_turns_text_off(caplog):
    obs = gated_observer()
    frame = np.full((1, 48, 64, 3), 90, np.uint8)
    obs.observe(["a"], [100.0], frame, [None])
    obs.observe(["a"], [50.0], frame, [None])        # time went back: a new stream while its read was under way
    finish_read(obs)
    assert obs.late() == [] and len(GatedReader.reads) == 1
    obs.observe(["a"], [70.0], np.ones_like(frame), [None])    # frame value 1: the reader's package is missing
    finish_read(obs)
    assert obs.late() == [] and not obs.ocr and "no text in the scene" in caplog.text


class LateEncoder(SeeingEncoder):
    """Reads 'EXIT' in frames from 3 s on, and hands the words over a turn of the worker later."""

    def __init__(self):
        super().__init__()
        self.queued, self.calls = [], 0

    def observe(self, cameras, stamps, frames):
        self.queued += [(c, t) for c, t in zip(cameras, stamps, strict=True) if t >= 3]
        return [Observation((Track(7, "person", self.first.setdefault(c, t), t, 1, 0.8),))
                for c, t in zip(cameras, stamps, strict=True)]

    def observed_late(self):
        self.calls += 1
        if self.calls % 3:               # still reading
            return []
        done, self.queued = self.queued, []
        return [(c, Observation(texts=(TextSighting("EXIT", t, t, 0.9),))) for c, t in done]

    def observing(self):
        return bool(self.queued)


def test_the_encoder_worker_writes_late_observations_and_flush_waits_for_them():
    assert observed(LateEncoder()) == ([("cam", 7, 1.0, 4.0)], [("EXIT", 3.0, 4.0, "cam")])


class BusyEncoder(LateEncoder):
    """As lite's Observer: a frame due for a read while one is under way is not read."""

    def observe(self, cameras, stamps, frames):
        for c, t in zip(cameras, stamps, strict=True):
            if t >= 3 and not self.queued:
                self.queued.append((c, t))
        return [Observation((Track(7, "person", self.first.setdefault(c, t), t, 1, 0.8),))
                for c, t in zip(cameras, stamps, strict=True)]


def test_offline_each_frame_is_encoded_after_the_last_ones_read_finished():
    # vstream-eval's setting: what is read does not hang on how fast frames come (the read of 3 s finishes
    # before 4 s is encoded, and 4 s is read too); as fast as they come, 4 s met the read of 3 s under way
    from vstream_ros.tools.evaluate import offline_config

    assert offline_config(1.0).observe_in_step
    engine = engine_with(Backend("busy", BusyEncoder(), Mute(), MemoryConfig(temporal_slots=4)), observe_in_step=True)
    try:
        feed(engine, "cam", [1.0, 2.0, 3.0, 4.0])
        assert engine.flush()
        assert [(s.text, s.first, s.last) for s in engine.read().texts] == [("EXIT", 3.0, 4.0)]
    finally:
        engine.stop()


class ReadingEncoder(SeeingEncoder):
    """Reads text in every frame through lite's BackgroundReader, with a reader held at a gate."""

    def __init__(self):
        super().__init__()
        from vstream_ros.perception.ocr import BackgroundReader

        self.reader = BackgroundReader(make=GatedReader)

    def observe(self, cameras, stamps, frames):
        for c, t, f in zip(cameras, stamps, frames, strict=True):
            self.reader.submit(c, t, f)
        return [NOTHING_OBSERVED] * len(frames)

    def observed_late(self):
        return [(r.key, Observation(texts=tuple(TextSighting(w.text, r.stamp, r.stamp, w.score) for w in r.words)))
                for r in self.reader.take()]

    def observing(self):
        return self.reader.pending()


def test_stopping_the_engine_waits_for_the_read_under_way_and_keeps_its_words():
    """A read still under way when the engine stops: stop waits for it (the gate opens while stop waits)
    and writes its words, and no reading thread is left behind."""
    import threading

    GatedReader.reads, GatedReader.gate = [], threading.Event()
    enc = ReadingEncoder()
    engine = engine_with(Backend("reading", enc, Mute(), MemoryConfig(temporal_slots=4)))
    feed(engine, "cam", [1.0])
    assert engine.ingest.wait_idle(30) and enc.reader.busy()        # encoded; its read waits at the gate
    threading.Timer(0.2, GatedReader.gate.set).start()
    engine.stop()
    assert not [t for t in threading.enumerate() if t.name == "vstream-ocr" and t.is_alive()]
    assert [(s.text, s.first) for s in engine.read().texts] == [("EXIT", 1.0)]


# ------------------------------------------------ text in view now: the newest frame read for a question
def test_the_newest_frame_is_read_on_demand_once_and_only_when_it_changed():
    """read_newest reads the camera's newest frame when no read saw it (the schedule read the first frame and
    waits 10 s for the next); the same frame, or one unchanged since, is not read again; while a read is under
    way it says so (False) and starts nothing."""
    obs = gated_observer()
    frames = {v: np.full((1, 48, 64, 3), v, np.uint8) for v in (90, 120, 121)}
    assert obs.read_newest("a")                                   # no frame yet: nothing to read
    obs.observe(["a"], [100.0], frames[90], [None])               # the schedule's first read
    finish_read(obs)
    obs.observe(["a"], [101.0], frames[120], [None])              # changed, but not due for 10 s
    assert not obs._reader.busy()
    assert obs.read_newest("a") and obs._reader.busy()            # read now
    obs.observe(["b"], [101.0], frames[90], [None])               # b's first frame meets a's read under way
    assert not obs.read_newest("b")                               # ... and waits its turn
    finish_read(obs)
    assert GatedReader.reads == [90, 120]
    assert [(s.text, s.first) for _, o in obs.late() for s in o.texts] == [("EXIT", 100.0), ("EXIT", 101.0)]
    assert obs.read_newest("a") and not obs._reader.busy()        # that frame was read
    obs.observe(["a"], [102.0], frames[121], [None])              # a new frame, the same picture
    assert obs.read_newest("a") and not obs._reader.busy()
    assert obs.read_newest("b") and obs._reader.busy()            # b's turn now
    finish_read(obs)
    assert GatedReader.reads == [90, 120, 90]


class ValueReader:
    """Reads the frame's grey level as a word ("W40"), at once; `reads` lists the levels it read."""

    reads: list = []

    def read(self, frame):
        ValueReader.reads.append(int(frame[0, 0, 0]))
        return [SimpleNamespace(text=f"W{int(frame[0, 0, 0])}", score=0.9, box=(0.1, 0.1, 0.3, 0.2))]


class ObservingEncoder(SeeingEncoder):
    """Lite's Observer (text only) on a toy encoder: the schedule reads the first frame, then every 10 s."""

    def __init__(self):
        super().__init__()
        from vstream_ros.backends.lite.observing import Observer
        from vstream_ros.perception.ocr import BackgroundReader

        self.observer = Observer(tracking=False, reader=BackgroundReader(make=ValueReader))

    def observe(self, cameras, stamps, frames):
        return self.observer.observe(cameras, stamps, np.asarray(frames), [None] * len(frames))

    def observed_late(self):
        return self.observer.late()

    def observing(self):
        return self.observer.pending()

    def read_newest(self, camera):
        return self.observer.read_newest(camera)


class Reader(Mute):
    """Answers with the words the memory holds, as read."""

    def answer(self, memory, question, max_new_tokens, cancel=None):
        from vstream_ros.backends.contract import Answer

        return Answer(iter([" ".join(f"{s.text}@{s.first:g}" for s in memory.texts)]), [])


@pytest.mark.parametrize("wait_s", [3.0, 0.0])
def test_a_question_about_the_text_in_view_reads_the_newest_frame_first(wait_s):
    engine = engine_with(Backend("reading", ObservingEncoder(), Reader(), MemoryConfig(temporal_slots=4)),
                         observe_in_step=True, text_read_wait_s=wait_s)
    try:
        for t, v in ((1.0, 10), (2.0, 20), (3.0, 30), (4.0, 40)):
            feed(engine, "cam", [t], value=v)
        assert engine.flush()
        ValueReader.reads = []
        start = engine.ask("What did the sign say at the start?").wait(30)
        assert ValueReader.reads == []                        # not about now: nothing read for it
        now = engine.ask("What does the sign say?").wait(30)
        assert ValueReader.reads == ([40] if wait_s else [])
        feed(engine, "cam", [5.0], value=50)
        assert engine.flush()
        last = engine.ask("When did you last see the word W50?").wait(30)     # when a named word was read
        assert ValueReader.reads == ([40, 50] if wait_s else [])
    finally:
        engine.stop()
    assert now.success and start.success and last.success, (now.error, start.error, last.error)
    if wait_s:
        assert now.answer == "W10@1 W40@4", now.answer        # the newest frame, read for the question
    else:
        assert now.answer == "W10@1", now.answer              # off: the schedule's read alone
    assert start.answer == "W10@1", start.answer
