"""Typed settings of the flash_vstream model, one class per role, read from the released config.json.

The release (IVGSZ/Flash-VStream-7b) keeps its settings as flat LLaVA-style keys next to LLaMA's
(`mm_*`, `compress_*`, `video_*`). `FlashVStreamConfig.from_released` reads them once, checks the ones
this implementation depends on, and hands each part its own small config; nothing reads the dict later.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import CLIPVisionConfig, LlamaConfig

from vstream_ros.backends.shared.checkpoint import CheckpointError
from vstream_ros.memory import MemoryConfig

# Vision towers named by the released config; their shapes, for building the tower from checkpoint keys.
KNOWN_TOWERS = {
    "openai/clip-vit-large-patch14": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                          num_attention_heads=16, image_size=224, patch_size=14,
                                          projection_dim=768, hidden_act="quick_gelu"),
    "openai/clip-vit-large-patch14-336": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                              num_attention_heads=16, image_size=336, patch_size=14,
                                              projection_dim=768, hidden_act="quick_gelu"),
}
# Released keys that must hold these values: the prompt layout and the memory depend on them.
REQUIRED = {
    "mm_projector_type": "mlp2x_gelu",     # the only projector the release uses
    "mm_vision_select_feature": "patch",   # CLS dropped
    "mm_use_im_start_end": False,          # no <im_start>/<im_end> around the visual tokens
    "mm_use_im_patch_token": False,        # no <im_patch> tokens added to the vocabulary
    "mm_use_4_vision_tokens": False,       # 2x2 patch concatenation (would make the projector 4x wider)
    "compress_type": "mean",               # average pooling
    "compress_Turing_memory_size": 1,      # one token per abstract slot
    "video_sample_type": "weighted_kmeans",
}
MM_PREFIXES = ("mm_", "compress_", "video_")


@dataclass(frozen=True)
class ProjectorConfig:
    """The mm_projector (`mlp2x_gelu`): Linear(input_dim, output_dim), GELU, Linear(output_dim, output_dim)."""

    input_dim: int = 1024        # mm_hidden_size: the vision tower's width
    output_dim: int = 4096       # the LLM's hidden size


@dataclass(frozen=True)
class AbstractMemoryConfig:
    """The abstract-memory attention module ("NeuralTuringMachine"): q/k projections D -> hidden_dim."""

    input_dim: int = 1024
    hidden_dim: int = 32          # compress_Turing_hidden_dim; absent from the release, upstream's default
    layer_norm_eps: float = 1e-12  # out_ln (unused by the update, kept so the checkpoint loads whole)


@dataclass(frozen=True)
class AnswerConfig:
    """How answers are generated. Defaults are upstream's streaming CLI (serve/cli_video_stream.py,
    scripts/realtime_cli.sh): greedy (temperature 0), at most 512 new tokens, stop at EOS or "</s>"."""

    max_new_tokens: int = 512
    stop_strings: tuple[str, ...] = ("</s>",)     # vicuna_v1's sep2, matched in the decoded text too
    context_tokens: int = 2048     # tokenizer_model_max_length: the prompt length the model was trained on


@dataclass(frozen=True)
class FlashVStreamConfig:
    """Everything the model is built from: the two transformers configs and one config per part."""

    llm: LlamaConfig
    vision: CLIPVisionConfig
    projector: ProjectorConfig
    abstract: AbstractMemoryConfig
    memory: MemoryConfig
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    vision_tower_name: str = "openai/clip-vit-large-patch14"
    select_layer: int = -2        # mm_vision_select_layer: the penultimate layer
    encoder_id: str = ""          # names the features a memory snapshot holds

    @classmethod
    def from_released(cls, cfg: dict, vision: CLIPVisionConfig) -> FlashVStreamConfig:
        """Read a released-style config.json dict. Absent Flash-VStream keys take the release's values;
        a key whose value changes the prompt layout or the memory raises CheckpointError."""
        for key, want in REQUIRED.items():
            if key in cfg and cfg[key] != want:
                raise CheckpointError(f"config.json has {key}={cfg[key]!r}; this implementation supports {want!r}")
        llm = LlamaConfig(**{k: v for k, v in cfg.items()
                             if not k.startswith(MM_PREFIXES) and k not in ("architectures", "model_type", "auto_map",
                                                                           "vision_config", "encoder_id")})
        mm_hidden = int(cfg.get("mm_hidden_size", vision.hidden_size))
        if mm_hidden != vision.hidden_size:
            raise CheckpointError(f"mm_hidden_size {mm_hidden} differs from the vision tower's width "
                                  f"{vision.hidden_size}")
        abstract = AbstractMemoryConfig(mm_hidden, int(cfg.get("compress_Turing_hidden_dim", 32)))
        memory = MemoryConfig(
            spatial_frames=int(cfg.get("video_current_memory_length", 1)),
            spatial_size=int(cfg.get("compress_size", 8)),
            temporal_slots=int(cfg.get("video_long_memory_length", 25)),
            temporal_size=int(cfg.get("compress_long_memory_size", 4)),
            abstract_slots=int(cfg.get("video_Turing_memory_length", 25)),
            abstract_update_ratio=float(cfg.get("compress_Turing_update_ratio", 0.2)),
            abstract_hidden=abstract.hidden_dim,
            retrieved_frames=3,   # upstream's hard-coded key_length
        )
        tower = str(cfg.get("mm_vision_tower", "unknown"))
        select_layer = int(cfg.get("mm_vision_select_layer", -2))
        context = int(cfg.get("tokenizer_model_max_length") or llm.max_position_embeddings)
        return cls(llm=llm, vision=vision, projector=ProjectorConfig(mm_hidden, llm.hidden_size), abstract=abstract,
                   memory=memory, answer=AnswerConfig(context_tokens=context), vision_tower_name=tower,
                   select_layer=select_layer,
                   encoder_id=str(cfg.get("encoder_id") or f"clip:{tower}:layer{select_layer}"))

    def with_memory(self, **overrides: int | float) -> FlashVStreamConfig:
        """The same config with some memory sizes replaced (MemoryConfig field names)."""
        return dataclasses.replace(self, memory=dataclasses.replace(self.memory, **overrides)) if overrides else self


@dataclass(frozen=True)
class LoaderConfig:
    """How to load a checkpoint folder: where to, in what precision, and how forgiving to be."""

    device: str | torch.device = "auto"          # auto: CUDA when available
    dtype: str | torch.dtype = "auto"            # auto: bf16 on a GPU, fp32 on a CPU
    vision_tower_path: str | Path | None = None  # a local CLIP folder, when the checkpoint has no tower keys
    strict: bool = True                          # missing parameters raise (else: logged, left at random)
    memory_overrides: dict = field(default_factory=dict)   # MemoryConfig fields replacing the checkpoint's
