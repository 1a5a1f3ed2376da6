"""The flash_vstream_qwen backend: Flash-VStream-Qwen (ICCV 2025, arXiv 2506.23825), Qwen2-VL's vision
tower into the Flash Memory (memory/flash.py), Qwen2-VL answering with upstream's prompt and M-RoPE
positions, from a local folder in the released Flash-VStream-Qwen-7b layout.

Where each part lives:
- configuration.py: typed settings read once from config.json and preprocessor_config.json (the Flash
  Memory's sizes, the processor's, our per-frame pixel budget, how answers are made);
- modeling.py: transformers' Qwen2VLForConditionalGeneration, and prompt + memories -> embeddings and
  positions; encoder.py: frames -> full and synopsis maps; layout.py: patch and merge-window orders;
- loading.py: the checkpoint folder -> model + tokenizer (released key names routed onto ours);
- prompting.py: the chat prompt and its ids; positions.py: M-RoPE positions of the memory tokens;
- answering.py: the Answerer. tiny.py: the same classes at a tiny random size, and a saved folder of it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vstream_ros.backends.contract import Backend
from vstream_ros.backends.flash_qwen.answering import FlashQwenAnswerer
from vstream_ros.backends.flash_qwen.loading import LoadedQwen, QwenLoaderConfig, load_pretrained
from vstream_ros.backends.shared.tensors import releaser


def make_backend(loaded: LoadedQwen, name: str = "flash_vstream_qwen") -> Backend:
    """The engine's view of a loaded model: encoder, answerer, Flash Memory sizes, and how to free it."""
    model = loaded.model
    return Backend(name, model.encoder(), FlashQwenAnswerer(model, loaded.tokenizer, loaded.stop_ids),
                   model.config.memory, releaser(model))


def load_flash_vstream_qwen(model_path: str | Path, device: str | torch.device = "auto",
                            dtype: str | torch.dtype = "auto", max_pixels: int | None = None, strict: bool = True,
                            **memory_overrides: int) -> Backend:
    """The flash_vstream_qwen backend from a checkpoint folder (see loading.load_pretrained)."""
    options = QwenLoaderConfig(device=device, dtype=dtype, max_pixels=max_pixels, strict=strict,
                               memory_overrides=memory_overrides)
    return make_backend(load_pretrained(model_path, options))
