"""The one way to assemble an engine from settings: used by the node, vstream-eval, the demo (through
the node) and the benchmarks, so that a backend is loaded and sized the same way everywhere."""

from __future__ import annotations

from vstream_ros.config import BackendConfig, MemorySizes
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.stream import StreamEngine
from vstream_ros.models import load_backend
from vstream_ros.models.base import Backend


def load(backend: BackendConfig) -> Backend:
    return load_backend(backend.backend, device=backend.device, dtype=backend.dtype, model_path=backend.model_path,
                        vision_tower_path=backend.vision_tower_path, max_pixels=backend.max_pixels)


def build_engine(backend: BackendConfig | Backend | None = None, config: EngineConfig | None = None,
                 sizes: MemorySizes | None = None) -> StreamEngine:
    """Load the backend (or take a loaded one), size its memory (the model's own sizes, with the
    user's non-zero choices over them) and return the engine, not yet started."""
    loaded = backend if isinstance(backend, Backend) else load(backend or BackendConfig())
    memory_config = (sizes or MemorySizes()).apply(loaded.memory_config)
    return StreamEngine(loaded, config or EngineConfig(), memory_config)
