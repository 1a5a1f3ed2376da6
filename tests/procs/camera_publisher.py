"""Test camera: publishes 640x480 frames at a fixed rate on a raw and a compressed topic.

Usage: camera_publisher.py [--raw-subscriber-only] DURATION_S [RATE_HZ] [T0_S]
Content changes every 2 s of stamp time (a different colour and pattern per scene), so a memory can
be checked against known spans. Stamps advance exactly 1/RATE per frame from T0 (default: now).
Waits (up to 20 s) for a subscriber on both topics first (--raw-subscriber-only: on the raw topic, for a
node that subscribes to the raw one alone). Prints one line per second; exits after DURATION_S or on SIGINT.
"""

import sys
import time

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 30), (200, 40, 200), (30, 210, 210)]


def scene_frame(scene: int, h: int = 480, w: int = 640) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = COLOURS[scene % len(COLOURS)]
    step = 40 + 20 * (scene % 4)
    img[::step, :] = 255 - img[::step, :]
    img[:, ::step] //= 2
    return img


def main() -> None:
    raw_only = "--raw-subscriber-only" in sys.argv
    args = [a for a in sys.argv if a != "--raw-subscriber-only"]
    duration = float(args[1])
    rate = float(args[2]) if len(args) > 2 else 30.0
    rclpy.init()
    node = Node("test_camera")
    t0 = float(args[3]) if len(args) > 3 else node.get_clock().now().nanoseconds * 1e-9
    raw = node.create_publisher(Image, "/cam0/image_raw", qos_profile_sensor_data)
    jpg = node.create_publisher(CompressedImage, "/cam1/image_raw/compressed", qos_profile_sensor_data)
    deadline = time.monotonic() + 20      # frames sent before discovery matched would be lost
    while (raw.get_subscription_count() == 0 or (jpg.get_subscription_count() == 0 and not raw_only)) \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    print("subscribed", flush=True)
    frames = [scene_frame(s) for s in range(len(COLOURS))]
    jpegs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]
    start, i, sent = time.monotonic(), 0, 0
    try:
        while time.monotonic() - start < duration:
            stamp = t0 + i / rate
            scene = int((stamp - t0) // 2.0) % len(COLOURS)
            img = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=frames[scene].tobytes())
            ns = round(stamp * 1e9)
            img.header.stamp.sec, img.header.stamp.nanosec = ns // 10**9, ns % 10**9
            img.header.frame_id = "cam0"
            raw.publish(img)
            c = CompressedImage(format="jpeg", data=jpegs[scene])
            c.header = img.header
            jpg.publish(c)
            i += 1
            sent += 1
            if i % int(rate) == 0:
                print(f"sent {sent} first {t0:.6f} last {stamp:.6f}", flush=True)
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
    except KeyboardInterrupt:
        pass
    print(f"done sent {sent} first {t0:.6f} last {t0 + (i - 1) / rate:.6f}", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
