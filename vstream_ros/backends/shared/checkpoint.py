"""Read a checkpoint folder in the released IVGSZ/Flash-VStream-7b layout, shard by shard.

The layout: `config.json` (LLaMA keys plus Flash-VStream's `mm_*`, `compress_*`, `video_*`), the
tokenizer files, and the weights as `pytorch_model-*.bin` shards with `pytorch_model.bin.index.json`,
or as safetensors (sharded with `model.safetensors.index.json`, or one `model.safetensors`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

# Released key prefix -> (part of our model, prefix inside that part). Order matters: first match wins.
# The projector was an nn.Sequential upstream (layers 0 and 2, GELU between); here its layers have names.
# The vision tower's inner prefix is CLIPVisionModel's `vision_model.` level, which transformers 5
# dropped; loading.load_weights strips it when the tower has no such level.
KEY_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("model.mm_projector.0.", "projector", "linear_1."),
    ("model.mm_projector.2.", "projector", "linear_2."),
    ("model.attention_model.", "attention_model", ""),
    ("model.vision_tower.vision_tower.vision_model.", "vision_tower", "vision_model."),
    ("", "llm", ""),
)
# Buffers that transformers 4.31 saved and newer versions recompute: known, harmless, skipped.
IGNORED_KEYS = re.compile(r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$"
                          r"|^model\.vision_tower\.vision_tower\.vision_model\.embeddings\.position_ids$")


class CheckpointError(RuntimeError):
    """The folder is not a usable Flash-VStream checkpoint (names the file or key at fault)."""


@dataclass
class LoadReport:
    loaded: int = 0
    missing: list[str] = field(default_factory=list)      # our parameters no tensor was found for
    unexpected: list[str] = field(default_factory=list)   # checkpoint keys that match nothing of ours
    ignored: list[str] = field(default_factory=list)      # known-harmless keys (old rotary buffers)


def settle(report: LoadReport, path: str | Path, strict: bool, log: logging.Logger) -> None:
    """What a load left over: unknown keys are logged by name; missing parameters raise CheckpointError
    when `strict`, else are logged as left at random init."""
    if report.unexpected:
        log.warning("checkpoint keys not used by the model: %s", report.unexpected)
    if report.missing and strict:
        raise CheckpointError(f"checkpoint {path} lacks parameters: {report.missing}")
    if report.missing:
        log.warning("parameters left at random init: %s", report.missing)


def check_vocabulary(tokens: int, vocab_size: int, path: str | Path) -> None:
    """A tokenizer with more tokens than the model has embeddings would index past them."""
    if tokens > vocab_size:
        raise CheckpointError(f"the tokenizer of {path} has {tokens} tokens, the model's vocabulary {vocab_size}")


def route(key: str) -> tuple[str, str]:
    """Released key -> (part, key inside the part)."""
    for prefix, part, inner in KEY_ROUTES:
        if key.startswith(prefix):
            return part, inner + key[len(prefix):]
    raise AssertionError("the last route matches everything")


def read_config(path: str | Path) -> dict:
    cfg_file = Path(path) / "config.json"
    try:
        return json.loads(cfg_file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} has no config.json: not a checkpoint folder") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{cfg_file} is not valid JSON: {e}") from e


def weight_files(path: str | Path) -> list[Path]:
    """The weight files of the folder, in a stable order; safetensors preferred over .bin."""
    path = Path(path)
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = path / index_name
        if index.exists():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError) as e:
                raise CheckpointError(f"{index} is not a weight index: {e}") from e
            files = [path / f for f in sorted(set(weight_map.values()))]
            absent = [f.name for f in files if not f.exists()]
            if absent:
                raise CheckpointError(f"{index.name} names shards that are not in {path}: {absent}")
            return files
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (path / single).exists():
            return [path / single]
    raise CheckpointError(f"no weights in {path} (looked for *.index.json, model.safetensors, pytorch_model.bin)")


def checkpoint_keys(path: str | Path) -> list[str]:
    """Every tensor name in the checkpoint, from the index when there is one (no weights read)."""
    path = Path(path)
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (path / index_name).exists():
            return sorted(json.loads((path / index_name).read_text())["weight_map"])
    return sorted(k for _, k, _ in iter_tensors(path, names_only=True))


def iter_tensors(path: str | Path, names_only: bool = False) -> Iterator[tuple[Path, str, torch.Tensor | None]]:
    """(file, key, tensor) for every tensor, one shard in memory at a time. `.bin` shards are read with
    torch.load(weights_only=True): tensors only, never arbitrary pickled objects."""
    for f in weight_files(path):
        try:
            if f.suffix == ".safetensors":
                with safe_open(f, framework="pt") as st:
                    for key in st.keys():
                        yield f, key, None if names_only else st.get_tensor(key)
            else:
                state = torch.load(f, map_location="cpu", weights_only=True, mmap=True)
                if not isinstance(state, dict):
                    raise CheckpointError(f"{f.name} does not hold a state dict")
                for key, tensor in state.items():
                    yield f, key, None if names_only else tensor
                del state
        except CheckpointError:
            raise
        except Exception as e:   # a truncated or foreign file: name it
            raise CheckpointError(f"cannot read weight shard {f}: {e}") from e


def place(params: dict, ours: str, key: str, tensor: torch.Tensor, file: Path, report: LoadReport,
          seen: set[str]) -> None:
    """Copy one checkpoint tensor into our parameter `ours` (named `key` in the file), or record it as
    unexpected; a shape that differs raises, naming the key and the file."""
    if ours not in params:
        report.unexpected.append(key)
        return
    dst = params[ours]
    if tuple(tensor.shape) != tuple(dst.shape):
        raise CheckpointError(f"{key} in {file.name} has shape {tuple(tensor.shape)}, "
                              f"the model expects {tuple(dst.shape)}")
    dst.data.copy_(tensor.to(dst.dtype))
    seen.add(ours)
    report.loaded += 1
