"""Helpers of the engine tests (test_engine, test_reliability): plain frames, a started engine, feeding."""

import numpy as np

from vstream_ros.engine import EngineConfig, StreamEngine


def frame(v=100, h=24, w=32):
    return np.full((h, w, 3), v, np.uint8)


def engine_with(backend, **cfg):
    e = StreamEngine(backend, EngineConfig(**{"snapshot_path": "", **cfg}))
    e.start()
    return e


def feed(engine, camera, stamps, value=100):
    return [engine.offer(camera, t, frame(value), wait=True) for t in stamps]
