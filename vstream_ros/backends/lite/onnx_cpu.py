"""Lite's two convolutional networks run by ONNX Runtime on a CPU.

Why: frame by frame on this 2-core machine, ONNX Runtime needs about a third of eager torch's CPU for
EfficientNet-Lite0 (7 vs 23 ms a 224 px frame) and three fifths for NanoDet (32 vs 52 ms a 416 px frame), and
those two are most of what a camera costs at ingest (`bench/node.py --runtime torch,onnxruntime`). Each
network is exported once with torch.onnx into the cache folder, under a key of what it was made from (its
weight files, the code that builds it, torch's version), and loaded from there afterwards. Where export or
ONNX Runtime is unavailable, lite says so in the log and keeps the network in torch; on a GPU, torch runs it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import warnings
from pathlib import Path

import torch

from vstream_ros.backends.lite.files import cache_dir

log = logging.getLogger(__name__)

RUNTIME_ENV = "VSTREAM_LITE_RUNTIME"
RUNTIMES = ("onnxruntime", "torch")
OPSET = 17


def wanted(device: torch.device | str = "cpu") -> bool:
    """Whether networks on `device` go to ONNX Runtime: on a CPU, unless $VSTREAM_LITE_RUNTIME is `torch`."""
    choice = os.environ.get(RUNTIME_ENV, RUNTIMES[0]).strip().lower() or RUNTIMES[0]
    if choice not in RUNTIMES:
        raise ValueError(f"{RUNTIME_ENV}={choice!r}: expected one of {', '.join(RUNTIMES)}")
    return torch.device(device).type == "cpu" and choice == "onnxruntime"


def digest(*parts: str | Path) -> str:
    """A short key of what an export was made from: file contents (a Path) and strings, with torch's version."""
    h = hashlib.sha256(torch.__version__.encode())
    for p in parts:
        data = p.read_bytes() if isinstance(p, Path) else p.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:16]


class Outputs(torch.nn.Module):
    """A callable as the module torch.onnx exports: x -> its named outputs in order (a callable that
    returns one tensor has one name)."""

    def __init__(self, fn, names: list[str]) -> None:
        super().__init__()
        self.fn, self.names = fn, names

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.fn(x)
        return (out,) if isinstance(out, torch.Tensor) else tuple(out[n] for n in self.names)


class OrtNetwork:
    """An exported network: one float input `x`, named float outputs. A session per thread count, made on
    first use, so that a lone frame runs on one thread and a batch on several (backend.cpu_threads)."""

    def __init__(self, path: Path, outputs: list[str]) -> None:
        import onnxruntime

        self.path, self.outputs = path, outputs
        self._ort = onnxruntime
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()
        self.session(1)                    # a file that does not load fails here, at load, not on a frame

    def session(self, threads: int):
        with self._lock:
            if threads not in self._sessions:
                opts = self._ort.SessionOptions()
                opts.intra_op_num_threads, opts.inter_op_num_threads = max(1, threads), 1
                # idle pool threads sleep rather than spin: a 1 Hz camera leaves the pool idle most of the time
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                opts.log_severity_level = 3
                self._sessions[threads] = self._ort.InferenceSession(str(self.path), opts,
                                                                     providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x -> outputs by name, on as many threads as torch has now (the caller's setting)."""
        out = self.session(torch.get_num_threads()).run(self.outputs, {"x": x.detach().float().cpu().numpy()})
        return {name: torch.from_numpy(o) for name, o in zip(self.outputs, out, strict=True)}


def export(name: str, module: torch.nn.Module, example: torch.Tensor, outputs: list[str], key: str,
           batch_axis: bool = False) -> Path:
    """The network's ONNX file in the cache folder, exported on first use (written whole, then renamed, so
    that two processes starting together never read half a file)."""
    # the outputs asked for are part of what the file is (one graph is exported with different heads): `kind`
    # names the network and its heads, the rest what they were made from
    kind = f"{name}-{hashlib.sha256(repr((outputs, batch_axis)).encode()).hexdigest()[:6]}"
    path = cache_dir() / "onnx" / f"{kind}-{digest(key, *outputs, str(batch_axis))}.onnx"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    axes = {n: {0: "batch"} for n in ["x", *outputs]} if batch_axis else None
    log.info("exporting %s to ONNX in %s (once)", name, path)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")      # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(module, (example,), str(tmp), dynamo=False, input_names=["x"], output_names=outputs,
                              opset_version=OPSET, dynamic_axes=axes)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    _forget_older(path, name, kind)
    return path


def _forget_older(path: Path, name: str, kind: str) -> None:
    """Remove the exports of the same network and heads made from older weights or code (an upgrade's new key
    left the old file behind: some 50 MB for lite's five networks each time), and the network's exports named
    as before heads had a part of the name (`name-<key>.onnx`)."""
    pattern = re.compile(rf"(?:{re.escape(kind)}|{re.escape(name)})-[0-9a-f]{{16}}\.onnx")
    stale = [p for p in path.parent.iterdir() if p != path and pattern.fullmatch(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        log.info("removed %d older ONNX export(s) of %s from %s", len(stale), kind, path.parent)


def load(name: str, module: torch.nn.Module, example: torch.Tensor, outputs: list[str], key: str,
         batch_axis: bool = False) -> OrtNetwork | None:
    """The network in ONNX Runtime, or None, with a warning saying why, where it cannot be (torch runs it)."""
    try:
        return OrtNetwork(export(name, module, example, outputs, key, batch_axis), outputs)
    except Exception as e:   # noqa: BLE001 (any failure of an optional speed-up leaves the torch path working)
        log.warning("%s runs in torch, not ONNX Runtime (%s: %s): about twice the CPU a frame",
                    name, type(e).__name__, e)
        return None
