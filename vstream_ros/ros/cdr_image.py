"""sensor_msgs Image / CompressedImage read from their serialized CDR bytes (a `raw=True` subscription).

Why: rclpy turns every message into Python objects, the ~1 MB pixel array included, although the sampler
keeps one or two frames a second of a 30 Hz camera. Here only the header fields are parsed (a few
struct reads); the pixels stay a zero-copy view of the received bytes, read in place for a thumbnail
and converted only for a frame that is due. The views have the attributes the checks and decoders of
image_codec.py read, so every malformed frame is refused for the same reason as a deserialized one.

Plain CDR, either byte order (XCDR1 and XCDR2 lay these final types out the same: no field is wider
than 4 bytes). Anything else, or bytes that do not parse, returns None: the caller deserializes the
message the ordinary way (rclpy.serialization), so an unusual writer costs speed, never correctness.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# encapsulation id -> struct byte order: CDR_BE, CDR_LE, PLAIN_CDR2_BE, PLAIN_CDR2_LE
_ORDER = {b"\x00\x00": ">", b"\x00\x01": "<", b"\x00\x06": ">", b"\x00\x07": "<"}


@dataclass(frozen=True, slots=True)
class Stamp:
    sec: int
    nanosec: int


@dataclass(frozen=True, slots=True)
class Header:
    stamp: Stamp
    frame_id: str


@dataclass(frozen=True, slots=True)
class RawImage:
    """The fields of a sensor_msgs/Image; `data` is a view of the serialized bytes (no copy)."""

    header: Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


@dataclass(frozen=True, slots=True)
class RawCompressedImage:
    """The fields of a sensor_msgs/CompressedImage; `data` is a view of the serialized bytes."""

    header: Header
    format: str
    data: memoryview


class _Reader:
    """Sequential CDR reads; alignment counts from the end of the 4-byte encapsulation header."""

    def __init__(self, buf: memoryview, order: str) -> None:
        self.buf, self.pos = buf, 4
        self._u32 = struct.Struct(order + "I")
        self._i32 = struct.Struct(order + "i")

    def _align4(self) -> None:
        self.pos += -(self.pos - 4) % 4

    def u32(self) -> int:
        self._align4()
        (v,) = self._u32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def i32(self) -> int:
        self._align4()
        (v,) = self._i32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def u8(self) -> int:
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def string(self) -> str:
        n = self.u32()                           # with its terminating NUL
        raw = self.buf[self.pos: self.pos + n]
        if n == 0 or len(raw) != n or raw[n - 1] != 0:
            raise ValueError("bad string")
        self.pos += n
        return bytes(raw[: n - 1]).decode()

    def octets(self) -> memoryview:
        n = self.u32()
        if self.pos + n > len(self.buf):
            raise ValueError("sequence runs past the message")
        view = self.buf[self.pos: self.pos + n]
        self.pos += n
        return view

    def header(self) -> Header:
        sec, nanosec = self.i32(), self.u32()
        return Header(Stamp(sec, nanosec), self.string())


def _reader(data: bytes) -> _Reader | None:
    buf = memoryview(data)
    order = _ORDER.get(bytes(buf[:2]))
    return None if order is None else _Reader(buf, order)


def parse_image(data: bytes) -> RawImage | None:
    """A serialized sensor_msgs/Image's fields (pixels as a view); None when they do not parse."""
    r = _reader(data)
    if r is None:
        return None
    try:
        header = r.header()
        height, width = r.u32(), r.u32()
        encoding = r.string()
        big = r.u8()
        step = r.u32()
        return RawImage(header, height, width, encoding, big, step, r.octets())
    except (ValueError, struct.error, IndexError, UnicodeDecodeError):
        return None


def parse_compressed(data: bytes) -> RawCompressedImage | None:
    """A serialized sensor_msgs/CompressedImage's fields (the file's bytes as a view); None when they do not parse."""
    r = _reader(data)
    if r is None:
        return None
    try:
        header = r.header()
        fmt = r.string()
        return RawCompressedImage(header, fmt, r.octets())
    except (ValueError, struct.error, IndexError, UnicodeDecodeError):
        return None
