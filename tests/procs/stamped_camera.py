"""Test camera with chosen stamps: publishes sensor_msgs/Image frames (reliable QoS) on each TOPIC.

Usage: stamped_camera.py T0_S STEP_S COUNT [--skip A:B] [--loop] [--hz N] TOPIC...
Frame i has stamp T0 + i * STEP (scene colour changes every 2 s of stamp time, as camera_publisher.py);
frames whose stamp lies in [T0 + A, T0 + B) are never sent (a hole, as frames lost in transport leave).
Sends --hz frames a second of wall time (20) once every topic has a subscriber (waits up to 30 s), then exits;
`--loop` keeps sending the last frame's successors (stamps go on) until SIGINT. Prints "done N".
"""

import argparse
import time

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 30), (200, 40, 200), (30, 210, 210)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("t0", type=float)
    ap.add_argument("step", type=float)
    ap.add_argument("count", type=int)
    ap.add_argument("topics", nargs="+")
    ap.add_argument("--skip", default="")
    ap.add_argument("--loop", action="store_true")
    ap.add_argument("--hz", type=float, default=20.0, help="frames sent per second of wall time")
    a = ap.parse_args()
    skip = tuple(float(x) for x in a.skip.split(":")) if a.skip else (0.0, 0.0)
    rclpy.init()
    node = Node("stamped_camera")
    pubs = [node.create_publisher(Image, t, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
            for t in a.topics]
    deadline = time.monotonic() + 30
    while any(p.get_subscription_count() == 0 for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.02)
    frames = [np.full((120, 160, 3), c, np.uint8) for c in COLOURS]
    i, sent = 0, 0
    try:
        while i < a.count or a.loop:
            rel = i * a.step
            i += 1
            if skip[0] <= rel < skip[1]:
                continue
            ns = round((a.t0 + rel) * 1e9)
            img = Image(height=120, width=160, encoding="rgb8", step=160 * 3,
                        data=frames[int(rel // 2.0) % len(COLOURS)].tobytes())
            img.header.stamp.sec, img.header.stamp.nanosec = ns // 10**9, ns % 10**9
            for t, p in zip(a.topics, pubs, strict=True):
                img.header.frame_id = t
                p.publish(img)
            sent += 1
            time.sleep(1.0 / a.hz)
    except KeyboardInterrupt:
        pass
    print(f"done {sent}", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
