"""Clocks, resets and archives as a deployed robot meets them (issue 22), below ROS: a camera whose
stamps run ahead of the machine's clock keeps streaming, a broken publisher cannot drive resets nor
cycle the archives away. Driven with fake clocks and many offers; nothing sleeps."""

import os
import time
from collections import Counter

from enginekit import engine_with, feed, frame

from vstream_ros.engine import Level, Outcome
from vstream_ros.engine.ingest import SAMPLED, rejected
from vstream_ros.frames import FrameRejected
from vstream_ros.memory import MultiCameraMemory
from vstream_ros.memory.snapshot import read_meta

BACK = rejected("stamp_jumped_back")


def broken():
    raise FrameRejected("corrupt_compressed", "not a JPEG")


def camera_health(e, camera):
    return next(h for h in e.health(1.0) if h.name == f"vstream: camera {camera}")


def test_a_camera_running_ahead_of_the_clock_is_never_shut_out(backend):
    """Stamped from the clock at start, +1 s a frame at 60 Hz: 20,000 frames, every one due and taken."""
    e = engine_with(backend, sample_rate_hz=1.0)
    t0 = 1.7e9
    clock = [t0]
    e.clock = lambda: clock[0]
    img = frame()
    try:
        outcomes = Counter()
        for i in range(20_000):
            clock[0] = t0 + i / 60
            outcomes[e.offer("cam", t0 + i, img).outcome] += 1
        assert e.flush()
        st = e.stats["cam"]
        assert outcomes[Outcome.REJECTED] == 0 and st.rejected == 0, st.rejected_by_reason
        assert st.dropped == st.overwritten           # nothing skipped by sampling: every frame was due
        assert st.encoded > 0 and e.memory.stamp_range("cam")[1] == t0 + 19_999
        # how far it runs ahead is a diagnostic with the offset, not a refusal
        h = camera_health(e, "cam")
        assert h.level == Level.WARN and "ahead of this machine's clock" in h.message
        assert float(h.values["clock_offset_s"]) > 19_000
        # a single stamp far ahead of the stream stays refused, and the stream goes on
        assert feed(e, "cam", [t0 + 20_000 + 365 * 86400.0, t0 + 20_000]) == [rejected("stamp_jumped_ahead"), SAMPLED]
    finally:
        e.stop()


def test_a_new_stream_needs_well_formed_frames_that_agree(backend):
    e = engine_with(backend, sample_rate_hz=1.0, stamp_confirm_frames=3)
    try:
        feed(e, "cam", [10.0, 11.0, 12.0, 13.0])
        assert e.flush()
        # frames that do not decode confirm no new time base
        out = [e.offer("cam", 5.0, broken), e.offer("cam", 5.5, broken), e.offer("cam", 6.0, frame())]
        assert out == [rejected("corrupt_compressed")] * 2 + [BACK]
        # a repeated stamp, or frames of two sizes, do not agree with each other
        assert feed(e, "cam", [6.0, 6.0]) == [BACK, BACK]
        mixed = [e.offer("cam", t, frame(h=h, w=w), wait=True) for t, h, w in
                 [(6.5, 48, 64), (7.0, 24, 32), (7.5, 48, 64), (8.0, 24, 32)]]
        assert mixed == [BACK] * 4
        assert e.flush() and e.stats["cam"].resets == 0 and e.memory.camera_frames("cam") == 4
        # three well-formed frames of one size, each after the last: a new stream
        assert feed(e, "cam", [8.5, 9.0]) == [BACK, SAMPLED]
        assert e.flush() and e.stats["cam"].resets == 1 and e.memory.stamp_range("cam") == (9.0, 9.0)
    finally:
        e.stop()


def test_resets_are_rate_limited_and_the_diagnostics_say_so(backend):
    e = engine_with(backend, sample_rate_hz=1.0, stamp_confirm_frames=2, stamp_reset_min_interval_s=60.0)
    mono = [1000.0]
    e.monotonic = lambda: mono[0]
    held = rejected("stamp_reset_rate_limited")
    try:
        feed(e, "cam", [100.0, 101.0, 102.0])
        assert feed(e, "cam", [50.0, 51.0]) == [BACK, SAMPLED]        # a looped bag: a new stream
        assert e.flush() and e.stats["cam"].resets == 1
        camera_health(e, "cam")
        mono[0] += 10.0                                                # ten seconds later, again
        assert feed(e, "cam", [20.0, 21.0, 22.0]) == [BACK, held, held]
        assert e.flush() and e.stats["cam"].resets == 1 and e.memory.stamp_range("cam") == (51.0, 51.0)
        h = camera_health(e, "cam")
        assert h.level == Level.WARN and "resets rate-limited" in h.message and "one reset per 60 s" in h.message
        assert h.values["reset_min_interval_s"] == "60"
        mono[0] += 60.0                                                # a minute on: the new stream is taken
        assert feed(e, "cam", [23.0]) == [SAMPLED]
        assert e.flush() and e.stats["cam"].resets == 2 and e.memory.stamp_range("cam") == (23.0, 23.0)
    finally:
        e.stop()


def test_a_long_stamp_flood_never_removes_the_first_archive(backend, tmp_path):
    """45 minutes of a publisher mixing bursts of stamps 100 s back (some frames broken) into a good
    stream: resets at most one a minute, and the archive of the history before the flood stays."""
    path = tmp_path / "memory.safetensors"
    e = engine_with(backend, snapshot_path=str(path), sample_rate_hz=1.0, stamp_confirm_frames=3,
                    snapshot_archives=5)
    mono = [0.0]
    e.monotonic = lambda: mono[0]
    t0 = e.clock() - 30 * 86400.0
    minutes = 45
    try:
        history = [t0 + 2.0 * i for i in range(150)]
        feed(e, "cam", history)
        assert e.flush()
        t = history[-1]
        for k in range(minutes * 30):            # a good frame every 2 s, a burst of bad stamps every 20 s
            t += 2.0
            mono[0] += 2.0
            e.offer("cam", t, frame(), wait=True)
            if k % 10 == 0:
                for j in range(5):
                    e.offer("cam", t - 100.0 + 0.1 * j, broken if j == 0 else frame(), wait=True)
        assert e.flush()
        st = e.stats["cam"]
        assert minutes // 2 <= st.resets <= minutes + 1, st.resets
        archives = e.persistence.archives()
        assert len(archives) == 5
        first = archives[0]
        assert read_meta(first)["archived"]["why"] == "new stream"
        m = MultiCameraMemory(e.memory.config, e.memory.dim, e.memory.grid, encoder_id=e.memory.encoder_id)
        m.load(first)
        assert m.stamp_range("cam")[0] == t0 and m.frames_seen >= 150
    finally:
        e.stop()


def test_archives_are_bounded_by_bytes_and_age_never_dropping_the_newest(backend, tmp_path):
    path = tmp_path / "memory.safetensors"
    e = engine_with(backend, snapshot_path=str(path), snapshot_archives=100)
    try:
        def archive(frames, t):
            feed(e, "a", [t + i for i in range(frames)])
            assert e.flush()
            e.reset()
            return e.persistence.archives()[-1]

        long = archive(20, 1000.0)
        size = long.stat().st_size
        shorts = [archive(2, 2000.0 + 10 * k) for k in range(3)]
        assert e.persistence.archives() == [long, *shorts]
        # room for three: the short ones go first (the oldest of equals), never the newest
        e.update_config(snapshot_archive_bytes=int(3.5 * size))
        newest = archive(2, 3000.0)
        assert e.persistence.archives() == [long, shorts[2], newest]
        # room for one: the newest stays even though it holds less history
        e.update_config(snapshot_archive_bytes=1)
        newest = archive(3, 4000.0)
        assert e.persistence.archives() == [newest]
        # age: older archives go, the newest stays however old it is
        e.update_config(snapshot_archive_bytes=0, snapshot_archive_max_age_s=3600.0)
        archive(5, 5000.0)
        old = time.time() - 7200
        for a in e.persistence.archives():
            os.utime(a, (old, old))
        newest = archive(2, 6000.0)
        assert e.persistence.archives() == [newest]
        os.utime(newest, (old, old))
        assert e.persistence.archives() == [newest]
    finally:
        e.stop()
