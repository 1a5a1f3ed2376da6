"""Typed settings of the flash_vstream_qwen model, read once from the released folder's config.json and
preprocessor_config.json.

The release (Flash-VStream-Qwen-7b, saved by transformers 4.45) keeps Qwen2-VL's flat config: the
language model's keys at the top, `vision_config` with the Flash Memory's settings inside it
(`flash_memory_config`), `rope_scaling` with M-RoPE's `mrope_section`. Upstream warns and uses its
defaults when `flash_memory_config` is absent, and fills absent keys from them; so does this.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from transformers import Qwen2VLConfig
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize  # needs no torchvision

from vstream_ros.backends.shared.checkpoint import CheckpointError
from vstream_ros.memory import FlashMemoryConfig

log = logging.getLogger(__name__)

MODEL_TYPES = ("flash_vstream_qwen2_vl", "qwen2_vl")
# upstream models/flash_memory_constants.py: the released model's settings
DEFAULT_FLASH_MEMORY = {
    "flash_memory_temporal_length": 120, "flash_memory_temporal_method": "kmeans_ordered",
    "flash_memory_temporal_poolsize": 2, "flash_memory_temporal_pca_dim": 32,
    "flash_memory_spatial_length": 60, "flash_memory_spatial_method": "klarge_retrieve",
}
# the only methods this implementation serves (the released ones)
SUPPORTED = {"flash_memory_temporal_method": ("kmeans_ordered",),
             "flash_memory_spatial_method": ("klarge_retrieve",),
             "flash_memory_temporal_poolsize": (1, 2)}
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_MAX_PIXELS = 4 * 224 * 224     # upstream's evaluation and training setting (scripts/eval.sh)
VIDEO_MIN_PIXELS = 128 * 28 * 28       # qwen_vl_utils.vision_process: a video frame's least pixels
PROCESSOR_MAX_PIXELS = 12845056        # the released preprocessor_config.json's max_pixels


@dataclass(frozen=True)
class PixelConfig:
    """How a frame becomes Qwen2-VL patches: its processor's settings and our per-frame pixel budget.

    A frame keeps its aspect ratio and is resized twice, as upstream's pipeline does (training,
    evaluation and its server alike): qwen_vl_utils' fetch_video to multiples of patch * merge (28)
    within [video_min_pixels, max_pixels] (a PIL image, so 8-bit), then the processor to multiples of
    patch * merge * pool (56) within [min_pixels, processor_max_pixels]. A 4K camera costs what the
    budget allows, a small one is enlarged to upstream's video minimum (lowered to the budget when the
    budget is below it), and each camera keeps one grid."""

    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    pool: int = 2                       # the synopsis map's resolution divisor (temporal_poolsize)
    min_pixels: int = 56 * 56           # the processor's (second resize)
    max_pixels: int = DEFAULT_MAX_PIXELS  # the per-frame budget (first resize)
    video_min_pixels: int = VIDEO_MIN_PIXELS
    processor_max_pixels: int = PROCESSOR_MAX_PIXELS
    image_mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    image_std: tuple[float, float, float] = OPENAI_CLIP_STD

    def __post_init__(self) -> None:
        if self.max_pixels < self.factor ** 2:
            raise ValueError(f"max_pixels must be at least {self.factor ** 2} (one {self.factor}x{self.factor} "
                             f"window), got {self.max_pixels}")

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size * self.pool

    def resize_steps(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The (height, width) of upstream's two resizes of a frame of this size."""
        first = smart_resize(height, width, factor=self.patch_size * self.merge_size,
                             min_pixels=min(self.video_min_pixels, self.max_pixels), max_pixels=self.max_pixels)
        return first, smart_resize(*first, factor=self.factor, min_pixels=self.min_pixels,
                                   max_pixels=self.processor_max_pixels)

    def frame_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) in pixels a frame of this size ends as."""
        return self.resize_steps(height, width)[1]

    def full_grid(self, height: int, width: int) -> tuple[int, int]:
        """Patches (rows, cols) of a frame of this size at full resolution."""
        h, w = self.frame_size(height, width)
        return h // self.patch_size, w // self.patch_size


@dataclass(frozen=True)
class QwenAnswerConfig:
    """How answers are made. Defaults are upstream's evaluation (inference_mcq_vqa.py): Qwen2-VL's chat
    template with its default system prompt, greedy, at most 128 new tokens."""

    max_new_tokens: int = 128
    context_tokens: int = 14000         # model_max_length in training: the prompt length it learned
    temporal_positions: int = 120       # temporal tokens one training video spans (240 frames / 2)
    system_prompt: str = "You are a helpful assistant."


@dataclass(frozen=True)
class FlashQwenConfig:
    """Everything the model is built from: the transformers config and one config per part."""

    qwen: Qwen2VLConfig
    memory: FlashMemoryConfig = field(default_factory=FlashMemoryConfig)
    pixels: PixelConfig = field(default_factory=PixelConfig)
    answer: QwenAnswerConfig = field(default_factory=QwenAnswerConfig)
    encoder_id: str = ""

    @classmethod
    def from_released(cls, cfg: dict, preprocessor: dict | None = None,
                      max_pixels: int | None = None) -> FlashQwenConfig:
        """Read released-style config.json and preprocessor_config.json dicts. Settings that change what
        the memory or the prompt would be, and that this implementation does not serve, raise
        CheckpointError."""
        model_type = cfg.get("model_type")
        if model_type not in MODEL_TYPES:
            raise CheckpointError(f"config.json has model_type {model_type!r}; expected one of {MODEL_TYPES}")
        vision = dict(cfg.get("vision_config") or {})
        released = vision.pop("flash_memory_config", None)
        if released is None:
            log.warning("config.json has no vision_config.flash_memory_config; using upstream's defaults")
        fm = {**DEFAULT_FLASH_MEMORY, **(released or {})}
        for key, allowed in SUPPORTED.items():
            if fm[key] not in allowed:
                raise CheckpointError(f"flash_memory_config has {key}={fm[key]!r}; this implementation serves "
                                      f"{' or '.join(map(repr, allowed))}")
        for key in ("flash_memory_temporal_length", "flash_memory_spatial_length"):
            if fm[key] % 2 or fm[key] <= 0:
                raise CheckpointError(f"flash_memory_config has {key}={fm[key]}; it must be even and positive")
        memory = FlashMemoryConfig(temporal_slots=fm["flash_memory_temporal_length"] // 2,
                                   retrieved_frames=fm["flash_memory_spatial_length"] // 2,
                                   synopsis_pool=fm["flash_memory_temporal_poolsize"])
        flat = {k: v for k, v in cfg.items() if k not in ("model_type", "architectures", "auto_map", "encoder_id",
                                                             "vision_config", "rope_scaling", "rope_theta")}
        # 4.45's rope_scaling {"type": "mrope", "mrope_section": ...} is transformers 5's default rope with sections
        rope = {k: v for k, v in (cfg.get("rope_scaling") or {}).items() if k not in ("type", "rope_type")}
        rope = {**rope, "rope_type": "default", "rope_theta": cfg.get("rope_theta", 1000000.0)}
        qwen = Qwen2VLConfig(**flat, rope_parameters=rope, vision_config=vision)
        v = qwen.vision_config
        pre = preprocessor or {}
        pixels = PixelConfig(
            patch_size=int(pre.get("patch_size", v.patch_size)),
            merge_size=int(pre.get("merge_size", v.spatial_merge_size)),
            temporal_patch_size=int(pre.get("temporal_patch_size", v.temporal_patch_size)), pool=memory.synopsis_pool,
            min_pixels=int(pre.get("min_pixels", 56 * 56)), max_pixels=int(max_pixels or DEFAULT_MAX_PIXELS),
            processor_max_pixels=int(pre.get("max_pixels", PROCESSOR_MAX_PIXELS)),
            image_mean=tuple(pre.get("image_mean", OPENAI_CLIP_MEAN)),
            image_std=tuple(pre.get("image_std", OPENAI_CLIP_STD)))
        for ours, theirs, name in ((pixels.patch_size, v.patch_size, "patch_size"),
                                   (pixels.merge_size, v.spatial_merge_size, "merge_size"),
                                   (pixels.temporal_patch_size, v.temporal_patch_size, "temporal_patch_size")):
            if ours != theirs:
                raise CheckpointError(f"preprocessor_config.json has {name}={ours}, the vision tower {theirs}")
        name = cfg.get("encoder_id") or f"qwen2-vl-vit-{v.embed_dim}x{v.depth}"
        encoder_id = f"{name}:pool{pixels.pool}:max_pixels{pixels.max_pixels}"
        return cls(qwen=qwen, memory=memory, pixels=pixels, encoder_id=encoder_id)

    def with_memory(self, **overrides: int) -> FlashQwenConfig:
        """The same config with some memory sizes replaced (FlashMemoryConfig field names)."""
        return dataclasses.replace(self, memory=dataclasses.replace(self.memory, **overrides)) if overrides else self
