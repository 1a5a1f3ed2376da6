"""A real STARMemory fed a hand-written script: one frame a second, each with its annotation, features
of its scene (one random scene per key, plus a little noise), the robot driving along x."""

from __future__ import annotations

import numpy as np
import torch

from vstream_ros.backends.lite.vision import LAYOUT
from vstream_ros.memory import MemoryConfig, MemoryRead, STARMemory


def scripted_read(annotations: list[np.ndarray], keys: list, t0: float, temporal_slots: int,
                  y: float = 0.0) -> tuple[MemoryRead, float]:
    """The memory's read and frame interval after frame t (annotation t, scene keys[t]) at t0 + t s."""
    g = torch.Generator().manual_seed(0)
    mem = STARMemory(MemoryConfig(temporal_slots=temporal_slots, abstract_slots=4, retrieved_frames=2), 16, (2, 2),
                     annotation_dim=LAYOUT.size)
    scenes = {}
    for t, (a, key) in enumerate(zip(annotations, keys, strict=True)):
        scenes.setdefault(key, torch.randn(2, 2, 16, generator=g) * 3)
        pose = torch.tensor([[float(t), y, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]])
        mem.update(scenes[key] + 0.1 * torch.randn(2, 2, 16, generator=g), t0 + t, torch.from_numpy(a)[None], pose)
    return mem.read(), mem.frame_interval
