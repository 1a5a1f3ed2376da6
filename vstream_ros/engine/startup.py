"""The one start-up of an engine, for every front end (the node, vstream-eval, the benches; the demo
through the node): build (load the backend, size its memory), warm up, restore the snapshot, start the
workers; and the one close: stop, save, release the models, return their device memory.

    with EngineSession(BackendConfig("lite"), EngineConfig(snapshot_path="")) as engine:
        engine.offer(...); engine.ask(...).wait()

A lifecycle node cannot hold a `with` block across its transitions: it calls `open()` on configure and
`close()` on cleanup or shutdown. A failed `open()` leaves nothing loaded behind it.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import torch

from vstream_ros.backends.contract import Backend
from vstream_ros.config import BackendConfig, MemorySizes
from vstream_ros.engine.build import build_engine
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.stream import StreamEngine
from vstream_ros.engine.tokens import visual_tokens_text


def free_device_memory() -> None:
    """Return the memory of freed models to the system: Python's cycles first, then CUDA's cache."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


@dataclass(frozen=True)
class StartUp:
    """What `open()` did, for the front end to log."""
    load_s: float                  # build and warm-up together
    warm_up_s: float
    restore: str                   # Persistence.restore's status line ("ERROR ..." when a snapshot was moved aside)
    summary: str                   # backend, encoder id, device, times, tokens per camera


class EngineSession:
    """An engine from settings (or a loaded backend), opened once and closed once."""

    def __init__(self, backend: BackendConfig | Backend | None = None, config: EngineConfig | None = None,
                 sizes: MemorySizes | None = None, warm_up: bool = True) -> None:
        self._args = (backend, config, sizes)
        self._warm = warm_up
        self.engine: StreamEngine | None = None
        self.started: StartUp | None = None

    def open(self) -> StreamEngine:
        """Build, warm up, restore, start. An exception (a bad setting or model path, an out-of-memory
        GPU) releases what was loaded and propagates."""
        t0 = time.monotonic()
        engine = None
        try:
            engine = build_engine(*self._args)
            warm = engine.warm_up() if self._warm else 0.0
            load_s = time.monotonic() - t0
            status = engine.restore()
            engine.start()
        except BaseException:
            if engine is not None:
                engine.stop()                # workers that started, if any (stopping a stopped one is a no-op)
                engine.backend.close()
            del engine
            free_device_memory()
            raise
        enc = engine.backend.encoder
        tokens = visual_tokens_text(engine.backend, engine.memory.config, enc.feature_grid)
        summary = (f"backend {engine.backend.name} ({enc.id}) on {enc.device} in {load_s:.1f} s "
                   f"(warm-up {warm:.1f} s); {tokens}")
        self.engine, self.started = engine, StartUp(load_s, warm, status, summary)
        return engine

    def close(self) -> str | None:
        """Stop the workers, save the memory (if it has a snapshot path), release the models and their
        device memory. Returns where the memory went (None: not saved); OSError if the save failed (the
        models are released all the same). A second call does nothing."""
        engine, self.engine = self.engine, None
        if engine is None:
            return None
        try:
            engine.close()
            return engine.config.snapshot_path or None
        finally:
            del engine
            free_device_memory()

    def __enter__(self) -> StreamEngine:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
