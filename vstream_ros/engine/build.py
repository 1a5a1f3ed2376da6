"""The one way to assemble an engine from settings: used by the node, vstream-eval, the demo (through
the node) and the benchmarks, so that a backend is loaded and sized the same way everywhere."""

from __future__ import annotations

from vstream_ros.backends.contract import Backend
from vstream_ros.backends.registry import backend_spec
from vstream_ros.config import BackendConfig, MemorySizes
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.stream import StreamEngine


def load(backend: BackendConfig) -> Backend:
    """The configured backend, given the settings its registry entry says it reads."""
    spec = backend_spec(backend.backend)
    return spec.load(**{name: getattr(backend, name) for name in spec.settings})


def build_engine(backend: BackendConfig | Backend | None = None, config: EngineConfig | None = None,
                 sizes: MemorySizes | None = None) -> StreamEngine:
    """Load the backend (or take a loaded one), size its memory (the model's own sizes, with the
    user's non-zero choices over them) and return the engine, not yet started."""
    loaded = backend if isinstance(backend, Backend) else load(backend or BackendConfig())
    memory_config = (sizes or MemorySizes()).apply(loaded.memory_config)
    return StreamEngine(loaded, config or EngineConfig(), memory_config)
