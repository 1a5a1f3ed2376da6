"""The node as a roboticist runs it: `ros2 launch` and the `ros2` command-line tools (real upstream tools,
vendored outside the project; skipped when absent). Commands here are the ones the README shows."""

from __future__ import annotations

import re

import pytest
import yaml

from vstream_ros.memory.snapshot import read_snapshot

from ros2tools import Ros2, field, requires_ros2cli
from rosproc import PROCS, Proc, fresh_domain, params_file

pytestmark = [requires_ros2cli, pytest.mark.slow]   # the ros2 CLI in processes: not in the fast tier
T0 = 1_700_000_000          # stamp of the test camera's first frame (seconds)


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


def dump(ros2: Ros2, node: str) -> dict:
    """`ros2 param dump NODE`: the node's parameters as it holds them."""
    return yaml.safe_load(ros2.run("param", "dump", node))[node]["ros__parameters"]


# ------------------------------------------------------------------ launch
def test_launch_takes_the_params_file_and_overrides_only_what_is_given(ros2, tmp_path):
    own = params_file(tmp_path, backend="tiny", camera_topics=["/file_cam/image_raw"], sample_rate_hz=3.0,
                      qos_reliability="reliable", snapshot_path=str(tmp_path / "file.safetensors"),
                      autosave_period_s=7.0, use_sim_time=False)
    # 1. the params file alone: every value is the file's, none a launch default
    proc = ros2.launch(f"params_file:={own}", name="file_only")
    ros2.wait_state("/vstream", "active", proc)
    p = dump(ros2, "/vstream")
    assert (p["backend"], p["camera_topics"], p["sample_rate_hz"], p["qos_reliability"], p["snapshot_path"],
            p["autosave_period_s"]) == ("tiny", ["/file_cam/image_raw"], 3.0, "reliable",
                                        str(tmp_path / "file.safetensors"), 7.0)
    assert "Subscription count: 1" in ros2.run("topic", "info", "/file_cam/image_raw")
    assert proc.interrupt() == 0, proc.output()

    # 2. the same file with arguments: those given win, the rest stays the file's; namespace, name,
    #    log level and sim time reach the node; a single topic needs no brackets
    proc = ros2.launch(f"params_file:={own}", "camera_topics:=/cam9/image_raw", "sample_rate_hz:=2",
                       "qos_reliability:=best_effort", f"snapshot_path:={tmp_path / 'arg.safetensors'}",
                       "namespace:=robot1", "node_name:=memory", "log_level:=debug", "use_sim_time:=true",
                       name="overrides")
    ros2.wait_state("/robot1/memory", "active", proc)
    p = dump(ros2, "/robot1/memory")
    assert (p["camera_topics"], p["sample_rate_hz"], p["qos_reliability"], p["snapshot_path"], p["use_sim_time"]) \
        == (["/cam9/image_raw"], 2.0, "best_effort", str(tmp_path / "arg.safetensors"), True)
    assert (p["backend"], p["autosave_period_s"]) == ("tiny", 7.0)          # from the file
    assert "[DEBUG]" in proc.output()
    assert "/robot1/memory/query" in ros2.run("service", "list")
    assert proc.interrupt() == 0, proc.output()

    # 3. no params file: the package's config/vstream.yaml, with a list and an empty string given
    proc = ros2.launch("backend:=tiny", "camera_topics:=['/a/image_raw', '/b/image_raw/compressed']",
                       "snapshot_path:=''", "autostart:=false", name="defaults")
    ros2.wait_state("/vstream", "unconfigured", proc)
    p = dump(ros2, "/vstream")
    assert (p["backend"], p["camera_topics"], p["snapshot_path"], p["sample_rate_hz"], p["qos_reliability"]) \
        == ("tiny", ["/a/image_raw", "/b/image_raw/compressed"], "", 1.0, "best_effort")
    assert proc.interrupt() == 0, proc.output()


def test_launch_refuses_a_bad_argument_before_starting_anything(ros2_no_daemon):
    proc = ros2_no_daemon.launch("backend:=tiny", "sample_rate_hz:=fast", name="bad")
    assert proc.wait() != 0
    assert "sample_rate_hz: expected a number, got 'fast'" in proc.output()
    assert "process started" not in proc.output()


# --------------------------------------------------------------- lifecycle
def query(ros2: Ros2, node: str = "/vstream", request: str = "{question: 'What did you see?'}") -> str:
    return ros2.run("service", "call", f"{node}/query", "vstream_ros/srv/Query", request)


def test_lifecycle_transitions_with_ros2_lifecycle(ros2, tmp_path):
    snapshot = tmp_path / "memory.safetensors"
    proc = ros2.launch("backend:=tiny", "autostart:=false", "camera_topics:=/cam0/image_raw",
                       f"snapshot_path:={snapshot}", name="lifecycle")
    ros2.wait_state("/vstream", "unconfigured", proc)
    out = query(ros2)
    assert field(out, "success") == "False" and "unconfigured" in field(out, "error")

    def step(transition: str, state: str) -> None:
        assert "Transitioning successful" in ros2.run("lifecycle", "set", "/vstream", transition)
        assert ros2.lifecycle_state("/vstream") == state

    def subscribers() -> int:
        m = re.search(r"Subscription count: (\d+)", ros2.run("topic", "info", "/cam0/image_raw", ok=False))
        return int(m.group(1)) if m else 0      # "Unknown topic": nobody subscribes or publishes

    step("configure", "inactive")
    out = query(ros2)
    assert field(out, "success") == "False" and "inactive" in field(out, "error")
    out = ros2.run("service", "call", "/vstream/save_memory", "std_srvs/srv/Trigger")
    assert field(out, "success") == "True" and snapshot.exists()                  # maintenance works
    step("activate", "active")
    ros2.wait_for(lambda: subscribers() == 1, "the camera subscription", proc)
    out = query(ros2)       # answered, not refused: the memory is merely empty
    assert field(out, "success") == "False" and "memory is empty" in field(out, "error")
    step("deactivate", "inactive")
    ros2.wait_for(lambda: subscribers() == 0, "the subscription released", proc)
    step("cleanup", "unconfigured")
    step("configure", "inactive")
    step("activate", "active")
    snapshot.unlink()
    step("shutdown", "finalized")
    ros2.wait_for(lambda: subscribers() == 0, "the subscription released", proc)
    assert snapshot.exists(), proc.output()                                       # saved on the way
    out = query(ros2)
    assert field(out, "success") == "False" and "finalized" in field(out, "error")
    ros2.wait_for(lambda: "/vstream/memory_state" not in ros2.run("topic", "list"), "publishers released", proc)
    log = proc.output()
    for line in ("configure: from unconfigured", "configure done, now inactive", "activate done, now active",
                 "deactivate done, now inactive", "released 1 camera subscription", "cleanup done, now unconfigured",
                 "shutdown: from active", "shutdown done, now finalized", "memory saved to"):
        assert line in log, line
    assert proc.interrupt() == 0, log


# ------------------------------------------------- parameters, questions, memory
def evidence(out: str) -> list[tuple[str, float, float]]:
    """(camera, start, end) of each Evidence in a printed Query response."""
    stamp = r"sec=(-?\d+), nanosec=(\d+)\)"
    return [(m.group(5), int(m.group(1)) + int(m.group(2)) * 1e-9, int(m.group(3)) + int(m.group(4)) * 1e-9)
            for m in re.finditer(rf"Evidence\(stamp=\S+\({stamp}, stamp_end=\S+\({stamp}, camera='([^']*)'", out)]


def test_params_questions_action_save_reset_and_ctrl_c_with_the_ros2_cli(ros2, tmp_path):
    snapshot = tmp_path / "memory.safetensors"
    own = params_file(tmp_path, autosave_period_s=0.0)
    proc = ros2.launch(f"params_file:={own}", "backend:=tiny", "sample_rate_hz:=2.0",
                       "camera_topics:=['/cam0/image_raw', '/cam1/image_raw/compressed']",
                       f"snapshot_path:={snapshot}", name="node")
    ros2.wait_state("/vstream", "active", proc)
    camera = Proc([str(PROCS / "camera_publisher.py"), "4", "10", str(T0)], tmp_path / "camera.log",
                  int(ros2.env["ROS_DOMAIN_ID"]))
    assert camera.popen.wait(60) == 0, camera.output()
    frames = lambda: int(field(query(ros2, request="{question: 'Anything?', max_new_tokens: 1}"),  # noqa: E731
                               "frames_in_memory"))
    ros2.wait_for(lambda: frames() >= 8, "frames in memory", proc)

    # parameters: described with range and read-only flag; a runtime one set; read-only and
    # out-of-range ones refused with the reason
    out = ros2.run("param", "describe", "/vstream", "sample_rate_hz", "backend")
    assert "Frames kept per camera per second" in out and "Min value: 0.01" in out and "Max value: 120.0" in out
    assert re.search(r"Parameter name: backend[\s\S]*Read only: true", out), out
    assert "Set parameter successful" in ros2.run("param", "set", "/vstream", "sample_rate_hz", "3.0")
    assert "Double value is: 3.0" in ros2.run("param", "get", "/vstream", "sample_rate_hz")
    out = ros2.run("param", "set", "/vstream", "backend", "lite", ok=False)
    assert "Setting parameter failed" in out and "read-only" in out, out
    out = ros2.run("param", "set", "/vstream", "sample_rate_hz", "500.0", ok=False)
    assert "Setting parameter failed" in out and "sample_rate_hz" in out, out
    assert "Double value is: 3.0" in ros2.run("param", "get", "/vstream", "sample_rate_hz")

    # a question with a window and a camera: the evidence is that camera's, within the window
    t0, t1 = T0 + 1, T0 + 2.5
    out = query(ros2, request=f"{{question: 'What was there?', start: {{sec: {T0 + 1}}}, "
                              f"end: {{sec: {T0 + 2}, nanosec: 500000000}}, cameras: [cam1], max_new_tokens: 4}}")
    assert field(out, "success") == "True", out
    ev = evidence(out)
    assert ev and {c for c, _, _ in ev} == {"cam1"}, out
    assert all(s <= t1 + 1e-6 and e >= t0 - 1e-6 for _, s, e in ev), ev
    # stamps out of range are refused, each with the field named
    for window, words in (("start: {sec: 1, nanosec: 2000000000}", "start.nanosec"),
                          ("end: {sec: -5}", "end.sec is negative")):
        out = query(ros2, request=f"{{question: 'When?', {window}}}")
        assert field(out, "success") == "False" and words in field(out, "error"), out

    # the action: feedback while the answer grows, then the whole answer
    out = ros2.run("action", "send_goal", "--feedback", "/vstream/ask", "vstream_ros/action/Ask",
                   "{question: 'What did you see?', max_new_tokens: 6}")
    assert "Feedback:" in out and "partial_answer:" in out, out
    assert "Goal finished with status: SUCCEEDED" in out and "success: true" in out and "partial: false" in out, out

    # save and reset
    out = ros2.run("service", "call", "/vstream/save_memory", "std_srvs/srv/Trigger")
    assert field(out, "success") == "True"
    saved = read_snapshot(snapshot)[1]["frames_seen"]
    assert saved >= 8
    out = ros2.run("service", "call", "/vstream/reset_memory", "std_srvs/srv/Trigger")
    assert field(out, "success") == "True"
    assert "memory is empty" in field(query(ros2), "error")
    assert read_snapshot(snapshot)[1]["frames_seen"] == saved       # the file keeps the saved memory

    # new frames, then Ctrl-C in the launch's terminal: the memory is saved on the way out
    camera = Proc([str(PROCS / "camera_publisher.py"), "2", "10", str(T0 + 100)], tmp_path / "camera2.log",
                  int(ros2.env["ROS_DOMAIN_ID"]))
    assert camera.popen.wait(60) == 0, camera.output()
    ros2.wait_for(lambda: frames() >= 4, "new frames in memory", proc)
    in_memory = frames()
    assert proc.interrupt() == 0, proc.output()
    assert "memory saved to" in proc.output() and "process has finished cleanly" in proc.output(), proc.output()
    assert read_snapshot(snapshot)[1]["frames_seen"] == in_memory
