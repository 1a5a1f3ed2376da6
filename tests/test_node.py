"""The vstream node as a process, cameras and clients in other processes, real DDS on loopback."""

import math
import signal
import time

import pytest
from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.action import ActionClient
from std_srvs.srv import Trigger

from vstream_ros.action import Ask
from vstream_ros.memory.snapshot import read_snapshot
from vstream_ros.msg import MemoryState
from vstream_ros.ros.stamps import to_seconds, to_time
from vstream_ros.srv import Query

from rosproc import PROCS, Client, Proc, fresh_domain, params_node

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier

CAMERAS = ["/cam0/image_raw", "/cam1/image_raw/compressed"]


def start_node(tmp_path, domain, name="node", **overrides) -> Proc:
    """The node with config/vstream.yaml plus test overrides, through --params-file."""
    return params_node(tmp_path, domain, name, **{
        "backend": "tiny", "camera_topics": CAMERAS, "sample_rate_hz": 2.0, "memory_state_period_s": 0.2,
        "snapshot_path": str(tmp_path / "memory.safetensors"), "autosave_period_s": 0.0,
    } | overrides)


class Observer(Client):
    """The test's view of the node: latest ~/memory_state and /diagnostics, and its services."""

    def __init__(self, domain: int) -> None:
        super().__init__("observer", domain)
        self.state: MemoryState | None = None
        self.diagnostics: dict[str, dict] = {}
        self.worst_level: dict[str, int] = {}
        self.node.create_subscription(MemoryState, "/vstream/memory_state", self._on_state, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.query = self.node.create_client(Query, "/vstream/query")
        self.save = self.node.create_client(Trigger, "/vstream/save_memory")
        self.reset = self.node.create_client(Trigger, "/vstream/reset_memory")
        self.set_params = self.node.create_client(SetParameters, "/vstream/set_parameters")
        self.ask = ActionClient(self.node, Ask, "/vstream/ask")

    def _on_state(self, msg):
        self.state = msg

    def _on_diag(self, msg):
        for s in msg.status:
            level = s.level[0] if isinstance(s.level, bytes) else s.level
            self.worst_level[s.name] = max(level, self.worst_level.get(s.name, 0))
            self.diagnostics[s.name] = {"level": level, "message": s.message,
                                        **{kv.key: kv.value for kv in s.values}}

    def cams(self) -> dict:
        return {c.camera: c for c in self.state.cameras} if self.state else {}

    def wait_ready(self, proc: Proc, timeout=60.0) -> None:
        ok = self.spin_until(lambda: self.query.service_is_ready() and self.state is not None
                             or proc.popen.poll() is not None, timeout)
        assert ok and proc.popen.poll() is None, proc.output()

    def wait_settled(self, timeout=10.0) -> None:
        """Until a ~/memory_state published after this call shows every sampled frame encoded."""
        since = self.node.get_clock().now().nanoseconds * 1e-9 + 0.3
        assert self.spin_until(lambda: self.state is not None and to_seconds(self.state.header.stamp) > since and all(
            c.frames_encoded == c.frames_sampled for c in self.state.cameras), timeout), self.state

    def ask_query(self, question="What did you see?", **kw) -> Query.Response:
        return self.call(self.query, Query.Request(question=question, **kw), timeout=60)


def published_range(camera: Proc) -> tuple[float, float]:
    last = [ln for ln in camera.output().splitlines() if ln.startswith(("sent", "done"))][-1].split()
    return float(last[last.index("first") + 1]), float(last[last.index("last") + 1])


# ------------------------------------------------------------------ streaming
@pytest.fixture(scope="module")
def streaming(tmp_path_factory):
    """One node (tiny backend, 2 Hz sampling) fed by a 30 Hz camera process on two topics for 8 s."""
    tmp = tmp_path_factory.mktemp("streaming")
    domain = fresh_domain()
    node = start_node(tmp, domain, max_new_tokens_limit=4000)
    obs = Observer(domain)
    try:
        obs.wait_ready(node)
        camera = Proc([str(PROCS / "camera_publisher.py"), "8", "30"], tmp / "camera.log", domain)
        yield node, camera, obs
    finally:
        obs.close()
        if "camera" in locals():
            camera.stop()
        node.stop()


def test_questions_while_streaming_are_all_answered_or_refused(streaming):
    node, camera, obs = streaming
    assert obs.spin_until(lambda: all(c.frames_encoded >= 2 for c in obs.cams().values()) and len(obs.cams()) == 2,
                          30), node.output()
    futures = [obs.query.call_async(Query.Request(question=f"What happened? ({i})", max_new_tokens=8))
               for i in range(10)]
    assert obs.spin_until(lambda: all(f.done() for f in futures), 60)
    results = [f.result() for f in futures]
    assert all(r.success or "too many questions" in r.error for r in results), [r.error for r in results]
    assert any(r.success for r in results)


def test_counters_add_up_and_sampling_follows_stamps(streaming):
    node, camera, obs = streaming
    assert obs.spin_until(lambda: camera.popen.poll() is not None, 30)
    obs.wait_settled()
    cams = obs.cams()
    assert set(cams) == {"cam0", "cam1"}
    for c in cams.values():
        assert c.frames_received == c.frames_sampled + c.frames_dropped + c.frames_rejected
        assert c.frames_received >= 200, "the SHM profile delivers nearly all 240 frames"
        # 8 s of stamps at 2 Hz: 16 frames (+1 at the edge), whatever the 30 Hz frames' arrival
        assert 15 <= c.frames_sampled <= 17, c
        assert c.frames_encoded == c.frames_sampled and c.frames_rejected == 0
        assert c.tokens_temporal > 0 and c.bytes_host > 0 and c.bytes_device == 0   # the memory is on the CPU
        assert c.ingest_lag_s > 0
    assert obs.diagnostics["vstream: camera cam0"]["level"] == 0


def test_query_cites_evidence_from_both_cameras_within_the_published_span(streaming):
    node, camera, obs = streaming
    assert obs.spin_until(lambda: camera.popen.poll() is not None, 30)
    first, last = published_range(camera)
    res = obs.ask_query("When did the scene turn blue?", max_new_tokens=6)
    assert res.success, res.error
    assert res.latency_s > 0 and res.frames_in_memory >= 30
    assert {e.camera for e in res.evidence} == {"cam0", "cam1"}
    for e in res.evidence:
        assert first - 1e-6 <= to_seconds(e.stamp) <= to_seconds(e.stamp_end) <= last + 1e-6, e
        assert e.kind in ("abstract", "temporal", "retrieved", "spatial")
    # a window selects what lies in it, and a camera filter selects the camera
    t0, t1 = first + 2.0, first + 4.0
    res = obs.ask_query("What was there?", start=to_time(t0), end=to_time(t1), cameras=["cam1"], max_new_tokens=4)
    assert res.success, res.error
    assert {e.camera for e in res.evidence} == {"cam1"}
    assert all(to_seconds(e.stamp_end) >= t0 - 1e-6 and to_seconds(e.stamp) <= t1 + 1e-6 for e in res.evidence)
    # refusals, each immediate and explained
    for kw, err in ((dict(question="   "), "empty"), (dict(question="x" * 2001), "limit"),
                    (dict(question="?", cameras=["left"]), "camera"),
                    (dict(question="?", start=to_time(last + 100), end=to_time(last + 200)), "nothing in memory")):
        r = obs.call(obs.query, Query.Request(**kw))
        assert not r.success and err in r.error, (kw, r.error)


def test_runtime_parameters(streaming):
    node, camera, obs = streaming

    def set_param(name, value, ptype):
        v = ParameterValue(type=ptype)
        setattr(v, {ParameterType.PARAMETER_DOUBLE: "double_value", ParameterType.PARAMETER_STRING: "string_value",
                    ParameterType.PARAMETER_INTEGER: "integer_value"}[ptype], value)
        return obs.call(obs.set_params, SetParameters.Request(parameters=[ParameterMsg(name=name, value=v)]))
    assert set_param("sample_rate_hz", 5.0, ParameterType.PARAMETER_DOUBLE).results[0].successful
    assert set_param("default_max_new_tokens", 3, ParameterType.PARAMETER_INTEGER).results[0].successful
    assert not set_param("backend", "lite", ParameterType.PARAMETER_STRING).results[0].successful   # read-only
    assert not set_param("sample_rate_hz", -1.0, ParameterType.PARAMETER_DOUBLE).results[0].successful  # range
    assert not set_param("on_stamp_jump_back", "maybe", ParameterType.PARAMETER_STRING).results[0].successful


def test_ask_action_streams_feedback_and_cancels(streaming):
    node, camera, obs = streaming
    assert obs.ask.wait_for_server(timeout_sec=20)
    feedback = []
    goal = obs.ask.send_goal_async(Ask.Goal(question="Describe everything.", max_new_tokens=3000),
                                   feedback_callback=lambda fb: feedback.append(fb.feedback))
    assert obs.spin_until(goal.done, 20)
    handle = goal.result()
    assert handle.accepted
    assert obs.spin_until(lambda: len(feedback) >= 2, 30)
    cancel = handle.cancel_goal_async()
    result = handle.get_result_async()
    assert obs.spin_until(lambda: cancel.done() and result.done(), 30)
    assert result.result().status == GoalStatus.STATUS_CANCELED
    assert feedback[-1].tokens < 3000 and len(feedback[-1].partial_answer) >= len(feedback[0].partial_answer)
    cancelled = result.result().result
    # says it was cancelled, and keeps the text so far, labelled partial
    assert (cancelled.success, cancelled.error, cancelled.partial) == (False, "cancelled", True)
    assert cancelled.answer.startswith(feedback[0].partial_answer.strip()) and cancelled.evidence
    # a short goal runs to completion with its evidence
    goal = obs.ask.send_goal_async(Ask.Goal(question="What did you see?", max_new_tokens=5))
    assert obs.spin_until(goal.done, 20)
    result = goal.result().get_result_async()
    assert obs.spin_until(result.done, 30)
    assert result.result().status == GoalStatus.STATUS_SUCCEEDED and result.result().result.success
    assert not result.result().result.partial


# ------------------------------------------------------------ malformed input
def test_malformed_frames_are_refused_and_the_node_lives(tmp_path):
    domain = fresh_domain()
    node = start_node(tmp_path, domain, qos_reliability="reliable", qos_depth=50, on_stamp_jump_back="refuse")
    obs = Observer(domain)
    bad = None
    try:
        obs.wait_ready(node)
        t0 = time.time()
        bad = Proc([str(PROCS / "bad_frames_publisher.py"), str(t0)], tmp_path / "bad.log", domain)
        expected = {"cam0": (7, 5), "cam1": (6, 4)}   # (received, rejected) per camera
        done = lambda: {c.camera: (c.frames_received, c.frames_rejected) for c in obs.state.cameras} == expected \
            and all(c.frames_encoded == c.frames_sampled for c in obs.state.cameras)   # noqa: E731
        assert obs.spin_until(lambda: obs.state is not None and done(), 40), [
            (c.camera, c.frames_received, c.frames_sampled, c.frames_encoded, c.frames_dropped, c.frames_rejected)
            for c in obs.state.cameras]
        cams = obs.cams()
        for c in cams.values():
            # the two good frames: encoded, or overwritten by the next one before the encoder took it
            assert c.frames_sampled + c.frames_dropped == 2 and c.frames_encoded >= 1
        obs.spin_until(lambda: "rejected_stamp_jumped_back" in obs.diagnostics.get("vstream: camera cam1", {}), 5)
        d0, d1 = obs.diagnostics["vstream: camera cam0"], obs.diagnostics["vstream: camera cam1"]
        for reason in ("bad_step", "truncated", "unsupported_encoding", "zero_size", "stamp_jumped_back"):
            assert d0[f"rejected_{reason}"] == "1", d0
        assert (d1["rejected_corrupt_compressed"], d1["rejected_zero_size"], d1["rejected_stamp_jumped_back"]) == (
            "2", "1", "1"), d1
        assert obs.worst_level["vstream: camera cam0"] == 1   # WARN while the bad frames came in
        res = obs.ask_query(max_new_tokens=3)
        assert res.success, res.error
        assert res.frames_in_memory == sum(c.frames_encoded for c in cams.values())   # memory intact
        assert node.popen.poll() is None
    finally:
        obs.close()
        if bad:
            bad.stop()
        node.stop()


# ---------------------------------------------------------------- persistence
def memory_summary(obs: Observer) -> tuple:
    res = obs.ask_query(max_new_tokens=1)
    assert res.success, res.error
    cams = obs.cams()
    return res.frames_in_memory, {k: (to_seconds(c.first_stamp), to_seconds(c.last_stamp)) for k, c in cams.items()}


def test_memory_survives_restarts_kills_and_corruption(tmp_path):
    snapshot = tmp_path / "memory.safetensors"
    domain = fresh_domain()
    # 1. stream, then SIGINT: saved on the way out
    node = start_node(tmp_path, domain, "a")
    obs = Observer(domain)
    try:
        obs.wait_ready(node)
        camera = Proc([str(PROCS / "camera_publisher.py"), "3", "30"], tmp_path / "cam_a.log", domain)
        assert obs.spin_until(lambda: camera.popen.poll() is not None, 30)
        obs.wait_settled()
        before = memory_summary(obs)
        assert before[0] >= 10
    finally:
        assert node.stop(signal.SIGINT) == 0, node.output()
    assert snapshot.exists() and "memory saved" in node.output()

    # 2. restart: the same frames and stamp range
    node = start_node(tmp_path, domain, "b", autosave_period_s=0.3)
    try:
        obs.state = None
        obs.wait_ready(node)
        assert obs.spin_until(lambda: len(obs.cams()) == 2, 10)
        assert memory_summary(obs) == before
        assert "restored" in node.output()
        # 3. more frames, autosave, then SIGKILL: the last autosave comes back
        camera = Proc([str(PROCS / "camera_publisher.py"), "2", "30"], tmp_path / "cam_b.log", domain)
        assert obs.spin_until(lambda: camera.popen.poll() is not None, 30)
        frames_then = lambda: read_snapshot(snapshot)[1]["frames_seen"]  # noqa: E731
        obs.wait_settled()
        in_memory = memory_summary(obs)[0]
        assert obs.spin_until(lambda: frames_then() == in_memory, 10)   # the autosave caught up
        saved = frames_then()
    finally:
        node.stop(signal.SIGKILL)
    node = start_node(tmp_path, domain, "c")
    try:
        obs.state = None
        obs.wait_ready(node)
        assert obs.ask_query(max_new_tokens=1).frames_in_memory == saved
    finally:
        node.stop()

    # 4. a corrupt snapshot is moved aside; the node starts empty and says so
    snapshot.write_bytes(b"\x00garbage" * 10)
    node = start_node(tmp_path, domain, "d")
    try:
        obs.state = None
        obs.wait_ready(node)
        res = obs.ask_query(max_new_tokens=1)
        assert not res.success and "empty" in res.error
        assert list(tmp_path.glob("memory.safetensors.rejected-*"))
        assert "ERROR" in node.output() and "moved it to" in node.output()
    finally:
        obs.close()
        node.stop()


def test_services_answer_before_configure(tmp_path):
    domain = fresh_domain()
    node = start_node(tmp_path, domain, autostart=False)
    obs = Observer(domain)
    try:
        assert obs.spin_until(obs.query.service_is_ready, 60), node.output()
        res = obs.ask_query()
        assert not res.success and "not loaded" in res.error
        assert not obs.call(obs.save, Trigger.Request()).success
    finally:
        obs.close()
        node.stop()


def test_time_conversion_round_trip():
    from vstream_ros.ros.stamps import request_window

    for t in (1.5, 1700000000.123456789, 0.999999999999):
        assert abs(to_seconds(to_time(t)) - t) < 1e-6
    assert request_window(to_time(0), to_time(0)) is None
    lo, hi = request_window(to_time(5.0), to_time(0))
    assert lo == 5.0 and hi == math.inf
    from builtin_interfaces.msg import Time
    with pytest.raises(ValueError, match="start.nanosec is 2000000000"):
        request_window(Time(sec=1, nanosec=2_000_000_000), Time())
    with pytest.raises(ValueError, match="end.sec is negative"):
        request_window(Time(), Time(sec=-1))
    assert request_window(Time(sec=1, nanosec=999_999_999), Time())[0] == pytest.approx(2.0)


def test_bad_model_path_leaves_the_node_unconfigured_and_answering(tmp_path):
    domain = fresh_domain()
    node = start_node(tmp_path, domain, backend="flash_vstream", model_path=str(tmp_path / "no_such_model"))
    obs = Observer(domain)
    try:
        assert obs.spin_until(obs.query.service_is_ready, 60), node.output()
        res = obs.ask_query()
        assert not res.success and "not loaded" in res.error
        assert obs.spin_until(lambda: "configure failed" in node.output(), 30), node.output()
        assert "config.json" in node.output() and node.popen.poll() is None
    finally:
        obs.close()
        node.stop()


def test_memory_parameters_override_the_model_only_when_changed():
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn

    from vstream_ros.ros.node import VStreamNode

    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "-p", "backend:=tiny", "-p", "temporal_slots:=10",
                                  "-p", "snapshot_path:=''", "-p", "autostart:=false"])
    try:
        node = VStreamNode(context=ctx)
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        cfg = node.engine.memory.config
        assert cfg.temporal_slots == 10              # set on the command line
        assert cfg.abstract_hidden == 16             # the tiny model's own q/k width, not the default 32
        node._close_engine()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
