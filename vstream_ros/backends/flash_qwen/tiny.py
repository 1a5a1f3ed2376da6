"""The flash_vstream_qwen classes at a tiny random size: built in memory in a fraction of a second,
deterministic under a seed, for tests and CI (no weights, no download); `save_tiny` writes one as a
folder in the release's layout, so the real loading path runs on it.

Its tokenizer is made like Qwen2's: byte-level BPE with Qwen2's pre-tokenisation and NFC, the chat and
vision special tokens after the learned pieces, trained here in milliseconds on a few sentences and the
ImageNet class names; saved as tokenizer.json, vocab.json and merges.txt with a Qwen2Tokenizer
tokenizer_config.json.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase

from vstream_ros.backends.flash_qwen.configuration import FlashQwenConfig
from vstream_ros.backends.flash_qwen.loading import LoadedQwen, released_name
from vstream_ros.backends.flash_qwen.modeling import FlashQwenModel
from vstream_ros.backends.flash_qwen.prompting import (
    CHOICE_PREFILL,
    OPEN_INSTRUCTION,
    choice_instruction,
    load_tokenizer,
    stop_ids,
)
from vstream_ros.backends.shared.imagenet import imagenet_classes
from vstream_ros.backends.shared.tensors import pick_device
from vstream_ros.backends.shared.tokenizer import tokenizer_once

# Qwen2's added tokens, in its order (ids 151643.. in the release; here right after the learned pieces)
QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
)
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
               r"|\s+(?!\S)|\s+")
_CORPUS = [
    "You are a helpful assistant.", OPEN_INSTRUCTION, choice_instruction(4), CHOICE_PREFILL, "system user assistant",
    "What did you see? When did you see a cat? Camera front: ",
    "I saw a red cup on the table, then a person walked by the door.",
    "The robot is in the kitchen. A dog, a chair and a window.", "0 1 2 3 4 5 6 7 8 9 seconds ago",
]
TINY_PIECES = 700
TINY_VOCAB = 768          # the embedding's rows: the tokenizer's pieces and specials, rounded up as Qwen2-VL's

# The tiny model's config.json, in the release's shape (transformers 4.45 Qwen2-VL, flat LM keys,
# vision_config with `in_chans` and the Flash Memory's settings). Token ids are the tokenizer's.
def tiny_released_config(seed: int = 0, specials_start: int = TINY_PIECES) -> dict:
    ids = {t: specials_start + i for i, t in enumerate(QWEN_SPECIAL_TOKENS)}
    return {
        "architectures": ["FlashVStreamQwen2VLModel"], "model_type": "flash_vstream_qwen2_vl",
        "attention_dropout": 0.0, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"],
        "vision_token_id": ids["<|vision_pad|>"], "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"], "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 128, "max_position_embeddings": 32768, "max_window_layers": 2,
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": False, "torch_dtype": "float32",
        "transformers_version": "4.45.0", "use_cache": True, "use_sliding_window": False,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}, "vocab_size": TINY_VOCAB,
        "vision_config": {
            "depth": 2, "embed_dim": 32, "mlp_ratio": 4, "num_heads": 2, "in_chans": 3, "hidden_size": 64,
            "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2,
            "flash_memory_config": {
                "flash_memory_temporal_length": 8, "flash_memory_temporal_method": "kmeans_ordered",
                "flash_memory_temporal_poolsize": 2, "flash_memory_temporal_pca_dim": 32,
                "flash_memory_spatial_length": 4, "flash_memory_spatial_method": "klarge_retrieve",
            },
        },
        "encoder_id": f"tiny-qwen2-vl:seed{seed}",
    }


# preprocessor_config.json and generation_config.json as Qwen2-VL-7B-Instruct ships them
PREPROCESSOR_CONFIG = {
    "min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor",
}


def generation_config(cfg: dict) -> dict:
    return {"bos_token_id": cfg["bos_token_id"], "eos_token_id": [cfg["eos_token_id"], cfg["bos_token_id"]],
            "pad_token_id": cfg["bos_token_id"], "do_sample": False, "transformers_version": "4.45.0"}


@functools.cache
def _tiny_tokenizer_model() -> Tokenizer:
    corpus = _CORPUS + imagenet_classes()
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY_PIECES, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator(corpus, trainer)
    if tok.get_vocab_size() != TINY_PIECES:
        raise RuntimeError(f"the tiny corpus gives {tok.get_vocab_size()} pieces, not {TINY_PIECES}")
    tok.add_special_tokens(list(QWEN_SPECIAL_TOKENS))
    return tok


def write_tokenizer_files(path: str | Path) -> Path:
    """tokenizer.json, vocab.json, merges.txt and tokenizer_config.json, as Qwen2-VL's release has them."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = _tiny_tokenizer_model()
    tok.save(str(path / "tokenizer.json"))
    tok.model.save(str(path))
    added = {str(TINY_PIECES + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                    "single_word": False, "special": True} for i, t in enumerate(QWEN_SPECIAL_TOKENS)}
    (path / "tokenizer_config.json").write_text(json.dumps({
        "add_prefix_space": False, "added_tokens_decoder": added, "bos_token": None, "clean_up_tokenization_spaces":
        False, "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 32768, "pad_token": "<|endoftext|>",
        "padding_side": "left", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None}, indent=2))
    return path


_tiny_tokenizer = tokenizer_once(write_tokenizer_files, load_tokenizer)


def tiny_tokenizer() -> PreTrainedTokenizerBase:
    """The tiny Qwen2 tokenizer (a copy: callers may change it)."""
    return copy.deepcopy(_tiny_tokenizer())


def tiny_config(seed: int = 0, max_pixels: int | None = None, **memory_overrides: int) -> FlashQwenConfig:
    """The tiny model's config, read from its released-style dicts like a checkpoint's."""
    return FlashQwenConfig.from_released(tiny_released_config(seed), PREPROCESSOR_CONFIG, max_pixels).with_memory(
        **memory_overrides)


def build_tiny(seed: int = 0, device: str | torch.device = "cpu", max_pixels: int | None = None,
               **memory_overrides: int) -> LoadedQwen:
    """Qwen2-VL with a 2x32 vision tower (14-pixel patches, 2x2 merge) and a 2x64 language model, random
    under `seed`, with a Flash Memory of 4 synopsis slots and 2 key frames."""
    config = tiny_config(seed, max_pixels, **memory_overrides)
    torch.manual_seed(seed)
    model = FlashQwenModel(config, device=pick_device(device), dtype=torch.float32)
    tok = tiny_tokenizer()
    return LoadedQwen(model, tok, stop_ids(tok, generation_config(tiny_released_config(seed))))


def save_tiny(path: str | Path, seed: int = 0, shards: int = 2) -> Path:
    """Write the tiny model as the release is laid out: config.json, generation_config.json,
    preprocessor_config.json, chat_template.json, the tokenizer files, and `shards` safetensors files
    with model.safetensors.index.json, under the release's (transformers 4.45) key names."""
    path = Path(path)
    write_tokenizer_files(path)
    cfg = tiny_released_config(seed)
    (path / "config.json").write_text(json.dumps(cfg, indent=2))
    (path / "generation_config.json").write_text(json.dumps(generation_config(cfg), indent=2))
    (path / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIG, indent=2))
    (path / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2))
    state = {released_name(k): v.contiguous() for k, v in build_tiny(seed).model.qwen.state_dict().items()}
    names = sorted(state)
    per = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k] for k in names[s * per: (s + 1) * per]}, path / file, metadata={"format": "pt"})
        weight_map.update({k: file for k in names[s * per: (s + 1) * per]})
    total = sum(v.numel() * v.element_size() for v in state.values())
    (path / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return path


# Qwen2-VL's chat template (what `processor.apply_chat_template` renders; prompting.py builds the same ids)
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if "
    "add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
