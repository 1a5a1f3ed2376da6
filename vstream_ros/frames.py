"""What counts as a usable frame, in one place: the ROS image codec, the engine and the encoders all
check frames here, and every refusal carries the short reason it is counted under."""

from __future__ import annotations

import numpy as np

MIN_SIDE = 2          # a frame needs at least 2x2 pixels to pool into a patch grid


class FrameRejected(ValueError):
    """A frame that cannot be used; `reason` is the short name it is counted under."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def check_rgb(image: object) -> np.ndarray:
    """One frame as uint8 [H, W, 3] RGB, or FrameRejected saying what is wrong with it."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}"
        raise FrameRejected("bad_image", f"expected uint8 [H, W, 3] RGB, got {desc}")
    check_size(image.shape[1], image.shape[0])
    return image


def check_size(width: int, height: int, max_pixels: int | None = None) -> None:
    """Sizes a frame must have, known before any pixel is decoded (from a message or file header)."""
    if width < MIN_SIDE or height < MIN_SIDE:
        raise FrameRejected("zero_size", f"image of {width}x{height} pixels")
    if max_pixels is not None and width * height > max_pixels:
        raise FrameRejected("too_large", f"{width}x{height} exceeds {max_pixels} pixels")


def check_batch(shape: tuple[int, ...], dtype: object) -> None:
    """A batch of frames [B, H, W, 3] uint8, as the encoders take them (ValueError otherwise)."""
    if len(shape) != 4 or shape[-1] != 3 or str(dtype) not in ("uint8", "torch.uint8"):
        raise ValueError(f"frames must be uint8 [B, H, W, 3] RGB, got {dtype} {tuple(shape)}")
    if shape[1] < MIN_SIDE or shape[2] < MIN_SIDE:
        raise ValueError(f"frames are too small: {tuple(shape)}")


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the image size
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def compressed_size(data: bytes | memoryview) -> tuple[str, int, int]:
    """(format, width, height) from a JPEG or PNG header, read without decoding a pixel, so that a
    small file claiming a huge image is refused before the decoder allocates it. FrameRejected
    (corrupt_compressed) when the header is not that of a JPEG or PNG, or is cut short."""
    b = bytes(data[:8])
    if b == _PNG_SIGNATURE:
        head = bytes(data[8:24])
        if len(head) < 16 or head[4:8] != b"IHDR":
            raise FrameRejected("corrupt_compressed", "PNG without an IHDR header")
        return "png", int.from_bytes(head[8:12], "big"), int.from_bytes(head[12:16], "big")
    if b[:2] != b"\xff\xd8":
        raise FrameRejected("corrupt_compressed", "neither a JPEG nor a PNG")
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:                      # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):   # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2: i + 4], "big")
        if marker in _SOF:
            if i + 9 > n or length < 7:
                break
            return "jpeg", int.from_bytes(data[i + 7: i + 9], "big"), int.from_bytes(data[i + 5: i + 7], "big")
        if marker in (0xD9, 0xDA) or length < 2:   # end of image, or scan data before any frame header
            break
        i += 2 + length
    raise FrameRejected("corrupt_compressed", "JPEG without a frame header (SOF) giving its size")
