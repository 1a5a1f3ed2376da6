"""Frames -> the Flash Memory's two maps per frame, from Qwen2-VL's vision tower (preprocessing on its device).

Upstream runs the tower twice per frame (one pass, two attention sequences): on the frame at full
resolution and on the frame average-pooled 2x2 ("temporal_pool", which pools each merge window's four
14-pixel patches into one), and takes the features after the 32 blocks, before the patch merger. The
full map feeds the detail memory, the pooled one the synopsis memory. Both travel as one packed
[B, h + h/4, w, D] tensor (memory.flash_config.pack_frame_maps).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vstream_ros.backends.contract import Unannotated, Unobserved
from vstream_ros.backends.flash_qwen.configuration import PixelConfig
from vstream_ros.backends.flash_qwen.layout import from_windows, patchify
from vstream_ros.backends.shared.tensors import to_uint8_batch
from vstream_ros.memory import FlashMemoryConfig
from vstream_ros.memory.flash_config import pack_frame_maps


class QwenFrameEncoder(Unannotated, Unobserved):
    """Any frame size: each frame is resized (aspect kept) to the pixel budget's multiple of 56 pixels, so
    one camera always gives one grid. `feature_grid` is the packed grid of a square frame at the budget."""

    def __init__(self, visual: nn.Module, pixels: PixelConfig, encoder_id: str) -> None:
        self.visual = visual
        self.pixels = pixels
        self.id = encoder_id
        self.dim = visual.config.embed_dim
        p = next(visual.parameters())
        self.device, self.dtype = p.device, p.dtype
        self._packing = FlashMemoryConfig(synopsis_pool=pixels.pool)
        side = 1 << 14
        self.feature_grid = self._packing.packed_grid(pixels.full_grid(side, side))
        self._mean = torch.tensor(pixels.image_mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(pixels.image_std, device=self.device).view(1, 3, 1, 1)

    def grid_for(self, height: int, width: int) -> tuple[int, int]:
        """The packed feature grid of a camera with frames of this size."""
        return self._packing.packed_grid(self.pixels.full_grid(height, width))

    def preprocess(self, frames: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 [B, H, W, 3] -> normalised float (full [B, 3, h, w], synopsis [B, 3, h/pool, w/pool])."""
        x = to_uint8_batch(frames, self.device).permute(0, 3, 1, 2).float()
        for size in self.pixels.resize_steps(*x.shape[-2:]):      # upstream's two resizes, 8-bit between
            if tuple(x.shape[-2:]) != size:
                x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
                x = x.round_().clamp_(0.0, 255.0)
        x = (x / 255.0 - self._mean) / self._std
        pool = self.pixels.pool
        return x, (F.avg_pool2d(x, pool) if pool > 1 else x)

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        full, small = self.preprocess(frames)
        px = self.pixels
        b = full.shape[0]
        grids = [(full.shape[-2] // px.patch_size, full.shape[-1] // px.patch_size),
                 (small.shape[-2] // px.patch_size, small.shape[-1] // px.patch_size)]
        patches = torch.cat([patchify(x, px.patch_size, px.merge_size, px.temporal_patch_size).flatten(0, 1)
                             for x in (full, small)])
        grid_thw = torch.tensor([[1, *g] for g in grids for _ in range(b)], device=self.device)
        out = self.visual(patches.to(self.dtype), grid_thw=grid_thw).last_hidden_state
        n_full = grids[0][0] * grids[0][1]
        maps = [from_windows(part.reshape(b, -1, self.dim), *g, px.merge_size)
                for part, g in zip((out[: b * n_full], out[b * n_full:]), grids, strict=True)]
        return pack_frame_maps(*maps)
