"""Checkpoint compatibility of the flash_vstream_qwen loader: a folder in the released Flash-VStream-Qwen-7b
layout (transformers 4.45's Qwen2VLForConditionalGeneration key names, sharded safetensors with an index),
written here from literal key names and shapes at the tiny size, not derived from our model."""

import json
import logging

import pytest
import torch
from safetensors.torch import save_file

from vstream_ros.backends.flash_qwen.loading import QwenLoaderConfig, load_pretrained
from vstream_ros.backends.flash_qwen.tiny import PREPROCESSOR_CONFIG, tiny_released_config, write_tokenizer_files
from vstream_ros.backends.shared.checkpoint import CheckpointError

# The release's key names (Qwen2-VL-7B: 32 vision blocks, 28 decoder layers), with the tiny model's shapes:
# vision width 32 (2 heads, MLP 128, 2 blocks), merger 4*32 -> 64, LM width 64 (4 heads of 16, 2 KV heads,
# MLP 128, 2 layers), vocabulary 768.
VISION_BLOCK = {
    "norm1.weight": [32], "norm1.bias": [32], "norm2.weight": [32], "norm2.bias": [32],
    "attn.qkv.weight": [96, 32], "attn.qkv.bias": [96], "attn.proj.weight": [32, 32], "attn.proj.bias": [32],
    "mlp.fc1.weight": [128, 32], "mlp.fc1.bias": [128], "mlp.fc2.weight": [32, 128], "mlp.fc2.bias": [32],
}
DECODER_LAYER = {
    "self_attn.q_proj.weight": [64, 64], "self_attn.q_proj.bias": [64],
    "self_attn.k_proj.weight": [32, 64], "self_attn.k_proj.bias": [32],
    "self_attn.v_proj.weight": [32, 64], "self_attn.v_proj.bias": [32], "self_attn.o_proj.weight": [64, 64],
    "mlp.gate_proj.weight": [128, 64], "mlp.up_proj.weight": [128, 64], "mlp.down_proj.weight": [64, 128],
    "input_layernorm.weight": [64], "post_attention_layernorm.weight": [64],
}
RELEASED = {
    "visual.patch_embed.proj.weight": [32, 3, 2, 14, 14],
    **{f"visual.blocks.{i}.{k}": s for i in range(2) for k, s in VISION_BLOCK.items()},
    "visual.merger.ln_q.weight": [32], "visual.merger.ln_q.bias": [32],
    "visual.merger.mlp.0.weight": [128, 128], "visual.merger.mlp.0.bias": [128],
    "visual.merger.mlp.2.weight": [64, 128], "visual.merger.mlp.2.bias": [64],
    "model.embed_tokens.weight": [768, 64],
    **{f"model.layers.{i}.{k}": s for i in range(2) for k, s in DECODER_LAYER.items()},
    "model.norm.weight": [64],
    "lm_head.weight": [768, 64],
}


def write_release(path, tensors, shards=2):
    """config.json, generation_config.json, preprocessor_config.json, the tokenizer files and the weights as
    model-0000k-of-0000n.safetensors with model.safetensors.index.json (the vision tower first, as 4.45 saves)."""
    write_tokenizer_files(path)
    cfg = tiny_released_config()
    (path / "config.json").write_text(json.dumps(cfg))
    (path / "generation_config.json").write_text(json.dumps({"eos_token_id": [cfg["eos_token_id"], 700]}))
    (path / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIG))
    names = list(tensors)
    per = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = names[s * per: (s + 1) * per]
        save_file({k: tensors[k] for k in part}, path / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, file))
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def released_tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(*s, generator=g) for k, s in RELEASED.items()}


def test_every_released_key_lands_in_its_parameter(tmp_path):
    tensors = released_tensors()
    loaded = load_pretrained(write_release(tmp_path, tensors), QwenLoaderConfig(device="cpu"))
    r = loaded.report
    assert (r.loaded, r.missing, r.unexpected) == (len(RELEASED), [], [])
    q = loaded.model.qwen
    for key, param in (
        ("visual.patch_embed.proj.weight", q.model.visual.patch_embed.proj.weight),
        ("visual.blocks.1.attn.qkv.bias", q.model.visual.blocks[1].attn.qkv.bias),
        ("visual.merger.mlp.2.weight", q.model.visual.merger.mlp[2].weight),
        ("visual.merger.ln_q.bias", q.model.visual.merger.ln_q.bias),
        ("model.embed_tokens.weight", q.model.language_model.embed_tokens.weight),
        ("model.layers.1.self_attn.k_proj.bias", q.model.language_model.layers[1].self_attn.k_proj.bias),
        ("model.layers.0.mlp.down_proj.weight", q.model.language_model.layers[0].mlp.down_proj.weight),
        ("model.norm.weight", q.model.language_model.norm.weight),
        ("lm_head.weight", q.lm_head.weight),
    ):
        assert torch.equal(param, tensors[key]), key
    assert loaded.stop_ids == {702, 700}          # generation_config.json's eos_token_id


def test_newer_transformers_key_names_load_too(tmp_path):
    tensors = released_tensors(1)
    newer = {("model.visual." + k[len("visual."):]) if k.startswith("visual.") else
             ("model.language_model." + k[len("model."):]) if k.startswith("model.") else k: v
             for k, v in tensors.items()}
    loaded = load_pretrained(write_release(tmp_path, newer), QwenLoaderConfig(device="cpu"))
    assert loaded.report.missing == [] and loaded.report.unexpected == []
    assert torch.equal(loaded.model.qwen.model.language_model.norm.weight, tensors["model.norm.weight"])


def test_missing_unexpected_and_misshapen_keys_are_named(tmp_path, caplog):
    tensors = released_tensors()
    gone = "visual.blocks.1.mlp.fc2.bias"
    extra = "visual.blocks.2.norm1.weight"               # a block the model does not have
    folder = write_release(tmp_path / "a", {**{k: v for k, v in tensors.items() if k != gone},
                                            extra: torch.zeros(32)})
    with pytest.raises(CheckpointError, match=gone.replace(".", r"\.")):
        load_pretrained(folder, QwenLoaderConfig(device="cpu"))
    with caplog.at_level(logging.WARNING):
        loaded = load_pretrained(folder, QwenLoaderConfig(device="cpu", strict=False))
    assert loaded.report.missing == [gone] and loaded.report.unexpected == [extra]
    assert extra in caplog.text and gone in caplog.text
    bad = write_release(tmp_path / "b", {**tensors, "model.norm.weight": torch.zeros(65)})
    with pytest.raises(CheckpointError, match=r"model\.norm\.weight in model-0000\d-of-00002\.safetensors has shape"):
        load_pretrained(bad, QwenLoaderConfig(device="cpu"))


def test_folder_problems_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="config.json"):
        load_pretrained(tmp_path, QwenLoaderConfig(device="cpu"))
    folder = write_release(tmp_path / "c", released_tensors())
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.json").unlink()
    with pytest.raises(CheckpointError, match="no tokenizer"):
        load_pretrained(folder, QwenLoaderConfig(device="cpu"))
    folder = write_release(tmp_path / "d", released_tensors())
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "vision_start_token_id": 5}))
    with pytest.raises(CheckpointError, match="vision_start"):
        load_pretrained(folder, QwenLoaderConfig(device="cpu"))
