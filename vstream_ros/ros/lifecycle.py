"""The node's lifecycle vocabulary: what each state means, why a question is refused in it, and the
`transition` wrapper that logs every transition and turns an exception into a logged ERROR (rclpy would
swallow it silently)."""

from __future__ import annotations

import functools

from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn

SUCCESS, FAILURE, ERROR = (TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE,
                           TransitionCallbackReturn.ERROR)

# what a state means, logged on entering it
MEANING = {
    "unconfigured": "no model loaded (none held in memory or on the GPU); questions refused",
    "inactive": "memory kept, no frames ingested, questions refused (save_memory and reset_memory work)",
    "active": "ingesting frames and answering questions",
    "finalized": "nothing runs (no subscription, no worker, no model); the process waits for SIGINT or SIGTERM",
}
# why a question is refused in each state but active
REFUSED = {
    "unconfigured": "the model is not loaded: the node is unconfigured (configure and activate it)",
    "inactive": "the node is inactive: questions are answered only while it is active (activate it)",
    "finalized": "the node is finalized (shut down): start it again",
}


def transition(name: str, reached: str):
    """Wrap a lifecycle callback: log the transition and its outcome; an exception becomes ERROR."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(self, state: LifecycleState) -> TransitionCallbackReturn:
            log = self.get_logger()
            log.info(f"{name}: from {state.label}")
            try:
                ret = fn(self, state)
            except Exception as e:
                log.error(f"{name} failed: {type(e).__name__}: {e}")
                return ERROR
            if ret == SUCCESS:
                self.lifecycle_state = reached
                log.info(f"{name} done, now {reached}: {MEANING[reached]}")
            else:
                log.error(f"{name} failed: back to {state.label}" if ret == FAILURE else f"{name}: error")
            return ret
        return run
    return wrap
