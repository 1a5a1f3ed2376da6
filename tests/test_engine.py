"""StreamEngine without ROS: stamp sampling, refusals, question validation, queueing, persistence."""

import threading
import time

import numpy as np
import pytest
from enginekit import engine_with, feed, frame

from vstream_ros.engine import EngineConfig, Outcome, StreamEngine
from vstream_ros.engine.ingest import SAMPLED, rejected
from vstream_ros.frames import FrameRejected
from vstream_ros.memory.snapshot import read_snapshot


def test_sampling_is_by_stamp_not_by_count(backend):
    e = engine_with(backend, sample_rate_hz=2.0)
    try:
        stamps = [1000.0 + i / 30 for i in range(90)]           # 3 s at 30 Hz
        status = feed(e, "cam", stamps)
        assert e.flush()
        st = e.stats["cam"]
        assert st.received == 90 and st.received == st.sampled + st.dropped + st.rejected
        assert st.sampled == st.encoded == 6                   # 0, 0.5, ... 2.5 s
        assert [x.outcome for x in status].count(Outcome.SAMPLED) == 6
        # the same 3 s at 10 Hz keep the same number of frames
        e.reset()
        feed(e, "cam", [2000.0 + i / 10 for i in range(30)])
        assert e.flush() and e.stats["cam"].encoded == 12
    finally:
        e.stop()


def test_live_offers_keep_the_latest_frames(backend):
    """Without wait, a camera's two newest frames wait for the encoder (ingest.SLOT_FRAMES); an older one
    not yet encoded is overwritten and counted as dropped."""
    e = StreamEngine(backend, EngineConfig(sample_rate_hz=10.0))   # not started: nothing is encoded
    statuses = [e.offer("cam", 1.0 + i, frame()) for i in range(5)]
    st = e.stats["cam"]
    assert statuses == [SAMPLED] * 5
    assert (st.sampled, st.dropped, st.overwritten) == (2, 3, 3)
    e.start()
    try:
        assert e.flush() and st.encoded == 2
        assert e.memory.stamp_range("cam") == (4.0, 5.0)   # the newest ones, in order
    finally:
        e.stop()


def test_stamp_jump_back_resets_or_is_refused(backend):
    e = engine_with(backend, sample_rate_hz=1.0, on_stamp_jump_back="reset", stamp_confirm_frames=3)
    try:
        feed(e, "cam", [10.0, 11.0, 12.0, 13.0])
        assert e.flush() and e.memory.camera_frames("cam") == 4
        # the bag looped: refused until three frames agree on the new time base, then a new stream
        back = rejected("stamp_jumped_back")
        assert feed(e, "cam", [8.5, 9.5, 10.5]) == [back, back, SAMPLED]
        assert e.flush()
        assert e.memory.camera_frames("cam") == 1 and e.stats["cam"].resets == 1
        assert e.memory.stamp_range("cam") == (10.5, 10.5)
    finally:
        e.stop()
    e = engine_with(backend, sample_rate_hz=1.0, on_stamp_jump_back="refuse")
    try:
        feed(e, "cam", [10.0, 11.0])
        assert feed(e, "cam", [5.0, 5.5, 6.0, 6.5]) == [rejected("stamp_jumped_back")] * 4   # for good
        assert feed(e, "cam", [10.5]) == [rejected("stamp_out_of_order")]    # a late frame, never a new stream
        assert e.flush() and e.memory.camera_frames("cam") == 2
        assert e.stats["cam"].rejected_by_reason == {"stamp_jumped_back": 4, "stamp_out_of_order": 1}
    finally:
        e.stop()


def test_bad_frames_are_counted_and_nothing_is_lost(backend):
    e = engine_with(backend)
    try:
        feed(e, "cam", [1.0, 2.0])
        assert e.offer("cam", 3.0, np.zeros((24, 32), np.uint8)) == rejected("bad_image")
        assert e.offer("cam", 4.0, frame(h=1, w=1)) == rejected("zero_size")
        assert e.offer("cam", 0.0, frame()) == rejected("bad_stamp")
        assert e.offer("cam", float("nan"), frame()) == rejected("bad_stamp")

        def undecodable():
            raise FrameRejected("corrupt_compressed", "not a JPEG")
        assert e.offer("cam", 5.0, undecodable) == rejected("corrupt_compressed")
        assert e.reject("cam", FrameRejected("bad_step", "x")) == rejected("bad_step")
        feed(e, "cam", [6.0])
        assert e.flush()
        st = e.stats["cam"]
        assert st.rejected == 6 and st.encoded == 3 and st.received == st.sampled + st.dropped + st.rejected
        assert e.memory.camera_frames("cam") == 3
    finally:
        e.stop()


def test_counters_add_up_while_a_frame_is_being_decoded(backend):
    e = StreamEngine(backend, EngineConfig())
    inside = {}

    def slow_decode():
        st = e.stats["cam"]      # read the counters as a reporter would, mid-decode
        inside["sum"] = (st.received, st.sampled + st.dropped + st.rejected)
        return frame()
    e.offer("cam", 1.0, slow_decode)
    assert inside["sum"][0] == inside["sum"][1]
    st = e.stats["cam"]
    assert st.received == st.sampled + st.dropped + st.rejected == 1


def test_ingest_lag_runs_from_the_offer_to_the_memory_update(backend):
    """CameraMemoryState.ingest_lag_s: from the frame's arrival (the callback offers it first thing) to the
    end of its memory update, so a slow decode (a large JPEG) counts in it."""
    e = engine_with(backend)

    def slow_decode():
        time.sleep(0.1)
        return frame()
    try:
        e.offer("cam", 1.0, slow_decode)
        assert e.flush()
        assert e.stats["cam"].ingest_lag_s >= 0.1
        timing = e.frame_log.since(0)[-1]
        assert timing.lag_s == e.stats["cam"].ingest_lag_s >= timing.encode_s + timing.update_s
    finally:
        e.stop()


def test_decoder_only_runs_for_due_frames(backend):
    e = engine_with(backend, sample_rate_hz=1.0)
    calls = []

    def decode():
        calls.append(1)
        return frame()
    try:
        for i in range(30):
            e.offer("cam", 100.0 + i / 30, decode)
        assert e.flush() and len(calls) == 1
    finally:
        e.stop()


def test_questions_refused_at_once_with_a_reason(backend):
    e = StreamEngine(backend, EngineConfig(max_question_chars=50))
    job = e.ask("what did you see?")
    assert job.done.is_set() and "not running" in job.result.error
    e.start()
    try:
        assert "empty" in e.ask("   ").wait(1).error
        assert "empty" in e.ask("what?").wait(1).error          # no frame yet
        feed(e, "front", [1.0, 2.0, 3.0])
        assert e.flush()
        cases = {
            "": "empty", " \n\t ": "empty", "x" * 51: "limit is 50",
        }
        for q, err in cases.items():
            r = e.ask(q).wait(1)
            assert not r.success and err in r.error
        assert "camera" in e.ask("what?", cameras=["rear"]).wait(1).error
        assert "nothing in memory between" in e.ask("what?", window=(50.0, 60.0)).wait(1).error
        assert "starts" in e.ask("what?", window=(5.0, 1.0)).wait(1).error
        ok = e.ask("what?", window=(1.5, 2.5), max_new_tokens=3).wait(30)
        assert ok.success, ok.error
        assert ok.tokens <= 3 and ok.evidence
        assert all(g.end >= 1.5 and g.start <= 2.5 and g.camera == "front" for g in ok.evidence)
        assert ok.frames_in_memory == 3
    finally:
        e.stop()


def test_full_queue_refuses_and_every_question_gets_an_answer(backend):
    e = engine_with(backend, answer_queue_size=2, default_max_new_tokens=40)
    try:
        feed(e, "cam", [1.0, 2.0])
        assert e.flush()
        jobs = [e.ask(f"question {i}?") for i in range(10)]
        results = [j.wait(60) for j in jobs]
        assert all(r.success or "too many questions" in r.error for r in results)
        assert any(r.success for r in results) and any(not r.success for r in results)
    finally:
        e.stop()


def test_max_new_tokens_default_and_clamp(backend):
    e = engine_with(backend, default_max_new_tokens=3, max_new_tokens_limit=5)
    try:
        feed(e, "cam", [1.0])
        assert e.flush()
        assert e.ask("a?").wait(30).tokens <= 3
        r = e.ask("a?", max_new_tokens=1000).wait(30)
        assert r.success and r.tokens <= 5
        e.update_config(max_new_tokens_limit=2)
        assert e.ask("a?", max_new_tokens=1000).wait(30).tokens <= 2
        with pytest.raises(ValueError):
            e.update_config(answer_queue_size=9)
    finally:
        e.stop()


def test_cancel_stops_generation(backend):
    e = engine_with(backend, max_new_tokens_limit=4000)
    try:
        feed(e, "cam", [1.0])
        assert e.flush()
        pieces = []
        first = threading.Event()

        def on_piece(text, n):
            pieces.append(n)
            first.set()
        job = e.ask("tell me everything", max_new_tokens=4000, on_piece=on_piece)
        assert first.wait(30)
        job.cancel.set()
        r = job.wait(30)
        assert pieces and r.tokens < 4000
        assert (r.success, r.error, r.partial) == (False, "cancelled", True) and r.answer   # the text so far
    finally:
        e.stop()


def test_snapshot_survives_restart_and_corrupt_one_is_moved_aside(backend, tmp_path):
    path = tmp_path / "mem.safetensors"
    e = engine_with(backend, snapshot_path=str(path))
    feed(e, "a", [1.0, 2.0, 3.0])
    feed(e, "b", [1.5, 2.5])
    assert e.flush()
    e.stop()
    e.save()
    tensors, meta = read_snapshot(path)
    assert meta["frames_seen"] == 5
    e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(path)))
    assert e2.restore().startswith("restored 5 frames of 2 camera(s)")
    assert e2.memory.stamp_range("a") == (1.0, 3.0)
    state = e2.camera_state()      # restored cameras are reported before any new frame arrives
    assert set(state) == {"a", "b"} and state["a"].memory.stamp_range == (1.0, 3.0)
    assert state["a"].memory.tokens["temporal"]
    path.write_bytes(b"not a snapshot at all")
    e3 = StreamEngine(backend, EngineConfig(snapshot_path=str(path)))
    status = e3.restore()
    assert status.startswith("ERROR") and "moved it to" in status
    assert not path.exists() and list(tmp_path.glob("mem.safetensors.rejected-*"))
    assert e3.memory.frames_seen == 0


def test_autosave_writes_when_the_memory_changed(backend, tmp_path):
    path = tmp_path / "auto.safetensors"
    e = engine_with(backend, snapshot_path=str(path), autosave_period_s=0.2)
    try:
        feed(e, "cam", [1.0, 2.0])
        assert e.flush()
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_snapshot(path)[1]["frames_seen"] == 2
    finally:
        e.stop()


def test_choices_and_yes_no_are_decided_not_echoed(backend):
    """The flash_vstream classes answer a multiple-choice question with exactly one option, and a yes/no
    question with Yes or No (decided over the allowed words), even at a tiny random size."""
    e = engine_with(backend)
    try:
        feed(e, "cam", [1.0, 2.0, 3.0])
        assert e.flush()
        options = ["a cup", "a dog", "a cat"]
        r = e.ask("What was on the table? (A) a cup (B) a dog (C) a cat").wait(30)
        assert r.success and r.intent == "multiple_choice"
        assert sum(o in r.answer for o in options) == 1 and r.answer[:3] in ("(A)", "(B)", "(C)")
        r = e.ask("Did you see a dog?").wait(30)
        assert r.success and r.intent == "presence" and r.answer.startswith(("Yes, I saw a dog", "No, I have not"))
    finally:
        e.stop()
