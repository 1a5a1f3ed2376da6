"""A ROS 2 service call that survives a dropped response.

Fast DDS drops a response when the server has not yet matched the client's response reader 100 ms after the
request came (rmw_fastrtps #390/#467; rclpy only warns "failed to send response (timeout)"), which a loaded
2-core machine hits right after discovery: the request was served and its answer will never come. Sending it
again is what a DDS client must do; the first response to any of the sends is the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def call(client, request, spin_until: Callable[[Callable[[], bool], float], bool], timeout: float,
         resend_after: float | None):
    """The first response to `request` from rclpy `client`, sent again every `resend_after` s while none has
    come (None: sent once, for requests that must not run twice); `spin_until(predicate, seconds)` spins the
    caller's node. A TimeoutError that says how many were sent when none came in `timeout` s."""
    deadline = time.monotonic() + timeout
    futures = []
    while not futures or time.monotonic() < deadline:
        futures.append(client.call_async(request))
        wait = deadline - time.monotonic()
        wait = wait if resend_after is None else min(resend_after, wait)
        if spin_until(lambda: any(f.done() for f in futures), wait):
            return next(f for f in futures if f.done()).result()
    raise TimeoutError(f"{client.srv_name} did not answer in {timeout:.0f} s ({len(futures)} sent)")
