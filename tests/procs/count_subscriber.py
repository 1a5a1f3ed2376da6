"""Counts Image/CompressedImage (or Odometry) messages per topic with their header stamps; writes them as JSON.

Usage: count_subscriber.py OUT.json EXPECTED TOPIC[:compressed|:odometry] ...  Exits once EXPECTED messages
came (or on SIGINT), writing {topic: [stamp_ns, ...]}.
"""

import json
import sys

import rclpy
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image


def main() -> None:
    out, expected, specs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    rclpy.init()
    node = rclpy.create_node("count_subscriber")
    got: dict[str, list[int]] = {}
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    for spec in specs:
        topic, _, kind = spec.partition(":")
        got[topic] = []
        cls = {"compressed": CompressedImage, "odometry": Odometry}.get(kind, Image)
        node.create_subscription(cls, topic,
                                 lambda m, t=topic: got[t].append(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec),
                                 qos)
    print("ready", flush=True)
    try:
        while sum(map(len, got.values())) < expected:
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    with open(out, "w") as f:
        json.dump(got, f)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
