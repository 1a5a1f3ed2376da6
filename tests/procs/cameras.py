"""What the test camera processes share: the two camera topics (raw /cam0, compressed /cam1), waiting
for the node's subscriptions before publishing (frames sent before discovery matched would be lost),
header stamps, and spinning until SIGINT."""

import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from vstream_ros.ros.stamps import to_time

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


def open_cameras(name: str, qos: QoSProfile = RELIABLE, wait_s: float = 10.0):
    """rclpy initialised, a node `name` and its publishers (raw, compressed), once both have a subscriber
    or `wait_s` has passed."""
    rclpy.init()
    node = Node(name)
    raw = node.create_publisher(Image, "/cam0/image_raw", qos)
    jpg = node.create_publisher(CompressedImage, "/cam1/image_raw/compressed", qos)
    deadline = time.monotonic() + wait_s
    while (raw.get_subscription_count() == 0 or jpg.get_subscription_count() == 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    return node, raw, jpg


def stamped(msg, t: float):
    msg.header.stamp = to_time(t)
    return msg


def spin_until_interrupt(node: Node) -> None:
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    node.destroy_node()
    rclpy.try_shutdown()
