"""CLIP frames -> patch features for the memory, preprocessing done on the tower's device."""

from __future__ import annotations

import numpy as np
import torch
from transformers import CLIPVisionModel

from vstream_ros.backends.contract import Unannotated, Unobserved
from vstream_ros.backends.shared.tensors import resize_center_crop, to_uint8_batch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class CLIPFrameEncoder(Unannotated, Unobserved):
    """Frames -> CLIP patch features of the selected layer, [B, g, g, D] in row-major patch order.

    Preprocessing is CLIPImageProcessor's geometry (shortest side to the tower's size, centre crop)
    and normalisation, on tensors."""

    def __init__(self, tower: CLIPVisionModel, select_layer: int, encoder_id: str) -> None:
        cfg = tower.config
        self.tower = tower
        self.select_layer = select_layer
        self.id = encoder_id
        self.dim = cfg.hidden_size
        self.image_size = cfg.image_size
        g = cfg.image_size // cfg.patch_size
        self.feature_grid = (g, g)
        p = next(tower.parameters())
        self.device, self.dtype = p.device, p.dtype
        self._mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = to_uint8_batch(frames, self.device).permute(0, 3, 1, 2).float() / 255.0
        x = resize_center_crop(x, self.image_size).clamp_(0.0, 1.0)
        return ((x - self._mean) / self._std).to(self.dtype)

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        out = self.tower(pixel_values=self.preprocess(frames), output_hidden_states=True)
        patches = out.hidden_states[self.select_layer][:, 1:]       # drop CLS
        b, n, d = patches.shape
        return patches.reshape(b, *self.feature_grid, d)
