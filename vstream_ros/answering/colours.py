"""Colour names measured from pixels: the eleven basic colour terms of English (Berlin and Kay), read
off hue, saturation and value. No model: a colour in an answer is what the pixels of the evidence
frame show, as a fraction of the region it was measured on."""

from __future__ import annotations

import cv2
import numpy as np

NAMES = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
# words people use for a basic colour
SYNONYMS = {"gray": "grey", "silver": "grey", "navy": "blue", "cyan": "blue", "turquoise": "blue", "violet": "purple",
            "maroon": "red", "beige": "brown", "tan": "brown", "gold": "yellow", "magenta": "pink"}
# hue (OpenCV 0..180) upper bounds of the chromatic names, in order round the circle
_HUES = ((8, "red"), (20, "orange"), (33, "yellow"), (85, "green"), (130, "blue"), (150, "purple"), (170, "pink"),
         (181, "red"))
_INDEX = {n: i for i, n in enumerate(NAMES)}


def canonical(word: str) -> str | None:
    w = word.lower()
    w = SYNONYMS.get(w, w)
    return w if w in _INDEX else None


def name_map(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB -> int8 [H, W] index into NAMES for every pixel."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h, s, v = (hsv[..., k].astype(np.int16) for k in range(3))
    out = np.full(h.shape, _INDEX["grey"], np.int8)
    chroma = (s >= 60) & (v >= 50)
    lo = 0
    for hi, name in _HUES:
        out[chroma & (h >= lo) & (h < hi)] = _INDEX[name]
        lo = hi
    brownish = chroma & (h < 25) & (v < 150) & (s >= 60)            # dark orange and dark red read as brown
    out[brownish] = _INDEX["brown"]
    dull = ~chroma
    out[dull & (v >= 190) & (s < 40)] = _INDEX["white"]
    out[dull & (v < 50)] = _INDEX["black"]
    out[chroma & (v < 50)] = _INDEX["black"]
    return out


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
