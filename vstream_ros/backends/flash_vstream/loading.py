"""Load a local folder in the released IVGSZ/Flash-VStream-7b layout into a FlashVStreamModel.

The folder: config.json, tokenizer.model (+ tokenizer_config.json, special_tokens_map.json) and the
weights (checkpoint.py reads them shard by shard). The vision tower comes from the checkpoint's own
`model.vision_tower.*` keys when present, else from a local CLIP folder.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel, PreTrainedTokenizerBase

from vstream_ros.backends.flash_vstream.configuration import KNOWN_TOWERS, FlashVStreamConfig, LoaderConfig
from vstream_ros.backends.flash_vstream.modeling import FlashVStreamModel
from vstream_ros.backends.flash_vstream.prompting import load_tokenizer
from vstream_ros.backends.shared.checkpoint import (
    IGNORED_KEYS,
    CheckpointError,
    LoadReport,
    check_vocabulary,
    checkpoint_keys,
    iter_tensors,
    place,
    read_config,
    route,
    settle,
)
from vstream_ros.backends.shared.tensors import pick_device, pick_dtype

log = logging.getLogger(__name__)
PARTS = ("vision_tower", "projector", "attention_model", "llm")


@dataclass
class LoadedModel:
    """A model with its tokenizer, and what loading its weights found (None: built, not loaded)."""

    model: FlashVStreamModel
    tokenizer: PreTrainedTokenizerBase
    report: LoadReport | None = None


def load_pretrained(path: str | Path, options: LoaderConfig | None = None) -> LoadedModel:
    """Load a checkpoint folder. Missing parameters raise CheckpointError when `options.strict`;
    unknown keys are logged by name; a shape mismatch always raises."""
    o = options or LoaderConfig()
    path = Path(path).expanduser()
    device = pick_device(o.device)
    dtype = pick_dtype(o.dtype, device)
    cfg = read_config(path)
    keys = checkpoint_keys(path)
    external_tower = None
    if o.vision_tower_path:
        external_tower = CLIPVisionModel.from_pretrained(o.vision_tower_path, dtype=dtype).to(device)
        vision = external_tower.config
    elif any(route(k)[0] == "vision_tower" for k in keys):
        vision = vision_config_for(cfg, keys, path)
    else:
        raise CheckpointError(
            f"{path} has no vision-tower weights; pass vision_tower_path (a local folder of "
            f"{cfg.get('mm_vision_tower', 'the CLIP model')})")
    config = FlashVStreamConfig.from_released(cfg, vision).with_memory(**o.memory_overrides)
    tokenizer = load_tokenizer(path)
    check_vocabulary(len(tokenizer), config.llm.vocab_size, path)
    model = FlashVStreamModel(config, device, dtype)
    report = load_weights(model, path, skip_tower=external_tower is not None)
    if external_tower is not None:
        model.vision_tower = external_tower.eval().requires_grad_(False)
    settle(report, path, o.strict, log)
    return LoadedModel(model, tokenizer, report)


@torch.no_grad()
def load_weights(model: FlashVStreamModel, path: str | Path, skip_tower: bool = False) -> LoadReport:
    """Copy every checkpoint tensor into its parameter, one shard in memory at a time."""
    params = {f"{part}.{name}": t for part in PARTS
              for name, t in getattr(model, part).state_dict(keep_vars=True).items()}
    tied = model.config.llm.tie_word_embeddings
    tower_nested = any(k.startswith("vision_tower.vision_model.") for k in params)
    report, seen = LoadReport(), set()
    for file, key, tensor in iter_tensors(path):
        part, inner = route(key)
        if IGNORED_KEYS.match(key) or (part == "vision_tower" and skip_tower):
            report.ignored.append(key)
            continue
        if part == "vision_tower" and not tower_nested:
            inner = inner.removeprefix("vision_model.")
        ours = f"{part}.{inner}"
        place(params, ours, key, tensor, file, report, seen)
    report.missing = sorted(
        k for k in params
        if k not in seen
        and not (tied and k == "llm.lm_head.weight")
        and not (skip_tower and k.startswith("vision_tower."))
    )
    return report


def vision_config_for(cfg: dict, keys: list[str], path: Path) -> CLIPVisionConfig:
    """The tower's config: a `vision_config` dict in config.json, a known tower name, or the shapes."""
    if isinstance(cfg.get("vision_config"), dict):
        return CLIPVisionConfig(**cfg["vision_config"])
    name = cfg.get("mm_vision_tower", "")
    if name in KNOWN_TOWERS:
        return CLIPVisionConfig(**KNOWN_TOWERS[name])
    return infer_vision_config(path, keys)


def infer_vision_config(path: Path, keys: list[str]) -> CLIPVisionConfig:
    """Rebuild a CLIP tower's config from its weights (head width 64, as in every OpenAI CLIP ViT)."""
    prefix = "model.vision_tower.vision_tower.vision_model."
    shapes = {k[len(prefix):]: tuple(t.shape) for _, k, t in iter_tensors(path) if k.startswith(prefix)}
    try:
        hidden, _, patch, _ = shapes["embeddings.patch_embedding.weight"]
        positions = shapes["embeddings.position_embedding.weight"][0]
        inter = shapes["encoder.layers.0.mlp.fc1.weight"][0]
    except KeyError as e:
        raise CheckpointError(f"cannot infer the vision tower's shape from {path}: {e} missing") from e
    layers = 1 + max(int(k.split(".")[2]) for k in shapes if k.startswith("encoder.layers."))
    side = math.isqrt(positions - 1)
    return CLIPVisionConfig(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                            num_attention_heads=max(1, hidden // 64), image_size=side * patch, patch_size=patch,
                            hidden_act="quick_gelu")

