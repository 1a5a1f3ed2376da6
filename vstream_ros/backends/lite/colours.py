"""Colour names measured from pixels: the eleven basic colour terms of English (Berlin and Kay), each
pixel named after its nearest prototype colour in CIELAB. No model: a colour in an answer is what the
pixels of the evidence frame show, as a fraction of the region it was measured on."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from vstream_ros.answering.words import BASIC_COLOURS, COLOUR_SYNONYMS

NAMES = BASIC_COLOURS
SYNONYMS = COLOUR_SYNONYMS
_INDEX = {n: i for i, n in enumerate(NAMES)}


def canonical(word: str) -> str | None:
    w = word.lower()
    w = SYNONYMS.get(w, w)
    return w if w in _INDEX else None


# sRGB prototypes of the basic colours, compared in CIELAB (perceptual distance): a dark navy shirt in
# shade is nearer black than blue, as people name it; a dull red (hue about 20 degrees) stays red, brown
# begins towards orange (hue 50-65 degrees)
PROTOTYPES = {
    "black": ((20, 20, 20), (35, 35, 45)),
    "white": ((245, 245, 245), (215, 215, 210)),
    "grey": ((128, 128, 128), (90, 90, 95), (170, 170, 170)),
    "red": ((200, 30, 35), (140, 20, 25), (130, 60, 65)),       # the last: red paint at dusk, not brown
    "orange": ((245, 135, 20), (210, 110, 40)),
    "yellow": ((240, 220, 50), (220, 190, 40)),
    "green": ((45, 150, 60), (30, 75, 40), (120, 170, 90)),
    "blue": ((40, 80, 200), (60, 85, 130), (30, 45, 100), (100, 150, 220)),
    "purple": ((120, 50, 150), (90, 40, 110)),
    "pink": ((240, 135, 180), (220, 120, 150)),
    "brown": ((125, 75, 35), (90, 60, 35), (180, 130, 90)),
}
_PROTO_NAME = np.array([NAMES.index(n) for n in NAMES for _ in PROTOTYPES[n]], np.int8)
_PROTO_LAB = cv2.cvtColor(np.array([[p for n in NAMES for p in PROTOTYPES[n]]], np.uint8),
                          cv2.COLOR_RGB2LAB)[0].astype(np.float32)


def nearest_name(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB -> int8 [H, W] index into NAMES for every pixel (nearest prototype in CIELAB)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = ((lab[..., None, :] - _PROTO_LAB) ** 2).sum(-1)
    return _PROTO_NAME[d.argmin(-1)]


# nearest_name of every colour at 6 bits a channel (the centre of each 4x4x4 cube of 8-bit colours), so that
# naming a pixel is one lookup: about 3 ms of CPU a box before, 0.1 ms now (lite names ~10 regions a frame)
@functools.cache
def _lut() -> np.ndarray:
    """int8 [64, 64, 64]: built on first use (about 0.4 s), one red level at a time (the whole cube at once
    held ~180 MB of distances)."""
    levels = np.arange(2, 256, 4, dtype=np.uint8)
    gb = np.stack(np.meshgrid(levels, levels, indexing="ij"), -1)      # [64, 64, 2]: (green, blue)
    return np.stack([nearest_name(np.concatenate([np.full((64, 64, 1), r, np.uint8), gb], -1)) for r in levels])


def name_map(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB -> int8 [H, W] index into NAMES for every pixel: `nearest_name` at 6 bits a channel."""
    q = rgb >> 2
    return _lut()[q[..., 0], q[..., 1], q[..., 2]]


def fractions(rgb: np.ndarray, box: tuple[float, float, float, float] | None = None, inner: float = 1.0) -> np.ndarray:
    """Fraction of pixels of each colour name, over the frame or a box (x0, y0, x1, y1 in 0..1); `inner`
    keeps the central part of the box (an object's own colour rather than its background)."""
    img = rgb
    if box is not None:
        H, W = rgb.shape[:2]
        x0, y0, x1, y1 = box
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * inner / 2, (y1 - y0) * inner / 2
        a, b = int(max(0, (cy - hh) * H)), int(min(H, (cy + hh) * H))
        c, d = int(max(0, (cx - hw) * W)), int(min(W, (cx + hw) * W))
        img = rgb[a:b, c:d]
    if img.size == 0:
        return np.zeros(len(NAMES), np.float32)
    small = img if img.shape[0] * img.shape[1] <= 4096 else cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
    counts = np.bincount(name_map(np.ascontiguousarray(small)).ravel(), minlength=len(NAMES))
    return (counts / max(1, counts.sum())).astype(np.float32)


def dominant(frac: np.ndarray, k: int = 2, least: float = 0.15, chromatic_first: bool = True) -> list[str]:
    """The main colour names of a fractions vector: at most k, each covering at least `least`. With
    `chromatic_first`, a chromatic colour covering `least` comes before the greys (an object's paint
    matters more than its shadows and windows)."""
    order = np.argsort(-frac)
    names = [NAMES[i] for i in order if frac[i] >= least]
    if chromatic_first:
        chroma = [n for n in names if n not in ("black", "white", "grey")]
        names = chroma + [n for n in names if n not in chroma]
    return names[:k]
