"""Issue 25: no silent failure. A camera that sends nothing, a mistyped setting, a bad value, lost frames
are said out loud; windows in the answers' own time frame; the smaller promises of the README. The node
runs as a roboticist runs it: `ros2 launch`, the `ros2` CLI, cameras in their own processes."""

from __future__ import annotations

import re

import pytest
from test_ros2cli import evidence, query

from conftest import REPO
from ros2tools import Ros2, field, requires_ros2cli
from rosproc import PROCS, Proc, fresh_domain, params_file

pytestmark = [requires_ros2cli, pytest.mark.slow]   # the ros2 CLI in processes: not in the fast tier
T0 = 1_700_000_000


@pytest.fixture
def ros2(tmp_path):
    cli = Ros2(tmp_path, fresh_domain())
    yield cli
    cli.close()


@pytest.fixture
def ros2_no_daemon(tmp_path):
    """For a test that only runs `ros2 launch` (no graph query): no daemon to start and stop."""
    cli = Ros2(tmp_path, fresh_domain(), daemon=False)
    yield cli
    cli.close()


def echo(ros2: Ros2, topic: str, condition: str, timeout: int = 60) -> str:
    """`ros2 topic echo --once --filter CONDITION TOPIC`: the first message that meets it ("" if none came)."""
    return ros2.run("topic", "echo", "--once", "--full-length", "--timeout", str(timeout), "--filter", condition, topic,
                    timeout=timeout + 30, ok=False)


def camera_status(name: str, words: str, level: int = 1) -> str:
    """A filter: camera `name`'s diagnostic status at `level` (1: WARN) whose message contains `words`."""
    return (f"any(s.name == 'vstream: camera {name}' and s.level == bytes([{level}]) and {words!r} in s.message "
            "for s in m.status)")


def camera_ok(name: str) -> str:
    return f"any(s.name == 'vstream: camera {name}' and s.level == bytes([0]) and s.message == 'ok' for s in m.status)"


def camera(ros2: Ros2, tmp_path, *args: str, name: str = "camera") -> Proc:
    return Proc([str(PROCS / "stamped_camera.py"), *args], tmp_path / f"{name}.log", int(ros2.env["ROS_DOMAIN_ID"]))


# ------------------------------------------------------------ 1. liveness
def test_a_silent_camera_is_a_warning_that_says_why_and_clears_when_frames_come(ros2, tmp_path):
    own = params_file(tmp_path, camera_timeout_s=1.0, memory_state_period_s=0.5, autosave_period_s=0.0)
    # cam1: the image_transport base name, while only its /compressed topic is published
    proc = ros2.launch(f"params_file:={own}", "backend:=tiny", "snapshot_path:=''", "pose_topic:=/odom",
                       "camera_topics:=['/cam0/image_raw', '/cam1/image_raw']", name="silent")
    ros2.wait_state("/vstream", "active", proc)
    # stamps: now; the node subscribes to /cam0/image_raw alone (not to /cam1/image_raw/compressed), so the
    # camera starts once that one matched instead of waiting out its 20 s for a second subscriber
    jpeg = Proc([str(PROCS / "camera_publisher.py"), "--raw-subscriber-only", "120", "5"], tmp_path / "jpeg.log",
                int(ros2.env["ROS_DOMAIN_ID"]))
    try:
        # both cameras are in ~/memory_state, cam1 without ever a frame
        out = echo(ros2, "/vstream/memory_state", "len(m.cameras) == 2")
        assert "camera: cam0" in out and "camera: cam1" in out, out
        out = echo(ros2, "/diagnostics", camera_status("cam1", "no frame for"))
        assert "/cam1/image_raw has no publisher" in out and "/cam1/image_raw/compressed" in out, out
        # cam0 gets frames: its warning clears while cam1's stays
        out = echo(ros2, "/diagnostics", camera_ok("cam0") + " and " + camera_status("cam1", "no frame"),
                   timeout=120)
        assert "vstream: camera cam0" in out, out
    finally:
        jpeg.stop()
    # deactivate counts the cameras it releases, not the pose subscription; an ask goal is refused at once
    assert "Transitioning successful" in ros2.run("lifecycle", "set", "/vstream", "deactivate")
    out = ros2.run("action", "send_goal", "/vstream/ask", "vstream_ros/action/Ask", "{question: 'What?'}", ok=False)
    assert "Goal was rejected" in out, out
    log = proc.output()
    assert "released 2 camera subscription(s) and the pose subscription" in log, log
    assert "ask: goal rejected: the node is inactive" in log, log
    assert proc.interrupt() == 0, proc.output()


# ---------------------------------------------------- 2. configuration errors
def test_a_misspelt_key_in_the_params_file_is_refused_naming_the_nearest(ros2, tmp_path):
    own = params_file(tmp_path, sample_rat_hz=2.0)
    proc = ros2.launch(f"params_file:={own}", "backend:=tiny", "snapshot_path:=''", name="typo_key")
    ros2.wait_for(lambda: "configure failed" in proc.output(), "the configure failure", proc)
    ros2.wait_state("/vstream", "unconfigured", proc)
    assert "unknown parameter 'sample_rat_hz' (did you mean sample_rate_hz?)" in proc.output(), proc.output()
    assert proc.interrupt() == 0, proc.output()


def test_an_undeclared_launch_argument_stops_the_launch(ros2_no_daemon):
    proc = ros2_no_daemon.launch("backend:=tiny", "pose_topc:=/odom", name="typo_arg")
    assert proc.wait() != 0
    assert "unknown launch argument(s): pose_topc (did you mean pose_topic?)" in proc.output(), proc.output()
    assert "process started" not in proc.output()


def test_an_out_of_range_value_leaves_the_node_unconfigured_without_a_traceback(ros2):
    proc = ros2.launch("backend:=tiny", "snapshot_path:=''", "sample_rate_hz:=-1", name="range")
    ros2.wait_for(lambda: "configure failed" in proc.output(), "the configure failure", proc)
    ros2.wait_state("/vstream", "unconfigured", proc)
    log = proc.output()
    assert "sample_rate_hz = -1.0 is out of range: it must be in [0.01, 120]" in log, log
    assert "Traceback" not in log and "InvalidParameterValueException" not in log, log
    assert proc.interrupt() == 0, proc.output()


def test_launch_arguments_list_every_backend_and_no_option_replay_lacks(ros2_no_daemon):
    from vstream_ros.backends.registry import backend_names

    out = ros2_no_daemon.run("launch", str(REPO / "launch" / "vstream.launch.py"), "-s")
    assert all(name in out for name in backend_names()), out
    assert "pose_topic" in out and "bag replay with --clock" not in out, out
    readme = (REPO / "README.md").read_text()
    assert "pose_topic:=" in readme


# ------------------------------------- 3, 4, 5, 6: windows, holes, one camera
def test_relative_windows_holes_a_named_camera_feedback_and_logged_maintenance(ros2, tmp_path):
    own = params_file(tmp_path, qos_reliability="reliable", qos_depth=100, memory_state_period_s=0.5,
                      autosave_period_s=0.0, camera_timeout_s=0.0)
    snapshot = tmp_path / "memory.safetensors"
    proc = ros2.launch(f"params_file:={own}", "backend:=tiny", f"snapshot_path:={snapshot}",
                       "camera_topics:=['/cam0/image_raw', '/cam1/image_raw']", name="node")
    ros2.wait_state("/vstream", "active", proc, timeout=300)
    # 20 s of stamps at 4 Hz, sent at half speed (the ros2 CLI calls of this test share the 2 cores with the
    # encoder, which at full speed overwrote a few due frames); 6 s..12 s never sent (lost in transport)
    cam = camera(ros2, tmp_path, str(T0), "0.25", "80", "--skip", "6:12", "--hz", "2", "/cam0/image_raw",
                 "/cam1/image_raw")
    assert cam.popen.wait(120) == 0, cam.output()

    # 4. the hole is reported, with the cause and the fix, and counted
    out = echo(ros2, "/diagnostics", camera_status("cam0", "never arrived"))
    assert "qos_reliability reliable" in out and "sample_rate_hz" in out, out
    out = echo(ros2, "/vstream/memory_state", "all(c.frames_missed >= 5 for c in m.cameras)")
    assert "frames_missed" in out, out
    frames = lambda: int(field(query(ros2, request="{question: 'Anything?'}"), "frames_in_memory"))  # noqa: E731
    ros2.wait_for(lambda: frames() >= 26, "the frames in memory", proc)

    # 3. a window in seconds since the first frame; answers say where their times count from
    out = query(ros2, request="{question: 'What was there?', start: {sec: 2}, end: {sec: 4}, relative: true}")
    assert field(out, "success") == "True", out
    ev = evidence(out)
    assert ev and all(s <= T0 + 4 + 1e-6 and e >= T0 + 2 - 1e-6 for _, s, e in ev), ev
    assert re.search(rf"time_origin=builtin_interfaces\.msg\.Time\(sec={T0}, nanosec=0\)", out), out
    out = ros2.run("service", "call", "/vstream/locate", "vstream_ros/srv/Locate",
                   "{object: 'thing', start: {sec: 14}, relative: true}")
    assert re.search(rf"time_origin=builtin_interfaces\.msg\.Time\(sec={T0}", out), out
    # an absolute window the memory holds nothing of: the error gives the memory's span in both frames
    out = query(ros2, request="{question: 'What was there?', start: {sec: 10}, end: {sec: 20}}")
    error = field(out, "error")
    assert field(out, "success") == "False", out
    assert re.search(rf"the memory holds {T0}\.000 to {T0 + 19}\.\d+ \(0\.0 to 19\.\d s since its first frame\)",
                     error), error
    assert "relative: true" in error, error

    # 5. a camera named in the question narrows the read as the request's field does
    out = query(ros2, request="{question: 'What did camera cam1 see between 2 and 5 seconds?'}")
    assert field(out, "success") == "True", out
    assert {c for c, _, _ in evidence(out)} == {"cam1"}, out

    # 6. the action's feedback counts what was produced (lite's said 0 throughout; tiny streams tokens, so
    #    this part does not tell the old code apart: tests/test_one_answer_node.py asks lite); save and reset
    #    reach the node's log (/rosout)
    out = ros2.run("action", "send_goal", "--feedback", "/vstream/ask", "vstream_ros/action/Ask",
                   "{question: 'What did you see?'}")
    tokens = [int(t) for t in re.findall(r"tokens: (\d+)", out)]
    assert tokens and tokens[-1] > 0, out
    assert field(ros2.run("service", "call", "/vstream/save_memory", "std_srvs/srv/Trigger"), "success") == "True"
    assert field(ros2.run("service", "call", "/vstream/reset_memory", "std_srvs/srv/Trigger"), "success") == "True"
    log = proc.output()
    assert re.search(r"\[INFO\] \[[\d.]+\] \[vstream\]: save_memory: saved \d+ frames", log), log
    assert re.search(r"\[INFO\] \[[\d.]+\] \[vstream\]: reset_memory: memory cleared", log), log
    assert proc.interrupt() == 0, proc.output()


def test_the_readme_shows_the_liveness_warning_and_the_relative_window():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Using the node"):]
    assert "no frame for" in section and "relative: true" in section
