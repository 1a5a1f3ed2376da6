"""The node's executor: rclpy's MultiThreadedExecutor, except that the callbacks of an `InlineCallbackGroup`
(camera frames, poses) run on the spin thread itself, one at a time, as SingleThreadedExecutor runs them.

Why: one 30 Hz camera hands the executor 30 callbacks a second that each take well under a millisecond (header
checks, the sampler's verdict, a copy of the frame only when it is due). Handed to the thread pool, each also
costs a pool hand-off and the wait set rebuilt while its group is busy: a bare node taking 640x480 rgb8 frames
at 30 Hz used 0.15 core with the pool and 0.08 with the callback run inline, on this 2-core machine
(`bench/node.py --executor inline,pool` measures the node itself). Services, the action and timers still run in
the pool: a question waits for its answer there without holding frames up.
"""

from __future__ import annotations

from collections.abc import Callable

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import (
    ConditionReachedException,
    ExternalShutdownException,
    MultiThreadedExecutor,
    ShutdownException,
    TimeoutException,
)


class InlineCallbackGroup(MutuallyExclusiveCallbackGroup):
    """Callbacks that never block and return in a few milliseconds at most: `NodeExecutor` runs them on its
    spin thread (any other executor treats the group as a plain mutually exclusive one)."""


class NodeExecutor(MultiThreadedExecutor):
    """A MultiThreadedExecutor that runs `InlineCallbackGroup` callbacks on the spin thread."""

    def _spin_once_impl(self, timeout_sec: float | None = None,
                        wait_condition: Callable[[], bool] = lambda: False) -> None:
        # MultiThreadedExecutor._spin_once_impl (rclpy 10, Kilted) with the inline branch added: the pool's
        # `_executor` and `_futures` are that class's own (tests/test_executor.py fails if rclpy renames them)
        try:
            handler, entity, _node = self.wait_for_ready_callbacks(timeout_sec, None, wait_condition)
        except (ExternalShutdownException, ShutdownException, TimeoutException, ConditionReachedException):
            return
        if isinstance(getattr(entity, "callback_group", None), InlineCallbackGroup):
            handler()
            handler.result()                     # raise what the callback raised, as SingleThreadedExecutor does
            return
        self._executor.submit(handler)
        self._futures.append(handler)
        for future in self._futures[:]:
            if future.done():
                self._futures.remove(future)
                future.result()
