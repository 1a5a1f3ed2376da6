"""Publishes the frames that used to end the node (issue 16), a frame stamped a year ahead, then good frames.

Usage: crash_frames_publisher.py T0_S. Raw frames go to /cam0/image_raw: yuv422 and yuyv with an odd
width (decoded, their unpaired last column dropped). Compressed frames go to /cam1/image_raw/compressed:
a PNG whose header says 100000x100000, a JPEG whose header says 65000x65000, a real 8192x8192 PNG of
about 200 KB (all three too large). Then one good frame per camera stamped a year ahead (refused), then
two good frames each. Every frame is stamped 1 s after the previous one, so sampling never skips it.
Prints "published" when done and keeps spinning until SIGINT.
"""

import struct
import sys
import time
import zlib

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

YEAR = 365 * 86400.0


def stamp_msg(msg, t):
    ns = round(t * 1e9)
    msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 10**9, ns % 10**9
    return msg


def png_claiming(w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def jpeg_claiming(w, h):
    data = bytearray(cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes())
    i = data.find(b"\xff\xc0")
    data[i + 5: i + 9] = struct.pack(">HH", h, w)
    return bytes(data)


def main() -> None:
    t = float(sys.argv[1])
    rclpy.init()
    node = Node("crash_camera")
    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    raw = node.create_publisher(Image, "/cam0/image_raw", qos)
    jpg = node.create_publisher(CompressedImage, "/cam1/image_raw/compressed", qos)
    deadline = time.monotonic() + 10
    while (raw.get_subscription_count() == 0 or jpg.get_subscription_count() == 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    w, h = 65, 48
    yuv = bytes(np.full(2 * w * h, 128, np.uint8))
    for enc in ("yuv422", "yuyv"):
        t += 1.0
        raw.publish(stamp_msg(Image(height=h, width=w, encoding=enc, step=2 * w, data=yuv), t))
    big_png = cv2.imencode(".png", np.zeros((8192, 8192, 3), np.uint8))[1].tobytes()
    for fmt, data in (("png", png_claiming(100000, 100000)), ("jpeg", jpeg_claiming(65000, 65000)),
                      ("png", big_png)):
        t += 1.0
        jpg.publish(stamp_msg(CompressedImage(format=fmt, data=data), t))
    good = np.full((48, 64, 3), 120, np.uint8).tobytes()
    good_jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    for stamp in (t + YEAR, t + 1.0, t + 2.0):
        raw.publish(stamp_msg(Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=good), stamp))
        jpg.publish(stamp_msg(CompressedImage(format="jpeg", data=good_jpeg), stamp))
    print("published", flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
