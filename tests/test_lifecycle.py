"""The node's lifecycle in-process: what each state does for ingest and questions, shutdown from every
state, cleanup freeing the models (and the GPU memory where there is one). tests/test_ros2cli.py drives
the same transitions over DDS with `ros2 lifecycle`."""

from __future__ import annotations

import threading
import weakref

import pytest
import rclpy
import torch
from rclpy.context import Context
from rclpy.event_handler import EventHandler
from rclpy.lifecycle import TransitionCallbackReturn
from std_srvs.srv import Trigger

from vstream_ros.ros.executor import InlineCallbackGroup
from vstream_ros.ros.node import VStreamNode
from vstream_ros.srv import Query

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@pytest.fixture
def make_node(tmp_path):
    """A VStreamNode (tiny backend, autostart off) in a context of its own; closed after the test."""
    made = []

    def make(**params) -> VStreamNode:
        params = {"backend": "tiny", "autostart": False, "camera_topics": "['/cam0/image_raw']",
                  "snapshot_path": str(tmp_path / "memory.safetensors"), "autosave_period_s": 0.0} | params
        args = ["--ros-args"] + [a for k, v in params.items() for a in ("-p", f"{k}:={v}")]
        ctx = Context()
        rclpy.init(context=ctx, args=args)
        node = VStreamNode(context=ctx)
        made.append((ctx, node))
        return node

    yield make
    for ctx, node in made:
        node._close_engine()
        node.destroy_node()
        rclpy.shutdown(context=ctx)


def ask(node: VStreamNode) -> Query.Response:
    return node._on_query(Query.Request(question="What did you see?"), Query.Response())


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vstream-") and t.is_alive()]


def drive(node: VStreamNode, state: str) -> None:
    steps = {"unconfigured": [], "inactive": [node.trigger_configure],
             "active": [node.trigger_configure, node.trigger_activate]}[state]
    for step in steps:
        assert step() == SUCCESS
    assert node.lifecycle_state == state


def test_each_state_says_what_it_does_with_questions_and_frames(make_node):
    node = make_node()
    assert "unconfigured" in ask(node).error
    assert not node._on_save(Trigger.Request(), Trigger.Response()).success
    drive(node, "inactive")
    assert node.engine is not None and not node._subs            # loaded, not ingesting
    res = ask(node)
    assert not res.success and "inactive" in res.error            # refused at once, not queued
    assert node._on_save(Trigger.Request(), Trigger.Response()).success     # maintenance works
    assert node._on_reset(Trigger.Request(), Trigger.Response()).success
    assert node.trigger_activate() == SUCCESS
    assert len(node._subs) == 1
    res = ask(node)
    assert "memory is empty" in res.error                         # answered by the engine: nothing seen yet
    assert node.trigger_deactivate() == SUCCESS
    assert not node._subs and "inactive" in ask(node).error
    models = [weakref.ref(node.engine.backend.encoder), weakref.ref(node.engine.backend.answerer),
              weakref.ref(node.engine.memory)]
    assert node.trigger_cleanup() == SUCCESS
    assert node.engine is None and not engine_threads()
    assert all(ref() is None for ref in models)                  # nothing holds the models or the memory


@pytest.mark.parametrize("state", ["unconfigured", "inactive", "active"])
def test_shutdown_from_any_state_releases_everything_and_saves(make_node, tmp_path, state):
    node = make_node()
    drive(node, state)
    assert node.trigger_shutdown() == SUCCESS
    assert node.lifecycle_state == "finalized"
    assert not node._subs and node.engine is None and node._timer is None
    assert not engine_threads()                                   # encoder, answer and autosave workers ended
    assert (tmp_path / "memory.safetensors").exists() == (state != "unconfigured")   # saved if it was loaded
    assert "finalized" in ask(node).error


def test_a_bad_choice_leaves_the_node_unconfigured(make_node):
    node = make_node(qos_reliability="reliabel")
    assert node.trigger_configure() == FAILURE
    assert node.lifecycle_state == "unconfigured" and node.engine is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cleanup_frees_the_gpu(make_node):
    node = make_node(device="cuda")
    drive(node, "active")
    assert torch.cuda.memory_allocated() > 0
    assert node.trigger_deactivate() == SUCCESS and node.trigger_cleanup() == SUCCESS
    assert torch.cuda.memory_allocated() == 0 and torch.cuda.memory_reserved() == 0


def test_camera_subscriptions_carry_no_event_handlers(make_node):
    """An event handler on a camera subscription wakes the executor while the subscription's callback is
    queued (rmw_fastrtps): the node then lost half of two 30 Hz cameras' frames (test_node's streaming)."""
    node = make_node(camera_topics="['/cam0/image_raw', '/cam1/image_raw/compressed']")
    drive(node, "active")
    assert len(node._ingest_groups) == 2
    on_cameras = [w for w in node.waitables if isinstance(w, EventHandler) and w.callback_group in node._ingest_groups]
    assert on_cameras == []
    # frames (and poses) run on the spin thread of the node's executor (ros/executor.py), not through its pool
    assert all(isinstance(g, InlineCallbackGroup) for g in node._ingest_groups)
