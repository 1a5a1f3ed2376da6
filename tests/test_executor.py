"""The node's executor (ros/executor.py): callbacks of an InlineCallbackGroup (camera frames, poses) run on the
spin thread, everything else in the thread pool; an inline callback's error reaches the spin loop as
SingleThreadedExecutor's would. In-process, one context of its own; messages over the loopback DDS."""

from __future__ import annotations

import contextlib
import threading

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from std_msgs.msg import String

from vstream_ros.ros.executor import InlineCallbackGroup, NodeExecutor
from vstream_ros.tools.rosenv import ensure_loopback

ensure_loopback()


@pytest.fixture
def ctx():
    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


def _spin_until(executor, done, limit=200) -> None:
    for _ in range(limit):
        if done():
            return
        executor.spin_once(timeout_sec=0.1)
    raise AssertionError("the callbacks did not all run")


def _matched(executor, pub, subscriptions: int) -> None:
    """Spin until the publisher has matched its subscriptions (a message sent before would be lost)."""
    _spin_until(executor, lambda: pub.get_subscription_count() >= subscriptions)


@contextlib.contextmanager
def _running(ctx, node, executor_class=NodeExecutor):
    """An executor of `executor_class` (two pool threads) spinning `node` in this thread; both closed after."""
    executor = executor_class(num_threads=2, context=ctx)
    executor.add_node(node)
    try:
        yield executor
    finally:
        executor.shutdown()
        node.destroy_node()


def _publish_to_two_groups(ctx, executor_class):
    """One message to a subscription in an InlineCallbackGroup and to one in the default group; the threads
    each callback ran on, and the thread that spun."""
    node = rclpy.create_node("executor_test", context=ctx)
    ran: dict[str, int] = {}
    node.create_subscription(String, "chatter", lambda m: ran.setdefault("inline", threading.get_ident()), 10,
                             callback_group=InlineCallbackGroup())
    node.create_subscription(String, "chatter", lambda m: ran.setdefault("pool", threading.get_ident()), 10)
    pub = node.create_publisher(String, "chatter", 10)
    with _running(ctx, node, executor_class) as executor:
        _matched(executor, pub, 2)
        pub.publish(String(data="hi"))
        _spin_until(executor, lambda: len(ran) == 2)
    return ran, threading.get_ident()


def test_inline_callbacks_run_on_the_spin_thread_and_others_in_the_pool(ctx):
    ran, spinner = _publish_to_two_groups(ctx, NodeExecutor)
    assert ran["inline"] == spinner and ran["pool"] != spinner


def test_rclpys_own_executor_runs_the_inline_group_in_its_pool(ctx):
    ran, spinner = _publish_to_two_groups(ctx, MultiThreadedExecutor)     # a plain mutually exclusive group there
    assert ran["inline"] != spinner and ran["pool"] != spinner


def test_an_inline_callbacks_error_reaches_the_spin_loop(ctx):
    node = rclpy.create_node("executor_error", context=ctx)

    def boom(_msg):
        raise RuntimeError("frame callback failed")

    node.create_subscription(String, "boom", boom, 10, callback_group=InlineCallbackGroup())
    pub = node.create_publisher(String, "boom", 10)
    with _running(ctx, node) as executor:
        _matched(executor, pub, 1)
        pub.publish(String(data="x"))
        with pytest.raises(RuntimeError, match="frame callback failed"):
            for _ in range(100):
                executor.spin_once(timeout_sec=0.1)
