"""What the engine needs from a model: a frame encoder and an answerer, bundled as a backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from vstream_ros.frames import check_batch
from vstream_ros.memory import FlashMemoryConfig, MemoryConfig, MemoryRead, TokenGroup


@runtime_checkable
class FrameEncoder(Protocol):
    """Turns RGB frames into a patch grid of features for the memory.

    `id` names the weights and the preprocessing: a memory snapshot is only restored into an
    encoder with the same id, since features of another encoder mean nothing to it.
    """

    id: str
    dim: int
    feature_grid: tuple[int, int]
    device: torch.device
    dtype: torch.dtype

    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 [B, H, W, 3] RGB (any size) -> features [B, h, w, D] on `device`, in `dtype`."""
        ...


def annotation_dim(encoder: FrameEncoder) -> int:
    """Length of the per-frame annotation an encoder gives (`annotate(frames, features) -> [B, A]`:
    what it recognised in each frame, computed once at ingest and kept with the memory); 0: none."""
    return len(getattr(encoder, "annotation_names", ()))


@dataclass
class Answer:
    """An answer being produced: iterate `pieces` for the text as it is generated.

    `evidence` is known before the first piece: the memory groups the answer rests on.
    """

    pieces: Iterator[str]
    evidence: list[TokenGroup]
    limitations: str = ""                # what this backend cannot see, said plainly
    stats: dict = field(default_factory=dict)   # filled while generating: tokens, ttft_s, ...

    def text(self) -> str:
        return "".join(self.pieces)


@runtime_checkable
class Answerer(Protocol):
    def answer(
        self, memory: MemoryRead, question: str, max_new_tokens: int, cancel: threading.Event | None = None
    ) -> Answer:
        """Answer from a memory read; generation stops early when `cancel` is set."""
        ...

    def abstract_projections(self) -> tuple[torch.nn.Module | None, torch.nn.Module | None]:
        """The q/k projections the memory's abstract update should use (None, None: identity)."""
        ...


@dataclass
class Backend:
    """A loaded model: its encoder, its answerer and the memory sizes it was trained with. The type of
    `memory_config` chooses the memory (memory/kinds.py): STAR for a MemoryConfig, the Flash Memory for
    a FlashMemoryConfig."""

    name: str
    encoder: FrameEncoder
    answerer: Answerer
    memory_config: MemoryConfig | FlashMemoryConfig
    close: Callable[[], None] = lambda: None
    # parts of the backend that could not be loaded, each said plainly with how to get it: the node
    # reports them as WARN in /diagnostics and in ~/memory_state, so nobody runs a lesser default unaware
    degraded: list[str] = field(default_factory=list)


def to_uint8_batch(frames: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 [B, H, W, 3] (or one [H, W, 3] frame) -> a uint8 tensor on `device`, validated."""
    x = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    check_batch(tuple(x.shape), x.dtype)
    return x.to(device, non_blocking=True)


def resize_center_crop(x: torch.Tensor, size: int, interpolation: str = "bicubic") -> torch.Tensor:
    """float [B, 3, H, W] -> [B, 3, size, size]: shortest side to `size`, then the centre square
    (CLIPImageProcessor's geometry, done on the tensor's device)."""
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) != (h, w):
        x = torch.nn.functional.interpolate(x, size=(nh, nw), mode=interpolation, antialias=True,
                                            align_corners=False)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[..., top: top + size, left: left + size]


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def device_memory_used(device: torch.device) -> float | None:
    """Fraction of an accelerator's memory in use (None on a CPU)."""
    if device.type != "cuda":
        return None
    free, total = torch.cuda.mem_get_info(device)
    return 1.0 - free / total


def pick_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """'auto' is bf16 on a GPU and fp32 on a CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
                "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, float16 or bfloat16") from None


def stream_text(tokenizer, tokens: Iterator[int], stats: dict, t0: float,
                prefix: str = "") -> Iterator[tuple[str, str]]:
    """Detokenize as tokens come: yields (new text, text so far), holding back half a UTF-8 character.
    Records `ttft_s` (from t0) and `tokens` in stats."""
    ids: list[int] = []
    text = prefix
    for tok in tokens:
        if not ids:
            stats["ttft_s"] = time.perf_counter() - t0
        ids.append(tok)
        stats["tokens"] = len(ids)
        full = prefix + tokenizer.decode(ids, skip_special_tokens=True)
        if len(full) > len(text) and not full.endswith("\ufffd"):
            yield full[len(text):], full
            text = full
