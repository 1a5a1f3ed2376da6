"""The flash_vstream classes at a tiny random size: built in memory in a fraction of a second,
deterministic under a seed, for tests and CI (no weights, no download).

Its tokenizer is made like the release's: a SentencePiece BPE model (byte fallback, no normalisation,
LLaMA's <unk> <s> </s> ids 0 1 2), trained here in milliseconds on a few sentences and the ImageNet
class names (so that most of its 1024 pieces are text, not bytes), saved as tokenizer.model with a
LLaMA tokenizer_config.json and no tokenizer.json, and loaded as the release is.
"""

from __future__ import annotations

import copy
import functools
import io
import json
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import CLIPVisionConfig, LlamaConfig, PreTrainedTokenizerBase

from vstream_ros.backends.contract import Backend
from vstream_ros.backends.flash_vstream.configuration import FlashVStreamConfig
from vstream_ros.backends.flash_vstream.loading import LoadedModel
from vstream_ros.backends.flash_vstream.modeling import FlashVStreamModel
from vstream_ros.backends.flash_vstream.prompting import SYSTEM_PROMPT, load_tokenizer
from vstream_ros.backends.shared.imagenet import imagenet_classes
from vstream_ros.backends.shared.tensors import pick_device
from vstream_ros.backends.shared.tokenizer import tokenizer_once

_CORPUS = [
    SYSTEM_PROMPT, "USER: ASSISTANT:", "What did you see? When did you see a cat?",
    "I saw a red cup on the table, then a person walked by the door.",
    "The robot is in the kitchen. A dog, a chair and a window.", "0 1 2 3 4 5 6 7 8 9 seconds ago",
]
TINY_VOCAB = 1024    # 3 specials + 256 byte pieces + characters and merges of the corpus

# Released-style config keys for the tiny model (Flash-VStream-7b's keys at a small size).
TINY_MM_CONFIG = {
    "mm_vision_tower": "tiny-clip", "mm_hidden_size": 64, "mm_projector_type": "mlp2x_gelu",
    "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch", "mm_use_im_start_end": False,
    "mm_use_im_patch_token": False, "compress_type": "mean", "compress_size": 8,
    "compress_long_memory_size": 4, "compress_Turing_memory_size": 1, "compress_Turing_update_ratio": 0.2,
    "compress_Turing_hidden_dim": 16, "video_current_memory_length": 1, "video_long_memory_length": 25,
    "video_Turing_memory_length": 25, "video_sample_type": "weighted_kmeans",
}
# tokenizer_config.json / special_tokens_map.json as LLaVA-lineage LLaMA checkpoints ship them
LLAMA_TOKENIZER_CONFIG = {
    "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
    "clean_up_tokenization_spaces": False, "legacy": False, "model_max_length": 2048, "pad_token": None,
    "padding_side": "right", "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer",
}
LLAMA_SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}


@functools.cache
def tiny_sentencepiece_model(vocab_size: int = TINY_VOCAB) -> bytes:
    """A SentencePiece BPE model set up like LLaMA's tokenizer.model, trained on a few sentences."""
    corpus = _CORPUS + imagenet_classes()
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=out, vocab_size=vocab_size, model_type="bpe",
        byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True, character_coverage=1.0,
        allow_whitespace_only_pieces=True, hard_vocab_limit=False, num_threads=1, minloglevel=2)
    return out.getvalue()


def write_tokenizer_files(path: str | Path, model: bytes | None = None) -> Path:
    """tokenizer.model, tokenizer_config.json and special_tokens_map.json, as in the release."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "tokenizer.model").write_bytes(model or tiny_sentencepiece_model())
    (path / "tokenizer_config.json").write_text(json.dumps(LLAMA_TOKENIZER_CONFIG, indent=2))
    (path / "special_tokens_map.json").write_text(json.dumps(LLAMA_SPECIAL_TOKENS, indent=2))
    return path


_tiny_tokenizer = tokenizer_once(write_tokenizer_files, load_tokenizer)


def tiny_tokenizer() -> PreTrainedTokenizerBase:
    """The tiny LLaMA tokenizer (a copy: callers may change it)."""
    return copy.deepcopy(_tiny_tokenizer())


def tiny_configs(vocab_size: int) -> tuple[LlamaConfig, CLIPVisionConfig]:
    llm = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
    vision = CLIPVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                              image_size=32, patch_size=8, projection_dim=64, hidden_act="quick_gelu")
    return llm, vision


def tiny_config(seed: int = 0, **memory_overrides: int | float) -> FlashVStreamConfig:
    """The tiny model's config, read from released-style keys like a checkpoint's."""
    tokenizer = _tiny_tokenizer()
    llm, vision = tiny_configs(len(tokenizer))
    released = {**llm.to_dict(), **TINY_MM_CONFIG, "encoder_id": f"tiny-clip:seed{seed}"}
    return FlashVStreamConfig.from_released(released, vision).with_memory(**memory_overrides)


def build_tiny(seed: int = 0, device: str | torch.device = "cpu", **memory_overrides) -> LoadedModel:
    """FlashVStreamModel with CLIP 2x64 on 32 px (4x4 patches) and LLaMA 2x64, random under `seed`."""
    config = tiny_config(seed, **memory_overrides)
    torch.manual_seed(seed)
    model = FlashVStreamModel(config, device=pick_device(device), dtype=torch.float32)
    return LoadedModel(model, tiny_tokenizer())


def load_tiny(seed: int = 0, device: str | torch.device = "cpu", star_retrieval: str = "heaviest",
              **memory_overrides) -> Backend:
    """The tiny backend: the flash_vstream answerer and encoder over `build_tiny`'s model."""
    from vstream_ros.backends.flash_vstream import make_backend

    return make_backend(build_tiny(seed, device, retrieval=star_retrieval, **memory_overrides), "tiny")
