"""The flash_vstream_qwen network: transformers' Qwen2VLForConditionalGeneration (vision tower, patch
merger, language model), and how a prompt with memories becomes its input embeddings and M-RoPE
positions. Weights and the forward pieces only: loading is in loading.py, answering in answering.py.
The Flash Memory has no parameters (upstream's FlashMemory module has none either)."""

from __future__ import annotations

import torch
from torch import nn
from transformers import Qwen2VLForConditionalGeneration

from vstream_ros.backends.flash_qwen.configuration import FlashQwenConfig
from vstream_ros.backends.flash_qwen.encoder import QwenFrameEncoder
from vstream_ros.backends.flash_qwen.layout import to_windows
from vstream_ros.backends.flash_qwen.positions import block_positions, group_grid, time_indices
from vstream_ros.backends.flash_qwen.prompting import Prompt
from vstream_ros.backends.shared.budget import camera_blocks
from vstream_ros.backends.shared.tensors import attention_implementation
from vstream_ros.memory import MemoryRead, TokenGroup


class FlashQwenModel(nn.Module):
    """Qwen2-VL built from a FlashQwenConfig; `qwen` holds the parameters in transformers' layout."""

    def __init__(self, config: FlashQwenConfig, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        device = torch.device(device)
        self.config = config
        with torch.device(device):
            self.qwen = Qwen2VLForConditionalGeneration._from_config(
                config.qwen, attn_implementation=attention_implementation(device), dtype=dtype)
        self.eval().requires_grad_(False)
        self.device, self.dtype = device, dtype

    @property
    def visual(self) -> nn.Module:
        return self.qwen.model.visual

    @property
    def merge(self) -> int:
        return self.config.qwen.vision_config.spatial_merge_size

    def encoder(self) -> QwenFrameEncoder:
        return QwenFrameEncoder(self.visual, self.config.pixels, self.config.encoder_id)

    @torch.inference_mode()
    def project(self, read: MemoryRead, groups: list[TokenGroup] | None = None) -> torch.Tensor:
        """Groups' maps (default: all of the read's, in order) through the patch merger: [merged tokens, H]."""
        m = self.merge
        parts = []
        for g in read.groups if groups is None else groups:
            group_grid(g, m)
            parts.append(to_windows(read.group_tokens(g).reshape(*g.grid, -1), m))
        if not parts:
            return torch.zeros(0, self.config.qwen.text_config.hidden_size, device=self.device, dtype=self.dtype)
        return self.visual.merger(torch.cat(parts).to(self.device, self.dtype))

    @torch.inference_mode()
    def embed_prompt(self, prompt: Prompt, read: MemoryRead,
                     frame_interval: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Input embeddings [1, L, H] and M-RoPE positions [3, 1, L] of the prompt with each camera's memory
        (its groups in read order) where its name stands (see positions.py)."""
        blocks = camera_blocks(read)
        embed = self.qwen.get_input_embeddings()
        span = self.config.answer.temporal_positions
        token_interval = frame_interval * self.config.pixels.temporal_patch_size     # training's clock
        parts, positions, cursor = [], [], 0
        for piece in prompt.pieces:
            if isinstance(piece, list):
                parts.append(embed(torch.tensor(piece, dtype=torch.long, device=self.device)))
                positions.append(torch.arange(cursor, cursor + len(piece)).expand(3, -1))
                cursor += len(piece)
                continue
            groups = blocks[piece]
            parts.append(self.project(read, groups))
            pos, cursor = block_positions(groups, time_indices(groups, token_interval, span), self.merge, cursor)
            positions.append(pos)
        return torch.cat(parts)[None], torch.cat(positions, dim=1)[:, None].to(self.device)
