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
