"""The flash_vstream classes at a tiny random size: built in memory in a fraction of a second,
deterministic under a seed, for tests and CI (no weights, no download)."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import CLIPVisionConfig, LlamaConfig, PreTrainedTokenizerFast

from vstream_ros.models.base import pick_device
from vstream_ros.models.flash_vstream import SYSTEM_PROMPT, FlashVStreamModel

_CORPUS = [
    SYSTEM_PROMPT, "USER: ASSISTANT:", "What did you see? When did you see a cat?",
    "I saw a red cup on the table, then a person walked by the door.",
    "The robot is in the kitchen. A dog, a chair and a window.", "0 1 2 3 4 5 6 7 8 9 seconds ago",
]

# Released-style config keys for the tiny model (Flash-VStream-7b's keys at a small size).
TINY_MM_CONFIG = {
    "mm_vision_tower": "tiny-clip", "mm_hidden_size": 64, "mm_projector_type": "mlp2x_gelu",
    "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch", "mm_use_im_start_end": False,
    "mm_use_im_patch_token": False, "compress_type": "mean", "compress_size": 8,
    "compress_long_memory_size": 4, "compress_Turing_memory_size": 1, "compress_Turing_update_ratio": 0.2,
    "compress_Turing_hidden_dim": 16, "video_current_memory_length": 1, "video_long_memory_length": 25,
    "video_Turing_memory_length": 25, "video_sample_type": "weighted_kmeans",
}


def tiny_tokenizer(vocab_size: int = 320) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a few sentences, with LLaMA's <s> </s> <unk> conventions."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def tiny_configs(vocab_size: int) -> tuple[LlamaConfig, CLIPVisionConfig]:
    llm = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
    vision = CLIPVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                              image_size=32, patch_size=8, projection_dim=64, hidden_act="quick_gelu")
    return llm, vision


def build_tiny(seed: int = 0, device: str | torch.device = "cpu", **memory_overrides) -> FlashVStreamModel:
    """FlashVStreamModel with CLIP 2x64 on 32 px (4x4 patches) and LLaMA 2x64, random under `seed`."""
    tokenizer = tiny_tokenizer()
    llm, vision = tiny_configs(len(tokenizer))
    torch.manual_seed(seed)
    mm = {**TINY_MM_CONFIG, "encoder_id": f"tiny-clip:seed{seed}", "memory_overrides": memory_overrides}
    return FlashVStreamModel(llm, vision, mm, tokenizer, device=pick_device(device), dtype=torch.float32)
