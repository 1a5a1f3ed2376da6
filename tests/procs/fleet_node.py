"""A vstream node whose backend names what it sees, for the fleet test: `fleet_node.py ROS_ARGS...` runs
vstream_ros.ros.node with a small real backend registered as "toy" (quadrant means; a frame whose red
channel dominates is a "red toolbox"), so its closed runs become sightings in the index. The tiny
backend recognises nothing, so it cannot be the robot that saw something."""

import sys
from dataclasses import replace

import numpy as np
import torch

from vstream_ros.backends.contract import Answer, Backend, Located
from vstream_ros.backends.contract import Answerer as AnswererContract
from vstream_ros.backends.registry import BackendSpec, Supports, register
from vstream_ros.memory import MemoryConfig
from vstream_ros.ros.node import main


class Encoder:
    id, dim, feature_grid = "toy:quadrants", 3, (2, 2)
    device, dtype = torch.device("cpu"), torch.float32
    annotation_names = ("red toolbox",)

    def encode(self, frames):
        x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
        return torch.nn.functional.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1) / 255.0

    def annotate(self, frames, features):
        f = np.asarray(frames, np.float32)
        red = (f[..., 0].mean((1, 2)) > 150) & (f[..., 1].mean((1, 2)) < 100)
        return torch.as_tensor(red[:, None], dtype=torch.float32)


class Answerer(AnswererContract):
    def abstract_projections(self):
        return None, None

    def name_run(self, peak):
        return (["red toolbox"], ["red"]) if peak[0] >= 0.5 else ([], [])

    def answer(self, memory, question, max_new_tokens, cancel=None):
        return Answer(iter(["-"]), [])

    def locate(self, memory, phrase, frame_interval, window=None):
        return Located([replace(g, start=r.start, end=r.end, runs=(r,), label="red toolbox")
                        for g in memory.groups if g.kind == "temporal" for r in g.runs
                        if r.peak is not None and r.peak[0] >= 0.5])


def load_toy(**_) -> Backend:
    return Backend("toy", Encoder(), Answerer(), MemoryConfig())


if __name__ == "__main__":
    register(BackendSpec("toy", "names red frames: the fleet test", load_toy, (), supports=Supports(annotate=True,
                                                                                                    locate=True)))
    sys.exit(main(sys.argv[1:]))
