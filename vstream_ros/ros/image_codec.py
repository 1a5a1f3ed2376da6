"""sensor_msgs Image / CompressedImage -> RGB uint8 arrays, with a named reason for every refusal.

OpenCV does the colour conversions (Bayer, YUV 4:2:2) and the JPEG/PNG decoding; no cv_bridge (there
is no ROS 2 wheel of it). Nothing here can end the caller or bloat the process: sizes are checked
from the message or the compressed file's header before anything is decoded (`max_pixels` applies
to both), and every OpenCV error becomes a FrameRejected with its reason.
"""

from __future__ import annotations

import cv2
import numpy as np

from vstream_ros.frames import FrameRejected, check_size, compressed_size

# encoding -> (channels, bytes per channel)
_LAYOUT = {
    "rgb8": (3, 1), "bgr8": (3, 1), "rgba8": (4, 1), "bgra8": (4, 1), "mono8": (1, 1), "8UC1": (1, 1),
    "8UC3": (3, 1), "mono16": (1, 2), "16UC1": (1, 2), "yuv422": (2, 1), "uyvy": (2, 1),
    "yuv422_yuy2": (2, 1), "yuyv": (2, 1),
    "bayer_rggb8": (1, 1), "bayer_bggr8": (1, 1), "bayer_gbrg8": (1, 1), "bayer_grbg8": (1, 1),
}
# ROS Bayer names are the sensor's first row; OpenCV names the second row's pattern (as cv_bridge maps them)
_BAYER = {"bayer_rggb8": cv2.COLOR_BayerBG2RGB, "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
          "bayer_gbrg8": cv2.COLOR_BayerGR2RGB, "bayer_grbg8": cv2.COLOR_BayerGB2RGB}
_YUV422 = {"yuv422": cv2.COLOR_YUV2RGB_UYVY, "uyvy": cv2.COLOR_YUV2RGB_UYVY,
           "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2, "yuyv": cv2.COLOR_YUV2RGB_YUY2}
SUPPORTED_ENCODINGS = tuple(_LAYOUT)


def check_image(msg, max_pixels: int = 4096 * 4096) -> None:
    """Header checks of a sensor_msgs/Image (sizes, step, encoding): cheap, for every frame."""
    h, w, step, enc = int(msg.height), int(msg.width), int(msg.step), msg.encoding
    check_size(w, h, max_pixels)
    if enc not in _LAYOUT:
        raise FrameRejected("unsupported_encoding", f"encoding {enc[:64]!r}; supported: {', '.join(_LAYOUT)}")
    channels, depth = _LAYOUT[enc]
    row = w * channels * depth
    if step < row:
        raise FrameRejected("bad_step", f"step {step} < width {w} x {channels * depth} bytes for {enc}")
    if len(msg.data) < step * h:
        raise FrameRejected("truncated", f"{len(msg.data)} bytes of data, expected step x height = {step * h}")


def image_to_rgb(msg, max_pixels: int = 4096 * 4096) -> np.ndarray:
    """A sensor_msgs/Image as uint8 [H, W, 3] RGB; FrameRejected names what is wrong with it."""
    check_image(msg, max_pixels)
    try:
        return _convert(msg)
    except cv2.error as e:
        raise FrameRejected("decode_failed", f"OpenCV could not convert {msg.encoding}: {_first_line(e)}") from None


def image_thumbnail(msg) -> np.ndarray | None:
    """16x16 grey levels from a 32x32 grid of an 8-bit Image's pixels, read in place (no conversion): what
    the sampler compares to keep a frame whose picture changed (engine/ingest.py). None for layouts where
    a byte is not a level (16-bit, YUV 4:2:2) or a message the header checks would refuse."""
    h, w, step, enc = int(msg.height), int(msg.width), int(msg.step), msg.encoding
    channels, depth = _LAYOUT.get(enc, (0, 0))
    if depth != 1 or channels == 2 or h < 2 or w < 2 or step < w * channels or len(msg.data) < step * h:
        return None
    rows = np.frombuffer(msg.data, dtype=np.uint8)[: step * h].reshape(h, step)
    ys, xs = np.linspace(0, h - 1, 32).astype(np.intp), np.linspace(0, w - 1, 32).astype(np.intp)
    px = rows[ys][:, (xs * channels)[:, None] + np.arange(min(channels, 3))]      # [32, 32, c]
    return px.reshape(16, 2, 16, 2, -1).astype(np.float32).mean((1, 3, 4))


def _convert(msg) -> np.ndarray:
    h, w, step, enc = int(msg.height), int(msg.width), int(msg.step), msg.encoding
    channels, depth = _LAYOUT[enc]
    row = w * channels * depth
    data = np.frombuffer(msg.data, dtype=np.uint8)
    rows = data[: step * h].reshape(h, step)[:, :row]
    if depth == 2:
        dt = np.dtype(">u2" if msg.is_bigendian else "<u2")
        gray16 = np.ascontiguousarray(rows).view(dt).reshape(h, w).astype(np.uint16)
        gray = cv2.normalize(gray16, None, 0, 255, cv2.NORM_MINMAX, dtype=cv2.CV_8U)   # scaled to 8 bits
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    px = np.ascontiguousarray(rows).reshape(h, w, channels)
    if enc in ("rgb8", "8UC3"):
        return px
    if enc == "bgr8":
        return cv2.cvtColor(px, cv2.COLOR_BGR2RGB)
    if enc == "rgba8":
        return cv2.cvtColor(px, cv2.COLOR_RGBA2RGB)
    if enc == "bgra8":
        return cv2.cvtColor(px, cv2.COLOR_BGRA2RGB)
    if enc in ("mono8", "8UC1"):
        return cv2.cvtColor(px[..., 0], cv2.COLOR_GRAY2RGB)
    if enc in _YUV422:
        if w % 2:   # pixels come in pairs sharing their colour: the last, unpaired column has none
            px = np.ascontiguousarray(px[:, : w - 1])
        return cv2.cvtColor(px, _YUV422[enc])
    return cv2.cvtColor(px[..., 0], _BAYER[enc])


def compressed_to_rgb(msg, max_pixels: int = 4096 * 4096) -> np.ndarray:
    """A sensor_msgs/CompressedImage (JPEG or PNG) as uint8 [H, W, 3] RGB; its size is read from the
    header and checked before it is decoded."""
    fmt = msg.format.lower()
    if "compresseddepth" in fmt or not (fmt == "" or any(k in fmt for k in ("jpeg", "jpg", "png"))):
        raise FrameRejected("unsupported_format", f"compressed format {msg.format[:64]!r}; supported: jpeg, png")
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size == 0:
        raise FrameRejected("zero_size", "empty compressed image")
    kind, w, h = compressed_size(memoryview(buf))
    check_size(w, h, max_pixels)
    if kind == "jpeg" and b"\xff\xd9" not in bytes(buf[-64:]):   # some encoders pad after the marker
        raise FrameRejected("corrupt_compressed", "JPEG data is truncated (no end-of-image marker)")
    try:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FrameRejected("corrupt_compressed", f"cannot decode {buf.size} bytes as {kind}")
        if bgr.shape[0] * bgr.shape[1] != w * h:      # (EXIF orientation may swap the sides)
            raise FrameRejected("corrupt_compressed", f"decoded {bgr.shape[1]}x{bgr.shape[0]}, header says {w}x{h}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    except cv2.error as e:
        raise FrameRejected("decode_failed", f"OpenCV could not decode the {kind}: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    """OpenCV's messages span lines and name its source files; the last line says what went wrong."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(e).__name__)[:200]
