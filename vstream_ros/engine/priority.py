"""Ingest first: the answer worker gives way to the encoder, and stops at once when told to.

Answering and encoding share the CPU (or the GPU). A global torch forward pre-hook runs before every
module's forward; on any thread but an answering one it returns at once. On the answer thread it
waits while a sampled frame waits for the encoder or is being encoded, and raises `AnswerStopped`
when the question is cancelled or past its deadline: between two layers, so also in the middle of a
long prompt's first forward pass. The encoder thus keeps its due frames however long answers run,
and an answer only waits while frames are being encoded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

POLL_S = 0.05                      # how often a waiting answer looks at its cancel flag and deadline


class AnswerStopped(BaseException):
    """Raised inside the model on the answer thread. A BaseException, so that library code catching
    Exception cannot swallow it; the answer service catches it by name."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why             # "cancelled" or "timed out"


class Gate:
    """What an answer checks before each module: stop now, or wait for the encoder first."""

    def __init__(self, cancel: threading.Event, deadline: float, ingest_busy: Callable[[], bool],
                 wait_idle: Callable[[float], bool]) -> None:
        self.cancel, self.deadline = cancel, deadline
        self._busy, self._wait_idle = ingest_busy, wait_idle
        self.yielded_s = 0.0       # time this answer spent waiting for the encoder

    def check(self) -> None:
        self._stop_if_told()
        if not self._busy():
            return
        t0 = time.monotonic()
        try:
            while not self._wait_idle(POLL_S):
                self._stop_if_told()
        finally:
            self.yielded_s += time.monotonic() - t0

    def _stop_if_told(self) -> None:
        if self.cancel.is_set():
            raise AnswerStopped("cancelled")
        if time.monotonic() > self.deadline:
            raise AnswerStopped("timed out")


_local = threading.local()
_install_lock = threading.Lock()
_installed = False


def _before_forward(module, args) -> None:
    gate = getattr(_local, "gate", None)
    if gate is not None:
        gate.check()


@contextmanager
def gated(gate: Gate) -> Iterator[Gate]:
    """Run the block with `gate` checked before every torch module's forward on this thread."""
    global _installed
    with _install_lock:
        if not _installed:
            torch.nn.modules.module.register_module_forward_pre_hook(_before_forward)
            _installed = True
    _local.gate = gate
    try:
        yield gate
    finally:
        _local.gate = None
