"""A small real backend for the sightings-index tests (in-process and in a node process): quadrant means
as features, and a frame is a "red toolbox" when a rule on its pixels says so, so its closed runs become
sightings. The tiny backend recognises nothing, so it cannot be the robot that saw something."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from vstream_ros.backends.contract import Answer, Backend, Located, Unobserved
from vstream_ros.backends.contract import Answerer as AnswererContract
from vstream_ros.memory import MemoryConfig

LABEL = "red toolbox"


def bright(frames: np.ndarray) -> np.ndarray:
    return np.asarray(frames).reshape(len(frames), -1).mean(1) >= 200


def red(frames: np.ndarray) -> np.ndarray:
    f = np.asarray(frames, np.float32)
    return (f[..., 0].mean((1, 2)) > 150) & (f[..., 1].mean((1, 2)) < 100)


class Encoder(Unobserved):          # follows nothing over time (contract.Unobserved)
    id, dim, feature_grid = "toy:quadrants", 3, (2, 2)
    device, dtype = torch.device("cpu"), torch.float32
    annotation_names = (LABEL,)

    def __init__(self, is_toolbox: Callable[[np.ndarray], np.ndarray]) -> None:
        self.is_toolbox = is_toolbox

    def encode(self, frames):
        x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
        return torch.nn.functional.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1) / 255.0

    def annotate(self, frames, features):
        return torch.as_tensor(self.is_toolbox(frames)[:, None], dtype=torch.float32)


class Answerer(AnswererContract):
    def abstract_projections(self):
        return None, None

    def name_run(self, peak):
        return ([LABEL], ["red"]) if peak[0] >= 0.5 else ([], [])

    def answer(self, memory, question, max_new_tokens, cancel=None):
        return Answer(iter(["-"]), [])

    def locate(self, memory, phrase, frame_interval, window=None):
        return Located([replace(g, start=r.start, end=r.end, runs=(r,), label=LABEL)
                        for g in memory.groups if g.kind == "temporal" for r in g.runs
                        if r.peak is not None and r.peak[0] >= 0.5 and (window is None or r.end >= window[0])])


def toy_backend(is_toolbox: Callable[[np.ndarray], np.ndarray] = bright, **_) -> Backend:
    return Backend("toy", Encoder(is_toolbox), Answerer(), MemoryConfig())
