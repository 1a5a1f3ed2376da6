"""Publishes one malformed frame of each kind (and a stamp that jumps back), then good frames.

Usage: bad_frames_publisher.py T0_S. Raw frames go to /cam0/image_raw, compressed to
/cam1/image_raw/compressed; each bad frame is stamped 1 s after the previous one so that sampling
never skips it. Prints "published" when done and keeps spinning until SIGINT.
"""

import sys
import time

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image


def stamp_msg(msg, t):
    ns = round(t * 1e9)
    msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 10**9, ns % 10**9
    return msg


def main() -> None:
    t = float(sys.argv[1])
    rclpy.init()
    node = Node("bad_camera")
    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    raw = node.create_publisher(Image, "/cam0/image_raw", qos)
    jpg = node.create_publisher(CompressedImage, "/cam1/image_raw/compressed", qos)
    deadline = time.monotonic() + 10
    while (raw.get_subscription_count() == 0 or jpg.get_subscription_count() == 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    good = np.full((48, 64, 3), 120, np.uint8).tobytes()
    good_jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    raw_cases = [
        dict(height=48, width=64, encoding="rgb8", step=64 * 3 - 1, data=good),          # wrong step
        dict(height=48, width=64, encoding="rgb8", step=64 * 3, data=good[:1000]),       # truncated
        dict(height=48, width=64, encoding="weird16", step=64 * 3, data=good),          # unknown encoding
        dict(height=0, width=0, encoding="rgb8", step=0, data=b""),                       # zero size
    ]
    for case in raw_cases:
        t += 1.0
        raw.publish(stamp_msg(Image(**case), t))
    for data in (b"\xff\xd8garbage-not-a-jpeg\xff\xd9", good_jpeg[: len(good_jpeg) // 2], b""):
        t += 1.0
        jpg.publish(stamp_msg(CompressedImage(format="jpeg", data=data), t))
    # good frames, then a stamp that jumps back on each camera (refused under on_stamp_jump_back: refuse)
    for dt in (1.0, 2.0, -30.0):
        raw.publish(stamp_msg(Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=good), t + dt))
        jpg.publish(stamp_msg(CompressedImage(format="jpeg", data=good_jpeg), t + dt))
    print("published", flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
