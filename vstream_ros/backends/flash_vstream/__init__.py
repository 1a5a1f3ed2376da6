"""The flash_vstream backend: the paper's model (Flash-VStream v1), CLIP ViT-L/14 frames into the STAR
memory, an mlp2x_gelu projector, Vicuna-7B answering with the vicuna_v1 prompt, from a local folder
in the released IVGSZ/Flash-VStream-7b layout.

Where each part lives:
- configuration.py: typed settings, one class per role, read from the released config.json;
- modeling.py: the network (projector, abstract-memory attention, the model); encoder.py: CLIP frames;
- loading.py: the checkpoint folder -> model + tokenizer (checkpoint.py reads the weight files);
- prompting.py: the prompt and its ids as upstream builds them; generation.py: greedy decoding, stops;
- shared/budget.py: which cameras fit the context; answering.py: the Answerer.
The same classes at a tiny random size (tiny.py) run the tests and CI.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vstream_ros.backends.contract import Backend
from vstream_ros.backends.flash_vstream.answering import FlashVStreamAnswerer
from vstream_ros.backends.flash_vstream.configuration import LoaderConfig
from vstream_ros.backends.flash_vstream.loading import LoadedModel, load_pretrained
from vstream_ros.backends.shared.tensors import releaser


def make_backend(loaded: LoadedModel, name: str = "flash_vstream") -> Backend:
    """The engine's view of a loaded model: encoder, answerer, memory sizes, and how to free it."""
    model = loaded.model
    return Backend(name, model.encoder(), FlashVStreamAnswerer(model, loaded.tokenizer), model.config.memory,
                   releaser(model))


def load_flash_vstream(model_path: str | Path, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                       vision_tower_path: str | Path | None = None, strict: bool = True,
                       star_retrieval: str = "heaviest", **memory_overrides: int | float) -> Backend:
    """The flash_vstream backend from a checkpoint folder (see loading.load_pretrained); `star_retrieval`:
    how the retrieved memory picks its key frames (MemoryConfig.retrieval)."""
    options = LoaderConfig(device=device, dtype=dtype, vision_tower_path=vision_tower_path or None, strict=strict,
                           memory_overrides={"retrieval": star_retrieval, **memory_overrides})
    return make_backend(load_pretrained(model_path, options))
