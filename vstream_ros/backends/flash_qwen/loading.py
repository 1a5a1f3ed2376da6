"""Load a local folder in the released Flash-VStream-Qwen-7b layout into a FlashQwenModel.

The folder (saved by upstream's finetune_flash.py with transformers 4.45): config.json,
generation_config.json, the Qwen2 tokenizer files (tokenizer.json, vocab.json, merges.txt,
tokenizer_config.json), the processor's preprocessor_config.json and chat_template.json, and the weights
as safetensors shards with model.safetensors.index.json (checkpoint.py reads them one shard at a time).

Key names: 4.45 saved Qwen2VLForConditionalGeneration as `visual.*` (vision tower and merger),
`model.*` (the language model's decoder) and `lm_head.*`; transformers 5 nests them as `model.visual.*`
and `model.language_model.*`. KEY_ROUTES maps either layout onto ours.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from vstream_ros.backends.flash_qwen.configuration import FlashQwenConfig
from vstream_ros.backends.flash_qwen.modeling import FlashQwenModel
from vstream_ros.backends.flash_qwen.prompting import VISION_END, VISION_START, load_tokenizer, stop_ids
from vstream_ros.backends.shared.checkpoint import (
    CheckpointError,
    LoadReport,
    check_vocabulary,
    iter_tensors,
    place,
    read_config,
    settle,
)
from vstream_ros.backends.shared.tensors import pick_device, pick_dtype

log = logging.getLogger(__name__)

# Released (or newer) key prefix -> our prefix; first match wins.
KEY_ROUTES: tuple[tuple[str, str], ...] = (
    ("visual.", "model.visual."),                              # 4.45: the release
    ("model.visual.", "model.visual."),                        # transformers >= 4.52
    ("model.language_model.", "model.language_model."),
    ("model.", "model.language_model."),                       # 4.45: the decoder at model.*
    ("lm_head.", "lm_head."),
)
# Buffers some versions saved and newer ones recompute: known, harmless, skipped.
IGNORED_KEYS = re.compile(r"(^|\.)rotary_(pos_)?emb\.inv_freq$")


def released_name(ours: str) -> str:
    """Our parameter name as the release spells it (how missing parameters are reported)."""
    for prefix, release in (("model.visual.", "visual."), ("model.language_model.", "model.")):
        if ours.startswith(prefix):
            return release + ours[len(prefix):]
    return ours


def route(key: str) -> str | None:
    """A checkpoint key -> our parameter name (None: no route)."""
    for prefix, ours in KEY_ROUTES:
        if key.startswith(prefix):
            return ours + key[len(prefix):]
    return None


@dataclass(frozen=True)
class QwenLoaderConfig:
    """How to load a checkpoint folder: where to, in what precision, the pixel budget, how forgiving."""

    device: str | torch.device = "auto"
    dtype: str | torch.dtype = "auto"
    max_pixels: int | None = None            # per-frame pixel budget; None: upstream's 4*224*224
    strict: bool = True                      # missing parameters raise (else: logged, left at random)
    memory_overrides: dict = field(default_factory=dict)   # FlashMemoryConfig fields replacing the checkpoint's


@dataclass
class LoadedQwen:
    """A model with its tokenizer, its stop tokens, and what loading found (None: built, not loaded)."""

    model: FlashQwenModel
    tokenizer: PreTrainedTokenizerBase
    stop_ids: frozenset[int]
    report: LoadReport | None = None


def read_json(path: Path, name: str, required: bool) -> dict | None:
    f = path / name
    if not f.exists():
        if required:
            raise CheckpointError(f"{path} has no {name}")
        return None
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{f} is not valid JSON: {e}") from e


def check_tokenizer(tokenizer: PreTrainedTokenizerBase, config: FlashQwenConfig, path: Path) -> None:
    q = config.qwen
    vocab = tokenizer.get_vocab()
    for token, want in ((VISION_START, q.vision_start_token_id), (VISION_END, q.vision_end_token_id)):
        if vocab[token] != want:
            raise CheckpointError(f"the tokenizer of {path} gives {token} id {vocab[token]}, config.json {want}")
    check_vocabulary(len(tokenizer), q.text_config.vocab_size, path)


def load_pretrained(path: str | Path, options: QwenLoaderConfig | None = None) -> LoadedQwen:
    """Load a checkpoint folder. Missing parameters (named as the release names them) raise
    CheckpointError when `options.strict`; unknown keys are logged by name; a shape mismatch always raises."""
    o = options or QwenLoaderConfig()
    path = Path(path).expanduser()
    device = pick_device(o.device)
    dtype = pick_dtype(o.dtype, device)
    preprocessor = read_json(path, "preprocessor_config.json", required=False)
    if preprocessor is None:
        log.warning("%s has no preprocessor_config.json; using Qwen2-VL's processor settings", path)
    config = FlashQwenConfig.from_released(read_config(path), preprocessor, o.max_pixels).with_memory(
        **o.memory_overrides)
    tokenizer = load_tokenizer(path)
    check_tokenizer(tokenizer, config, path)
    model = FlashQwenModel(config, device, dtype)
    report = load_weights(model, path)
    settle(report, path, o.strict, log)
    return LoadedQwen(model, tokenizer, stop_ids(tokenizer, read_json(path, "generation_config.json", False)), report)


@torch.no_grad()
def load_weights(model: FlashQwenModel, path: str | Path) -> LoadReport:
    """Copy every checkpoint tensor into its parameter, one shard in memory at a time."""
    params = model.qwen.state_dict(keep_vars=True)
    report, seen = LoadReport(), set()
    for file, key, tensor in iter_tensors(path):
        if IGNORED_KEYS.search(key):
            report.ignored.append(key)
            continue
        ours = route(key)
        place(params, ours, key, tensor, file, report, seen)
    tied = model.config.qwen.tie_word_embeddings
    report.missing = sorted(released_name(k) for k in params
                            if k not in seen and not (tied and k == "lm_head.weight"))
    return report
