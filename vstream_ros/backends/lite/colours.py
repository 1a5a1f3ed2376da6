"""Colour names measured from pixels: the eleven basic colour terms of English (Berlin and Kay), each
pixel named by its lightness, chroma and hue in CIELAB. No model: a colour in an answer is what the
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


# Each pixel is named by its lightness L, chroma C and hue h in CIELAB (LCh), the coordinates colour-naming
# studies draw the basic terms' regions in: below a chroma that grows with lightness (`_GREY_CHROMA`) a pixel is
# white, grey or black by its lightness; above it, its hue names it, and lightness and chroma split the hues that
# English names twice (light, soft red: pink; dark or dull orange: brown). Before, the nearest of a few prototype
# colours named each pixel, and a car of dull red paint in shade (100, 68, 77) lay nearer grey than red: on the
# tuning half's colour questions the colours named went from 5 of 16 right to 7 (bench/devset/README.md).
WHITE_L, BLACK_L = 78.0, 22.0            # lightness (0-100) of the achromatic names' borders
_GREY_CHROMA = (6.0, 0.25)              # a pixel is achromatic under max(6, 0.25 L) of chroma
# hue bands in degrees (CIELAB hue of the sRGB primaries: red 40, yellow 102, green 136, blue 306)
_RED, _ORANGE, _YELLOW, _GREEN, _BLUE, _PURPLE = 345.0, 48.0, 80.0, 105.0, 200.0, 300.0


def nearest_name(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB -> int8 [H, W] index into NAMES for every pixel (its region of LCh)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0] * (100.0 / 255.0)
    a, b = lab[..., 1] - 128.0, lab[..., 2] - 128.0
    chroma, hue = np.hypot(a, b), np.degrees(np.arctan2(b, a)) % 360.0
    ix = _INDEX
    out = np.full(light.shape, ix["grey"], np.int8)
    out[light >= WHITE_L] = ix["white"]
    out[light < BLACK_L] = ix["black"]
    named = np.full(light.shape, ix["blue"], np.int8)                       # 200-300 degrees
    red = (hue >= _RED) | (hue < _ORANGE)
    named[red] = np.where((light >= 60) & (chroma < 50), ix["pink"], ix["red"])[red]
    purple = (hue >= _PURPLE) & (hue < _RED)
    named[purple] = np.where(light >= 55, ix["pink"], ix["purple"])[purple]
    orange = (hue >= _ORANGE) & (hue < _YELLOW)
    named[orange] = np.where((light < 55) | (chroma < 40), ix["brown"], ix["orange"])[orange]
    yellow = (hue >= _YELLOW) & (hue < _GREEN)
    named[yellow] = np.where(chroma >= 45, ix["yellow"], np.where(hue < 95, ix["brown"], ix["green"]))[yellow]
    named[(hue >= _GREEN) & (hue < _BLUE)] = ix["green"]
    chromatic = chroma >= np.maximum(_GREY_CHROMA[0], _GREY_CHROMA[1] * light)
    out[chromatic] = named[chromatic]
    return out


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


ACHROMATIC = ("black", "white", "grey")
DOMINANT_SHARE = 0.15      # of a region's pixels, for a colour to be one of its main colours


def dominant(frac: np.ndarray, k: int = 2, least: float = DOMINANT_SHARE, chromatic_first: bool = True) -> list[str]:
    """The main colour names of a fractions vector: at most k, each covering at least `least`. With
    `chromatic_first`, a chromatic colour covering `least` comes before the greys (an object's paint
    matters more than its shadows and windows)."""
    order = np.argsort(-frac)
    names = [NAMES[i] for i in order if frac[i] >= least]
    if chromatic_first:
        chroma = [n for n in names if n not in ACHROMATIC]
        names = chroma + [n for n in names if n not in chroma]
    return names[:k]


def main_colour(frac: np.ndarray, chromatic_first: bool = True) -> tuple[str, float]:
    """The one colour an answer names for a fractions vector (summing to 1), and its share: `dominant`'s first,
    else the largest."""
    named = dominant(frac, k=1, chromatic_first=chromatic_first)
    name = named[0] if named else NAMES[int(np.argmax(frac))]
    return name, float(frac[_INDEX[name]])
