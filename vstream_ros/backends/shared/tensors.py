"""Devices, dtypes and frame tensors: the small helpers every backend's encoder and loader use."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import torch

from vstream_ros.frames import check_batch


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


def releaser(model: torch.nn.Module) -> Callable[[], None]:
    """A Backend's `close`: the model's weights back to the CPU and CUDA's cache emptied, so that a
    backend loaded after this one finds the accelerator's memory free."""
    def close() -> None:
        model.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return close


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


def attention_implementation(device: torch.device) -> str:
    """flash_attention_2 on a GPU when installed, else PyTorch's sdpa."""
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"
