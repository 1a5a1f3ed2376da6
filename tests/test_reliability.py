"""What must not kill, corrupt or starve the node, below ROS: frame decoding, snapshot integrity, the
stamp policy, archives of cleared memory, worker failures, cancels and ingest-first answering."""

import json
import logging
import os
import random
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch
from enginekit import engine_with, feed, frame
from safetensors.torch import save
from sensor_msgs.msg import CompressedImage, Image

from vstream_ros.engine import EngineConfig, Level, StreamEngine
from vstream_ros.engine.ingest import SAMPLED, rejected
from vstream_ros.engine.jobs import MAX_ERROR_CHARS
from vstream_ros.engine.worker import Worker
from vstream_ros.frames import FrameRejected, compressed_size
from vstream_ros.memory import MemoryConfig, MultiCameraMemory, SnapshotError, STARMemory
from vstream_ros.memory.snapshot import CHECKSUM_KEY, read_snapshot, remove_stale_temp, write_snapshot
from vstream_ros.ros.image_codec import compressed_to_rgb, image_to_rgb
from vstream_ros.tools.forged import jpeg_claiming, png_claiming

YEAR = 365 * 86400.0


# ------------------------------------------------------------------ decoding
def yuv_image(encoding, w, h=4):
    return Image(height=h, width=w, encoding=encoding, step=2 * w, data=bytes(np.full(2 * w * h, 128, np.uint8)))


def test_the_four_frames_that_killed_the_node_are_decoded_or_refused():
    # yuv422 / yuyv with an odd width: the unpaired last column is dropped
    for enc in ("yuv422", "yuyv", "uyvy", "yuv422_yuy2"):
        rgb = image_to_rgb(yuv_image(enc, 5))
        assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    # headers that claim a huge image: refused from the header, before any decoding
    for data in (png_claiming(100000, 100000), jpeg_claiming(65000, 65000)):
        with pytest.raises(FrameRejected) as e:
            compressed_to_rgb(CompressedImage(format="png" if data[:4] == b"\x89PNG" else "jpeg", data=data))
        assert e.value.reason == "too_large"


@pytest.mark.slow   # several seconds: the full tier only
def test_max_image_pixels_applies_to_compressed_frames_from_their_header():
    # a small PNG (about 200 KB) that decodes to 8192 x 8192: refused without being decoded
    big = cv2.imencode(".png", np.zeros((8192, 8192, 3), np.uint8))[1].tobytes()
    assert len(big) < 400_000
    with pytest.raises(FrameRejected) as e:
        compressed_to_rgb(CompressedImage(format="png", data=big), max_pixels=4096 * 4096)
    assert e.value.reason == "too_large" and "8192x8192" in str(e.value)
    small = cv2.imencode(".jpg", frame(90, 48, 64))[1].tobytes()
    with pytest.raises(FrameRejected, match="too_large"):
        compressed_to_rgb(CompressedImage(format="jpeg", data=small), max_pixels=1000)
    assert compressed_to_rgb(CompressedImage(format="jpeg", data=small), max_pixels=4000).shape == (48, 64, 3)


@pytest.mark.parametrize("ext,params", [(".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), (".png", [])])
def test_compressed_sizes_are_read_from_headers(ext, params):
    data = cv2.imencode(ext, frame(90, 37, 53), params)[1].tobytes()
    assert compressed_size(data)[1:] == (53, 37)
    for cut in (data[:3], data[:20] if ext == ".png" else data[:8], b"GIF89a" + data[6:]):
        with pytest.raises(FrameRejected) as e:
            compressed_size(cut)
        assert e.value.reason == "corrupt_compressed"


def test_every_decoder_error_is_a_counted_refusal(backend):
    e = engine_with(backend)
    try:
        def opencv_fails():
            return cv2.cvtColor(np.zeros((4, 5, 2), np.uint8), cv2.COLOR_YUV2RGB_UYVY)   # raises cv2.error

        def bug():
            raise KeyError("a decoder bug")
        assert e.offer("cam", 1.0, opencv_fails) == rejected("decode_failed")
        assert e.offer("cam", 2.0, bug) == rejected("decode_failed")
        assert e.offer("cam", 3.0, lambda: compressed_to_rgb(CompressedImage(data=png_claiming(9, 9)))).outcome \
            == "rejected"
        assert feed(e, "cam", [4.0]) == [SAMPLED]
        assert e.flush()
        st = e.stats["cam"]
        assert st.rejected_by_reason["decode_failed"] == 2 and st.encoded == 1
        assert st.received == st.sampled + st.dropped + st.rejected
    finally:
        e.stop()


# ------------------------------------------------------------------ stamps
def test_one_frame_stamped_a_year_ahead_changes_nothing(backend):
    for policy in ("reset", "refuse"):
        e = engine_with(backend, sample_rate_hz=1.0, on_stamp_jump_back=policy)
        try:
            now = e.clock()
            feed(e, "cam", [now - 10, now - 9, now - 8])
            assert feed(e, "cam", [now + YEAR]) == [rejected("stamp_jumped_ahead")]
            assert feed(e, "cam", [now - 7, now - 6]) == [SAMPLED, SAMPLED]     # good frames still come in
            assert e.flush() and e.memory.camera_frames("cam") == 5 and e.stats["cam"].resets == 0
            # a new camera whose very first frame is a year ahead is not locked out by it either
            assert feed(e, "new", [now + YEAR, now - 1]) == [rejected("stamp_jumped_ahead"), SAMPLED]
            # frames lost between bad ones can line them up: agreeing frames never take a camera whose
            # stamps follow the clock into the future
            ahead = [now + YEAR + i for i in range(6)]
            assert feed(e, "cam", ahead) == [rejected("stamp_jumped_ahead")] * 6
            assert feed(e, "cam", [now - 5]) == [SAMPLED]
            assert e.flush() and e.stats["cam"].resets == 0 and e.memory.stamp_range("cam")[1] == now - 5
        finally:
            e.stop()


def test_jittering_stamps_never_reset_the_memory(backend):
    e = engine_with(backend, sample_rate_hz=2.0)
    rng = random.Random(0)
    try:
        t0 = e.clock() - 3600
        stamps = [t0 + i / 30 + rng.gauss(0, 0.05) for i in range(1500)]
        out = [e.offer("cam", t, frame()) for t in stamps]
        assert e.flush()
        st = e.stats["cam"]
        assert st.resets == 0
        late = sum(o == rejected("stamp_out_of_order") for o in out)
        assert late > 100 and st.rejected == late and st.encoded > 0
    finally:
        e.stop()


def test_jumps_are_taken_once_confirmed(backend):
    e = engine_with(backend, sample_rate_hz=1.0, stamp_confirm_frames=3, stamp_max_gap_s=30.0)
    try:
        t0 = e.clock() - 3600
        feed(e, "cam", [t0, t0 + 1])
        # the camera paused for ten minutes: two frames refused, then the stream goes on (no reset)
        ahead = rejected("stamp_jumped_ahead")
        assert feed(e, "cam", [t0 + 600, t0 + 601, t0 + 602]) == [ahead, ahead, SAMPLED]
        # a single frame far back between good ones is an outlier, not a new stream
        assert feed(e, "cam", [t0 + 100, t0 + 603]) == [rejected("stamp_jumped_back"), SAMPLED]
        assert e.flush() and e.memory.camera_frames("cam") == 4 and e.stats["cam"].resets == 0
        # a camera whose clock runs a year ahead of this machine's is taken once its frames agree
        f = e.clock() + YEAR
        assert feed(e, "fast", [f, f + 1, f + 2, f + 3]) == [ahead, ahead, SAMPLED, SAMPLED]
    finally:
        e.stop()


# ------------------------------------------------------------ snapshots
def small_memory(seed=0, frames=23) -> STARMemory:
    g = torch.Generator().manual_seed(seed)
    m = STARMemory(MemoryConfig(temporal_slots=5, abstract_slots=3), dim=8, grid=(4, 4), encoder_id="enc-a")
    for i in range(frames):
        m.update(torch.randn(4, 4, 8, generator=g), 100.0 + i)
    return m


def broken_state(case):
    """A state that parses, with one invariant broken the way a bug or a bad disk could."""
    tensors, meta = small_memory().state_dict()
    state = meta["state"]
    if case == "NaN tensors":
        tensors = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()}
    elif case == "spatial head out of range":
        state["spatial_head"] = 5
    elif case == "weights do not add up":
        tensors["weight"] = tensors["weight"] * 2
    elif case == "slot count":
        state["filled"] = 3
    elif case == "stamp outside the span":
        tensors["stamp_max"][0] = 1e12
    elif case == "gram matrix":
        tensors["gram"][1, 2] += 1000.0
    elif case == "abstract span":
        state["abstract_span"] = [50.0, 60.0]
    return tensors, meta


STATE_CASES = ["NaN tensors", "spatial head out of range", "weights do not add up", "slot count",
               "stamp outside the span", "gram matrix", "abstract span"]


@pytest.mark.parametrize("case", STATE_CASES)
def test_snapshots_that_parse_but_are_wrong_are_refused(tmp_path, case):
    path = write_snapshot(tmp_path / "m.safetensors", *broken_state(case))
    m = small_memory(seed=1, frames=4)
    before = m.read()
    with pytest.raises(SnapshotError, match="inconsistent"):
        m.load(path)
    assert m.frames_seen == 4 and torch.equal(m.read().tokens, before.tokens)


def test_changed_tensor_bytes_fail_the_checksum(tmp_path):
    path = tmp_path / "m.safetensors"
    small_memory().save(path)
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    rng = random.Random(1)
    for i in rng.sample(range(header, len(data)), 64):   # random bytes in the tensor data
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="checksum"):
        read_snapshot(path)


def test_snapshot_without_checksum_is_still_read_and_checked(tmp_path, backend):
    """Snapshots written before the checksum existed are restored (their state is validated)."""
    e = engine_with(backend)
    feed(e, "cam", [1.0, 2.0, 3.0])
    assert e.flush()
    e.stop()
    tensors, meta = e.memory.state_dict()
    legacy = tmp_path / "legacy.safetensors"
    legacy.write_bytes(save({k: v.contiguous() for k, v in tensors.items()}, metadata={
        "vstream_ros": json.dumps({"format": "vstream_ros.star_memory", "version": 1, **meta})}))
    assert CHECKSUM_KEY not in read_snapshot(legacy)[1]
    e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(legacy)))
    status = e2.restore()
    assert status.startswith("restored 3 frames") and "before snapshots had checksums" in status
    e2.save()
    assert CHECKSUM_KEY in read_snapshot(legacy)[1]   # the next save adds it


def test_engine_moves_a_nan_snapshot_aside_and_removes_stale_temp_files(tmp_path, backend):
    e = engine_with(backend)
    feed(e, "cam", [1.0, 2.0, 3.0])
    assert e.flush()
    e.stop()
    tensors, meta = e.memory.state_dict()
    tensors = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()}
    path = write_snapshot(tmp_path / "memory.safetensors", tensors, meta)
    # temp files of saves killed midway: one of a process that is gone, one of a live process
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".memory.safetensors.{dead}.tmp"
    stale.write_bytes(b"half a snapshot")
    live = tmp_path / f".memory.safetensors.{os.getppid()}.tmp"
    live.write_bytes(b"someone is writing this")
    e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(path)))
    status = e2.restore()
    assert status.startswith("ERROR") and "NaN" in status and "moved it to" in status
    assert e2.memory.frames_seen == 0 and list(tmp_path.glob("memory.safetensors.rejected-*"))
    assert not stale.exists() and live.exists()
    assert remove_stale_temp(path) == []


# -------------------------------------------------------------- archives
def test_reset_archives_the_memory_first_and_keeps_a_bounded_number(tmp_path, backend, caplog):
    path = tmp_path / "memory.safetensors"
    e = engine_with(backend, snapshot_path=str(path), snapshot_archives=2)
    try:
        for k in range(4):
            feed(e, "a", [10.0 * k + 1, 10.0 * k + 2])
            feed(e, "b", [10.0 * k + 1.5])
            assert e.flush()
            with caplog.at_level(logging.WARNING, logger="vstream_ros.engine.stream"):
                text = e.reset()
            assert "reset: cleared 3 frames" in text and "archived to" in text
            assert all(part in caplog.text for part in text.split("; "))   # each part of the reply is logged
            assert e.memory.frames_seen == 0
        archives = e.persistence.archives()
        assert len(archives) == 2                                    # the oldest two were removed
        m = MultiCameraMemory(e.memory.config, e.memory.dim, e.memory.grid, encoder_id=e.memory.encoder_id)
        m.load(archives[-1])                                       # an archive is a snapshot like any other
        assert m.cameras == ["a", "b"] and m.frames_seen == 3 and m.stamp_range("a") == (31.0, 32.0)
        assert read_snapshot(archives[-1])[1]["archived"]["why"] == "reset"
    finally:
        e.stop()


def test_a_new_stream_archives_only_that_camera(tmp_path, backend, caplog):
    path = tmp_path / "memory.safetensors"
    e = engine_with(backend, snapshot_path=str(path), sample_rate_hz=1.0, stamp_confirm_frames=2)
    try:
        feed(e, "front", [100.0, 101.0, 102.0])
        feed(e, "rear", [100.5])
        assert e.flush()
        with caplog.at_level(logging.WARNING, logger="vstream_ros.engine.stream"):
            assert feed(e, "front", [50.0, 51.0]) == [rejected("stamp_jumped_back"), SAMPLED]   # a looped bag
            assert e.flush()
        assert "new stream: cleared 3 frames (front: 3 frames 100.000..102.000)" in caplog.text
        [archive] = e.persistence.archives()
        tensors, meta = read_snapshot(archive)
        assert [c["name"] for c in meta["cameras"]] == ["front"] and meta["frames_seen"] == 3
        assert e.memory.camera_frames("front") == 1 and e.memory.camera_frames("rear") == 1
    finally:
        e.stop()


# ------------------------------------------------------- workers and health
def engine_level(e):
    return next(h for h in e.health(1.0) if h.name == "vstream: engine")


def test_an_encoder_failing_repeatedly_turns_the_engine_diagnostic_to_error(backend):
    e = engine_with(backend, sample_rate_hz=1.0)
    try:
        feed(e, "cam", [1.0, 2.0])
        assert e.flush() and engine_level(e).level == Level.OK
        with e.memory._lock:                       # the state of issue 16: a spatial head out of range
            e.memory._memories["cam"]._spatial_head = 7
        feed(e, "cam", [3.0, 4.0, 5.0])
        assert e.flush()
        h = engine_level(e)
        assert h.level == Level.ERROR and "encoder failed 3 times in a row" in h.message
        assert "IndexError" in h.message and e.encoder.alive
        assert e.stats["cam"].rejected_by_reason["memory_update"] == 3
        e.reset()                                  # a fresh memory: the encoder works again
        feed(e, "cam", [6.0])
        assert e.flush() and engine_level(e).level == Level.OK
    finally:
        e.stop()


def test_a_failing_answer_counts_and_a_crashing_worker_restarts(backend):
    e = engine_with(backend)
    try:
        feed(e, "cam", [1.0, 2.0])
        assert e.flush()
        with e.memory._lock:                       # a broken state that only a read trips over
            e.memory._memories["cam"]._filled = 99
        for _ in range(3):
            r = e.ask("what?", max_new_tokens=2).wait(30)
            assert not r.success and "answer failed: IndexError" in r.error
        h = engine_level(e)
        assert h.level == Level.ERROR and "answer worker failed 3 times" in h.message and e.answers.alive
        e.reset()
        feed(e, "cam", [3.0])
        assert e.flush()
        assert e.ask("what?", max_new_tokens=2).wait(30).success and engine_level(e).level == Level.OK
    finally:
        e.stop()

    class Flaky(Worker):
        def __init__(self):
            super().__init__()
            self.runs, self.done = 0, threading.Event()

        def _run(self):
            self.runs += 1
            if self.runs < 3:
                raise RuntimeError(f"crash {self.runs}")
            self.done.set()
            self._stop.wait()
    w = Flaky()
    w.start()
    try:
        assert w.done.wait(10) and w.alive and w.failures_total == 2 and "crash 2" in w.last_error
    finally:
        w.stop()


# ---------------------------------------------------------------- answers
def test_requests_are_bounded(backend):
    e = engine_with(backend)
    try:
        feed(e, "cam", [1.0])
        assert e.flush()
        r = e.ask("what?", cameras=[f"camera_{i}" for i in range(20000)]).wait(1)
        assert not r.success and "20000 cameras; the limit is 64" in r.error
        r = e.ask("what?", cameras=["x" * 100000, *[f"c{i}" for i in range(60)]]).wait(1)
        assert not r.success and "no frames from camera(s)" in r.error and len(r.error) <= MAX_ERROR_CHARS
    finally:
        e.stop()


def hold_the_encoder(e, camera="cam", stamp=1000.0):
    """Stop the encoder with a sampled frame waiting in its slot: answers must now wait for it."""
    e.encoder.stop()
    assert e.offer(camera, stamp, frame(200)) == SAMPLED and e.ingest.pending()


def until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_answers_wait_while_the_encoder_has_due_frames(backend):
    """With a frame waiting for the encoder, an answer takes no step: here it runs out of time."""
    e = engine_with(backend, sample_rate_hz=1.0, answer_timeout_s=1.0)
    try:
        feed(e, "cam", [1.0])
        assert e.flush()
        hold_the_encoder(e, stamp=2.0)
        r = e.ask("what?", max_new_tokens=3).wait(30)
        assert not r.success and r.error.startswith("timed out") and r.tokens == 0
        assert r.stats["yielded_s"] > 0
        e.encoder.start()                         # the frame is encoded, then answers run again
        assert e.flush() and e.stats["cam"].encoded == 2
        assert e.ask("what?", max_new_tokens=3).wait(30).success
    finally:
        e.stop()


def test_a_cancel_frees_a_queued_question_at_once_and_stops_a_running_one(backend):
    e = engine_with(backend, answer_queue_size=2, sample_rate_hz=1.0)
    try:
        feed(e, "cam", [1.0])
        assert e.flush()
        hold_the_encoder(e, stamp=2.0)            # the running answer waits, the second stays queued
        running, queued = e.ask("tell me everything"), e.ask("and then?")
        until(lambda: e.queue_length == 1 and running._started)
        queued.cancel.set()
        assert queued.done.is_set() and queued.result.error == "cancelled" and queued.result.partial
        assert e.queue_length == 0                # its place is free again
        running.cancel.set()
        r = running.wait(5)
        assert r.error == "cancelled" and r.partial and not r.success and r.tokens == 0
    finally:
        e.stop()


def test_a_cancel_inside_the_prompts_forward_pass_stops_it_before_the_next_layer(backend):
    e = engine_with(backend)
    llm = backend.answerer.model.llm
    layers = []
    try:
        feed(e, "cam", [1.0])
        assert e.flush()
        job = {}

        def first_layer(module, args, out):       # the cancel arrives while layer 0 runs
            layers.append(0)
            job["job"].cancel.set()
        hooks = [llm.model.layers[0].register_forward_hook(first_layer),
                 llm.model.layers[1].register_forward_pre_hook(lambda *a: layers.append(1))]
        try:
            job["job"] = e.ask("what was there?", max_new_tokens=50)
            r = job["job"].wait(30)
        finally:
            for h in hooks:
                h.remove()
        assert r.error == "cancelled" and r.tokens == 0 and layers == [0]
    finally:
        e.stop()
