"""MediaPipe's single-shot detectors on the CPU, the palm detector (hands.py) and BlazeFace (faces.py): what they
share. A frame is letterboxed to a square input scaled to [-1, 1]; the network's outputs, one per SSD anchor,
decode to candidate boxes; each candidate is confirmed by a second model on a square crop about it (the hand
landmark model, the face mesh model), as MediaPipe's own pipelines do. A subclass says its files, how its
outputs decode to candidates, and how its confirming model keeps them."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import torch

from vstream_ros.backends.lite.detection import (
    FETCH_HINT,
    Detection,
    frame_batch,
    letterbox,
    model_dir,
    weights_present,
)
from vstream_ros.backends.lite.tfjs import GraphModel

INPUT_SIZE = 256                   # both detectors' square input


@functools.cache
def ssd_anchors(size: int, layers: tuple[tuple[int, int], ...]) -> np.ndarray:
    """MediaPipe's SSD anchors for a square input of `size` px and `layers` of (stride, anchors a cell): [N, 2],
    each anchor's centre (x, y) as fractions of the input, row by row, centred on their cells (the palm and face
    detectors' outputs come in this order)."""
    out = []
    for stride, per_cell in layers:
        side = size // stride
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) / side, (ys.ravel() + 0.5) / side], 1)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def square_crop(frame: np.ndarray, box: tuple[float, float, float, float], scale: float,
                size: int) -> tuple[np.ndarray, float, float, float]:
    """A square about a box (fractions of the frame), its longer side times `scale`, resized to size x size (as
    MediaPipe crops for its landmark models); and the square's side and centre in frame pixels."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    side = max(2, round(max((x1 - x0) * w, (y1 - y0) * h) * scale))
    cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
    crop = cv2.getRectSubPix(frame, (side, side), (cx, cy))
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), side, cx, cy


def signed_input(frame: np.ndarray, size: int) -> tuple[torch.Tensor, float, int, int]:
    """RGB uint8 [H, W, 3] -> MediaPipe's detector input: letterboxed to [1, size, size, 3] in [-1, 1]; and
    letterbox's scale and x, y offsets (for `unletterbox`)."""
    canvas, scale, x0, y0 = letterbox(frame, size, cv2.INTER_AREA)
    return torch.from_numpy(canvas).float().div_(127.5).sub_(1.0)[None], scale, x0, y0



class BlazeDetector:
    """`detect(frames)` -> per frame the confirmed Detections, best first. Subclasses set `FILES` (the detector's
    graph and weights, then its confirming model's), `NAME` (its ONNX export), `WHAT` (for errors), `PRESENCE`
    (the confirming model's class), `outputs` (the graph outputs `_candidates` reads) and `presence` (None:
    every candidate stands, in tests)."""

    FILES: tuple[str, ...] = ()
    NAME = WHAT = ""
    PRESENCE: type | None = None
    graph: GraphModel
    presence: object | None
    outputs: list[str]

    @classmethod
    def available(cls, folder: str | Path | None = None) -> bool:
        return weights_present(Path(folder) if folder else model_dir(), cls.FILES)

    @classmethod
    def load(cls, folder: str | Path | None = None, **kwargs):
        """The detector and its confirming model from `folder` (default: the model folder), in ONNX Runtime
        where it can run them (tfjs.GraphModel.fast)."""
        folder = Path(folder) if folder else model_dir()
        if not cls.available(folder):
            raise FileNotFoundError(f"{cls.WHAT}'s weights are not in {folder}: {FETCH_HINT}")
        detector = cls(GraphModel(folder / cls.FILES[0]), cls.PRESENCE.load(folder), **kwargs)
        detector.network = detector.graph.fast(cls.NAME, detector.outputs, torch.zeros(1, INPUT_SIZE, INPUT_SIZE, 3))
        return detector

    @torch.inference_mode()
    def detect(self, frames: np.ndarray | torch.Tensor) -> list[list[Detection]]:
        """uint8 RGB frames [B, H, W, 3] -> the confirmed detections of each frame, best first."""
        results = []
        for frame in frame_batch(frames):
            h, w = frame.shape[:2]
            x, scale, x0, y0 = signed_input(frame, INPUT_SIZE)
            found = self._candidates(self.network(x), scale, x0, y0, w, h)
            results.append(self._confirm(frame, found) if self.presence is not None else found)
        return results

    def _candidates(self, out: dict[str, torch.Tensor], scale: float, x0: int, y0: int, w: int,
                    h: int) -> list[Detection]:
        """The network's outputs -> candidates, best first, in fractions of the w x h frame."""
        raise NotImplementedError

    def _confirm(self, frame: np.ndarray, found: list[Detection]) -> list[Detection]:
        """The candidates the confirming model keeps, best first."""
        raise NotImplementedError
