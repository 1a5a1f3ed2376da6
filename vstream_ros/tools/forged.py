"""Compressed frames whose headers lie about their size: what used to kill the node (issue 16), for the
stress bench and the tests. The decoder must refuse them from the header, before allocating."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np


def png_claiming(w: int, h: int, body: bytes = b"\x00" * 16) -> bytes:
    """A PNG whose IHDR claims w x h; its pixel data is whatever `body` compresses to (by default far
    too little for the size claimed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b""))


def jpeg_claiming(w: int, h: int) -> bytes:
    """A real 64x48 JPEG whose frame header (SOF0) is rewritten to claim w x h."""
    data = bytearray(cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes())
    i = data.find(b"\xff\xc0")
    data[i + 5: i + 9] = struct.pack(">HH", h, w)
    return bytes(data)
