"""Publishes the frames that used to end the node (issue 16), a frame stamped a year ahead, then good frames.

Usage: crash_frames_publisher.py T0_S. Raw frames go to /cam0/image_raw: yuv422 and yuyv with an odd
width (decoded, their unpaired last column dropped). Compressed frames go to /cam1/image_raw/compressed:
a PNG whose header says 100000x100000, a JPEG whose header says 65000x65000, a real 8192x8192 PNG of
about 200 KB (all three too large). Then one good frame per camera stamped a year ahead (refused), then
two good frames each. Every frame is stamped 1 s after the previous one, so sampling never skips it.
Prints "published" when done and keeps spinning until SIGINT.
"""

import sys

import cv2
import numpy as np
from cameras import open_cameras, spin_until_interrupt, stamped
from sensor_msgs.msg import CompressedImage, Image

from vstream_ros.tools.forged import jpeg_claiming, png_claiming

YEAR = 365 * 86400.0


def main() -> None:
    t = float(sys.argv[1])
    node, raw, jpg = open_cameras("crash_camera")
    w, h = 65, 48
    yuv = bytes(np.full(2 * w * h, 128, np.uint8))
    for enc in ("yuv422", "yuyv"):
        t += 1.0
        raw.publish(stamped(Image(height=h, width=w, encoding=enc, step=2 * w, data=yuv), t))
    big_png = cv2.imencode(".png", np.zeros((8192, 8192, 3), np.uint8))[1].tobytes()
    for fmt, data in (("png", png_claiming(100000, 100000)), ("jpeg", jpeg_claiming(65000, 65000)),
                      ("png", big_png)):
        t += 1.0
        jpg.publish(stamped(CompressedImage(format=fmt, data=data), t))
    good = np.full((48, 64, 3), 120, np.uint8).tobytes()
    good_jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    for stamp in (t + YEAR, t + 1.0, t + 2.0):
        raw.publish(stamped(Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=good), stamp))
        jpg.publish(stamped(CompressedImage(format="jpeg", data=good_jpeg), stamp))
    print("published", flush=True)
    spin_until_interrupt(node)


if __name__ == "__main__":
    main()
