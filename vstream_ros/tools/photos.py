"""A camera stream made of real photographs that ship in installed packages (scikit-image's data
images, scikit-learn's sample images), each shown for a known span with camera-like jitter and noise."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

# (name, loader, what EfficientNet-Lite0 calls it)
PHOTOS = (
    ("cat", "skimage:chelsea", "Egyptian cat / tabby"),
    ("coffee", "skimage:coffee", "espresso / cup"),
    ("rocket", "skimage:rocket", "missile / projectile"),
    ("astronaut", "skimage:astronaut", "(no ImageNet class: bobsled?)"),
    ("temple", "sklearn:china.jpg", "palace / bell cote"),
    ("flower", "sklearn:flower.jpg", "daisy"),
)


def load_photo(source: str) -> np.ndarray:
    kind, name = source.split(":")
    if kind == "skimage":
        from skimage import data

        return getattr(data, name)()
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


@dataclass(frozen=True)
class Shown:
    name: str
    start: float
    end: float          # exclusive: the next photo's start


def schedule(t0: float, seconds_each: float, names: list[str] | None = None) -> list[Shown]:
    names = names or [p[0] for p in PHOTOS]
    return [Shown(n, t0 + i * seconds_each, t0 + (i + 1) * seconds_each) for i, n in enumerate(names)]


def photo_frames(shows: list[Shown], fps: float, size: tuple[int, int] = (480, 640),
                 seed: int = 0) -> Iterator[tuple[float, np.ndarray]]:
    """(stamp, rgb frame) at `fps`: each photo resized to fill the frame, with a slow drift (hand-held
    camera), a little zoom wobble and sensor noise."""
    rng = np.random.default_rng(seed)
    sources = {p[0]: p[1] for p in PHOTOS}
    for show in shows:
        img = load_photo(sources[show.name])
        n = max(1, round((show.end - show.start) * fps))
        for i in range(n):
            yield show.start + i / fps, hand_held(img, i, size, rng)


def hand_held(img: np.ndarray, i: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Frame i of a photo filmed by a hand-held camera: resized to fill `size`, drifting, zooming a
    little, with sensor noise."""
    h, w = size
    zoom = 1.08 + 0.04 * np.sin(i / 7.0)
    dx, dy = 10 * np.sin(i / 11.0), 8 * np.cos(i / 13.0)
    scale = zoom * max(h / img.shape[0], w / img.shape[1])
    m = np.float32([[scale, 0, w / 2 - scale * img.shape[1] / 2 + dx],
                    [0, scale, h / 2 - scale * img.shape[0] / 2 + dy]])
    frame = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    return np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
