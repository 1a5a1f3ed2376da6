"""Issue 25 in the engine, without ROS: silence and holes judged, windows in the answers' time frame, the
camera a question names, start-up values and unknown names said with the nearest one."""

from __future__ import annotations

import time

import pytest
from enginekit import engine_with, feed

from vstream_ros.engine import CameraInput, Level
from vstream_ros.engine.answers import named_camera
from vstream_ros.ros.params import BY_NAME, bad_value, unknown_parameters


def quiet(e):
    e.clock = lambda: None          # stamps of 1970: judge no clock offset
    return e


def camera_health(e, name, sources=None):
    return next(h for h in e.health(1.0, sources) if h.name == f"vstream: camera {name}")


@pytest.mark.slow   # a started engine answering: seconds on a loaded CPU
def test_a_watched_camera_without_frames_is_listed_and_warned_about_with_its_topic(backend):
    e = quiet(engine_with(backend, camera_timeout_s=0.01))
    try:
        e.watch(["front"])
        assert "front" in e.camera_state()                     # listed before any frame
        time.sleep(0.05)                                       # longer than the timeout, no frame sent
        src = CameraInput("/front/image_rect", "sensor_msgs/msg/Image", (), "", ("/front/image_rect/compressed",))
        h = camera_health(e, "front", {"front": src})
        assert h.level == Level.WARN
        assert "/front/image_rect has no publisher" in h.message and "/front/image_rect/compressed" in h.message
        time.sleep(0.05)
        silent = float(camera_health(e, "front", {"front": src}).values["silent_s"])
        feed(e, "front", [1.0])                                # a frame: the silence restarts from it
        e.update_config(camera_timeout_s=silent)               # (judged against the silence before it)
        h = camera_health(e, "front", {"front": src})
        assert h.level == Level.OK and float(h.values["silent_s"]) < silent, h
        e.watch([])                                            # unsubscribed: silence is no longer judged
        time.sleep(0.05)
        assert camera_health(e, "front").level == Level.OK
    finally:
        e.stop()


def test_a_publisher_of_another_type_is_named():
    from vstream_ros.engine.health import silence

    text = silence(6.0, 5.0, CameraInput("/cam", "sensor_msgs/msg/Image", ("sensor_msgs/msg/CompressedImage",)))
    assert "1 publisher(s) of sensor_msgs/msg/CompressedImage" in text and "expecting sensor_msgs/msg/Image" in text


@pytest.mark.slow   # a started engine answering: seconds on a loaded CPU
def test_gaps_in_the_stamps_are_counted_and_warned_about_with_the_fix(backend):
    e = quiet(engine_with(backend, sample_rate_hz=1.0))
    try:
        feed(e, "cam", [1.0, 2.0, 3.0, 9.0, 10.0])           # 4..8 never came: 5 due slots missed
        assert e.stats["cam"].missed == 5
        h = camera_health(e, "cam")
        assert h.level == Level.WARN and "never arrived" in h.message and "qos_reliability" in h.message
        assert h.values["missed"] == "5"
        feed(e, "cam", [10.5, 11.0, 11.9])                     # faster than the rate: nothing missed
        assert e.stats["cam"].missed == 5
    finally:
        e.stop()


@pytest.mark.slow   # a started engine answering: seconds on a loaded CPU
def test_relative_windows_and_the_empty_window_error_in_both_frames(backend):
    e = quiet(engine_with(backend, sample_rate_hz=1.0))
    try:
        feed(e, "cam", [1000.0 + i for i in range(10)])
        e.flush()
        assert e.time_origin() == 1000.0
        job = e.ask("What did you see?", (2.0, 4.0), relative=True)
        assert job.window == (1002.0, 1004.0)
        assert job.wait(60).success
        err = e.ask("What did you see?", (10.0, 20.0)).wait(10).error
        assert "the memory holds 1000.000 to 1009.000 (0.0 to 9.0 s since its first frame)" in err, err
        assert "relative: true" in err
        found = e.locate("thing", (50.0, 60.0), relative=True)
        assert not found.success and "50.0 to 60.0 s since the memory's first frame" in found.error
    finally:
        e.stop()


@pytest.mark.slow   # a started engine answering: seconds on a loaded CPU
def test_a_camera_named_in_the_question_narrows_the_read(backend):
    assert named_camera("What did camera cam1 see?", ["cam0", "cam1"]) == "cam1"
    assert named_camera("what did the front camera see", ["front", "rear"]) == "front"
    assert named_camera("What is in front of the robot?", ["front", "rear"]) == ""
    e = quiet(engine_with(backend, sample_rate_hz=1.0))
    try:
        for cam in ("cam0", "cam1"):
            feed(e, cam, [1.0 + i for i in range(4)])
        e.flush()
        job = e.ask("What did camera cam1 see?")
        result = job.wait(60)
        assert job.cameras == ["cam1"] and result.success
        assert result.evidence and {g.camera for g in result.evidence} == {"cam1"}
    finally:
        e.stop()


def test_unknown_names_and_bad_start_up_values_are_said_with_the_nearest_and_the_range():
    declared = set(BY_NAME) | {"use_sim_time"}
    assert unknown_parameters(["sample_rat_hz", "backend", "qos_overrides./x.publisher.depth"], declared) == [
        "unknown parameter 'sample_rat_hz' (did you mean sample_rate_hz?)"]
    assert bad_value(BY_NAME["sample_rate_hz"], -1.0) == (
        "sample_rate_hz = -1.0 is out of range: it must be in [0.01, 120]")
    assert "wrong type" in bad_value(BY_NAME["sample_rate_hz"], 2) and "2.0" in bad_value(BY_NAME["sample_rate_hz"], 2)


def test_time_on_camera_is_the_union_of_the_cameras_stretches():
    from vstream_ros.answering.timefmt import covered_s

    assert covered_s([(0.0, 9.0), (0.5, 9.0)]) == 9.0            # two cameras, the same 9 s: 9 s, not 18
    assert covered_s([(0.0, 2.0), (5.0, 6.0), (1.0, 3.0)]) == 4.0
    assert covered_s([]) == 0.0
