"""Publishes one malformed frame of each kind (and a stamp that jumps back), then good frames.

Usage: bad_frames_publisher.py T0_S. Raw frames go to /cam0/image_raw, compressed to
/cam1/image_raw/compressed; each bad frame is stamped 1 s after the previous one so that sampling
never skips it. Prints "published" when done and keeps spinning until SIGINT.
"""

import sys

import cv2
import numpy as np
from cameras import open_cameras, spin_until_interrupt, stamped
from sensor_msgs.msg import CompressedImage, Image


def main() -> None:
    t = float(sys.argv[1])
    node, raw, jpg = open_cameras("bad_camera")
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
        raw.publish(stamped(Image(**case), t))
    for data in (b"\xff\xd8garbage-not-a-jpeg\xff\xd9", good_jpeg[: len(good_jpeg) // 2], b""):
        t += 1.0
        jpg.publish(stamped(CompressedImage(format="jpeg", data=data), t))
    # good frames, then a stamp that jumps back on each camera (refused under on_stamp_jump_back: refuse)
    for dt in (1.0, 2.0, -30.0):
        raw.publish(stamped(Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=good), t + dt))
        jpg.publish(stamped(CompressedImage(format="jpeg", data=good_jpeg), t + dt))
    print("published", flush=True)
    spin_until_interrupt(node)


if __name__ == "__main__":
    main()
