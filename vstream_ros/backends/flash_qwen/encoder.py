"""Frames -> the Flash Memory's two maps per frame, from Qwen2-VL's vision tower (preprocessing on its device).

Upstream runs the tower twice per frame (one pass, two attention sequences): on the frame at full
resolution and on the frame average-pooled 2x2 ("temporal_pool", which pools each merge window's four
14-pixel patches into one), and takes the features after the 32 blocks, before the patch merger. The
full map feeds the detail memory, the pooled one the synopsis memory. Both travel as one packed
[B, h + h/4, w, D] tensor (memory.flash_config.pack_frame_maps).

The tower's input is a temporal token of two frames (Qwen2-VL's temporal_patch_size): `encode` tiles each
frame into a token of its own (as Qwen2-VL's processor takes a lone frame, and upstream's streaming server
every frame after its first clip); `encode_pairs` and `encode_clip` put two consecutive distinct frames in
one token, as training and upstream's offline processor did (a clip of 240 frames is 120 tokens).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vstream_ros.backends.contract import Unannotated, Unobserved
from vstream_ros.backends.flash_qwen.configuration import PixelConfig
from vstream_ros.backends.flash_qwen.layout import clip_tokens, from_windows, patchify
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
        """uint8 [B, H, W, 3] -> packed maps [B, rows, cols, D], each frame its own (tiled) temporal token."""
        return self._tower(*self.preprocess(frames))

    @torch.inference_mode()
    def encode_pairs(self, first: torch.Tensor | np.ndarray, second: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Two uint8 [B, H, W, 3] batches, `second[b]` the frame after `first[b]` of one camera -> packed maps
        [B, rows, cols, D], frames b of both in one temporal token."""
        self._pairs_only()
        (f0, s0), (f1, s1) = self.preprocess(first), self.preprocess(second)
        return self._tower(torch.stack([f0, f1], 1), torch.stack([s0, s1], 1))

    @torch.inference_mode()
    def encode_clip(self, frames: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, list[tuple[int, ...]]]:
        """A whole clip at once (uint8 [N, H, W, 3], time order), as upstream's offline processor encodes a
        video: (packed maps [ceil(N/2), rows, cols, D], the frame indices of each token, layout.clip_tokens)."""
        self._pairs_only()
        tokens = clip_tokens(len(frames), self.pixels.temporal_patch_size)
        full, small = self.preprocess(frames)
        idx = torch.tensor(tokens, device=full.device)
        return self._tower(full[idx], small[idx]), tokens

    def _pairs_only(self) -> None:
        if self.pixels.temporal_patch_size != 2:
            raise ValueError(f"frames are paired for a temporal patch of 2, this tower's is "
                             f"{self.pixels.temporal_patch_size}")

    def _tower(self, full: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
        """Normalised pixels of B temporal tokens ([B, 3, h, w] tiled, or [B, 2, 3, h, w] frame pairs) at full and
        synopsis resolution -> packed maps [B, rows, cols, D]: one pass of the tower, each token its own
        attention sequence (as a video's temporal tokens are)."""
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
