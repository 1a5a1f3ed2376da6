"""`backend:=flash_vstream_qwen` end to end: the node process with a tiny saved folder in the released layout,
a camera process on two topics, queries and the ~/ask action over DDS, and the memory across a restart."""

import signal

import pytest
from action_msgs.msg import GoalStatus
from test_node import Observer, memory_summary, published_range, start_node

from vstream_ros.action import Ask
from vstream_ros.backends.flash_qwen.tiny import save_tiny
from vstream_ros.memory.snapshot import FLASH_FORMAT, read_snapshot
from vstream_ros.ros.stamps import to_seconds

from rosproc import PROCS, Proc, fresh_domain

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier


def qwen_node(tmp_path, domain, folder, name):
    return start_node(tmp_path, domain, name, backend="flash_vstream_qwen", model_path=str(folder),
                      max_pixels=112 * 112, max_new_tokens_limit=4000)


def test_flash_vstream_qwen_node_answers_streams_and_keeps_its_memory(tmp_path):
    folder = save_tiny(tmp_path / "tiny-qwen")
    snapshot = tmp_path / "memory.safetensors"
    domain = fresh_domain()
    node = qwen_node(tmp_path, domain, folder, "a")
    obs = Observer(domain)
    camera = None
    try:
        obs.wait_ready(node)
        assert "backend flash_vstream_qwen" in node.output()
        camera = Proc([str(PROCS / "camera_publisher.py"), "4", "30"], tmp_path / "camera.log", domain)
        assert obs.spin_until(lambda: camera.popen.poll() is not None, 30)
        obs.wait_settled()
        first, last = published_range(camera)
        for c in obs.cams().values():
            assert c.frames_encoded >= 7 and c.frames_rejected == 0
            assert c.tokens_temporal > 0 and c.tokens_retrieved > 0          # the Flash Memory's CSM and DAM
            assert c.tokens_spatial == 0 and c.tokens_abstract == 0

        res = obs.ask_query("When did the scene turn blue?", max_new_tokens=6)
        assert res.success, res.error
        assert {e.camera for e in res.evidence} == {"cam0", "cam1"}
        assert {e.kind for e in res.evidence} == {"temporal", "retrieved"}
        for e in res.evidence:
            assert first - 1e-6 <= to_seconds(e.stamp) <= to_seconds(e.stamp_end) <= last + 1e-6, e

        # ~/ask: streamed feedback, a cancel, then a short goal to completion with its evidence
        assert obs.ask.wait_for_server(timeout_sec=20)
        feedback = []
        goal = obs.ask.send_goal_async(Ask.Goal(question="Describe everything.", max_new_tokens=3000),
                                       feedback_callback=lambda fb: feedback.append(fb.feedback))
        assert obs.spin_until(goal.done, 20) and goal.result().accepted
        assert obs.spin_until(lambda: len(feedback) >= 2, 30)
        cancel = goal.result().cancel_goal_async()
        result = goal.result().get_result_async()
        assert obs.spin_until(lambda: cancel.done() and result.done(), 30)
        assert result.result().status == GoalStatus.STATUS_CANCELED and feedback[-1].tokens < 3000
        goal = obs.ask.send_goal_async(Ask.Goal(question="Which colour? (A) red (B) blue", max_new_tokens=3))
        assert obs.spin_until(goal.done, 20)
        result = goal.result().get_result_async()
        assert obs.spin_until(result.done, 30)
        done = result.result()
        assert done.status == GoalStatus.STATUS_SUCCEEDED and done.result.success and done.result.evidence
        assert done.result.answer.startswith("Best option: (")
        before = memory_summary(obs)
    finally:
        if camera:
            camera.stop()
        assert node.stop(signal.SIGINT) == 0, node.output()
    assert "memory saved" in node.output()
    assert read_snapshot(snapshot)[1]["format"] == FLASH_FORMAT

    node = qwen_node(tmp_path, domain, folder, "b")
    try:
        obs.state = None
        obs.wait_ready(node)
        assert obs.spin_until(lambda: len(obs.cams()) == 2, 10)
        assert memory_summary(obs) == before
        assert "restored" in node.output()
    finally:
        obs.close()
        node.stop()
