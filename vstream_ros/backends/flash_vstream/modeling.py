"""The flash_vstream network: vision tower, projector, abstract-memory attention and LLaMA, with the
parameter layout of the released checkpoint. Weights and the forward pieces only: loading is in
loading.py, answering in answering.py."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers import CLIPVisionModel, LlamaForCausalLM

from vstream_ros.backends.flash_vstream.configuration import AbstractMemoryConfig, FlashVStreamConfig, ProjectorConfig
from vstream_ros.backends.flash_vstream.encoder import CLIPFrameEncoder
from vstream_ros.backends.flash_vstream.prompting import IMAGE_TOKEN_INDEX
from vstream_ros.backends.shared.tensors import attention_implementation


class MultimodalProjector(nn.Module):
    """mm_projector (`mlp2x_gelu`): memory tokens [N, D] -> LLM input embeddings [N, H].

    The release stores it as an nn.Sequential (`model.mm_projector.0.*`, `.2.*`); checkpoint.KEY_ROUTES
    maps those keys to linear_1 and linear_2."""

    def __init__(self, config: ProjectorConfig) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(config.input_dim, config.output_dim)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(config.output_dim, config.output_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(tokens)))


class AbstractMemoryAttention(nn.Module):
    """Upstream's abstract-memory module ("NeuralTuringMachine"), with its full parameter layout so
    the checkpoint loads whole. Only q_proj and k_proj take part in the update (the memory calls
    them); v_proj, out_proj and out_ln belong to a deprecated path and stay unused, as upstream."""

    def __init__(self, config: AbstractMemoryConfig) -> None:
        super().__init__()
        self.q_proj = nn.Linear(config.input_dim, config.hidden_dim)
        self.k_proj = nn.Linear(config.input_dim, config.hidden_dim)
        self.v_proj = nn.Linear(config.input_dim, config.hidden_dim)
        self.out_proj = nn.Linear(config.hidden_dim, config.input_dim)
        self.out_ln = nn.LayerNorm(config.input_dim, eps=config.layer_norm_eps)


class FlashVStreamModel(nn.Module):
    """Vision tower, projector, abstract-memory module and LLaMA, built from a FlashVStreamConfig."""

    def __init__(self, config: FlashVStreamConfig, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        device = torch.device(device)
        attn = attention_implementation(device)
        self.config = config
        with torch.device(device):
            self.vision_tower = CLIPVisionModel._from_config(config.vision, attn_implementation=attn, dtype=dtype)
            self.projector = MultimodalProjector(config.projector).to(dtype)
            self.attention_model = AbstractMemoryAttention(config.abstract).to(dtype)
            self.llm = LlamaForCausalLM._from_config(config.llm, attn_implementation=attn, dtype=dtype)
        self.eval().requires_grad_(False)
        self.device, self.dtype = device, dtype

    def encoder(self) -> CLIPFrameEncoder:
        return CLIPFrameEncoder(self.vision_tower, self.config.select_layer, self.config.encoder_id)

    def abstract_projections(self) -> tuple[nn.Module, nn.Module]:
        return self.attention_model.q_proj, self.attention_model.k_proj

    @torch.inference_mode()
    def embed_prompt(self, ids: Sequence[int], visual_tokens: torch.Tensor) -> torch.Tensor:
        """[1, L, H]: the text ids embedded, with the single IMAGE_TOKEN_INDEX replaced by
        projector(visual_tokens), row for row in the order given (A | T | R | S for one camera)."""
        where = [i for i, t in enumerate(ids) if t == IMAGE_TOKEN_INDEX]
        if len(where) != 1:
            raise ValueError(f"the prompt must hold one image placeholder, it holds {len(where)}")
        k = where[0]
        embed = self.llm.get_input_embeddings()

        def text(part: Sequence[int]) -> torch.Tensor:
            return embed(torch.tensor(list(part), dtype=torch.long, device=self.device))

        visual = self.projector(visual_tokens.to(self.device, self.dtype))
        return torch.cat([text(ids[:k]), visual, text(ids[k + 1:])])[None]
