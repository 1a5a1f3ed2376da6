"""One declaration per setting: its default, description, range, choices and whether it may change
while running live on the dataclass field that holds it. The node's parameters, their descriptors,
config/vstream.yaml (checked by a test) and the engine's run-time updates all derive from these fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vstream_ros.backends.registry import backend_names
from vstream_ros.memory import FlashMemoryConfig, MemoryConfig
from vstream_ros.memory.config import RETRIEVALS


def setting(default: Any, description: str, *, range: tuple[float, float] | None = None, runtime: bool = False,
            choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()) -> Any:
    """A dataclass field that also declares the setting (lists get a fresh copy per instance). `choices`
    may be a function, asked each time the settings are read (the registry's backends)."""
    meta = {"description": description, "range": range, "runtime": runtime, "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    description: str
    range: tuple[float, float] | None
    runtime: bool
    choices: tuple[str, ...]


def specs(cls: type) -> Iterator[SettingSpec]:
    """The declared settings of a dataclass, in field order."""
    for f in dataclasses.fields(cls):
        if "description" in f.metadata:
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            meta = dict(f.metadata)
            if callable(meta["choices"]):
                meta["choices"] = tuple(meta["choices"]())
            yield SettingSpec(f.name, default, **meta)


def runtime_names(cls: type) -> frozenset[str]:
    return frozenset(s.name for s in specs(cls) if s.runtime)


def validate(obj: object) -> None:
    """Check every declared range and choice of a settings object (ValueError names the setting)."""
    for s in specs(type(obj)):
        value = getattr(obj, s.name)
        if s.choices and value not in s.choices:
            raise ValueError(f"{s.name} must be one of {', '.join(s.choices)}, got {value!r}")
        if s.range is not None and not s.range[0] <= value <= s.range[1]:
            raise ValueError(f"{s.name} must be in [{s.range[0]}, {s.range[1]}], got {value!r}")


@dataclass(frozen=True)
class BackendConfig:
    """Which model to load, and where."""

    backend: str = setting("lite", "Model backend (backends/registry.py)", choices=backend_names)
    model_path: str = setting("", "Local checkpoint folder (flash_vstream, flash_vstream_qwen); empty: the "
                              "backend's default")
    vision_tower_path: str = setting("", "Local CLIP folder when the checkpoint has no vision-tower weights")
    max_pixels: int = setting(200704, "Per-frame pixel budget of native-resolution backends (flash_vstream_qwen): "
                              "frames are resized to at most this many pixels, aspect kept", range=(3136, 16777216))
    device: str = setting("auto", "auto, cpu, cuda or cuda:N")
    dtype: str = setting("auto", "auto (bf16 on GPU, fp32 on CPU), float32, float16 or bfloat16")
    star_retrieval: str = setting("heaviest", "flash_vstream: the retrieved memory's key frames: heaviest (the "
                                  "representatives of the heaviest slots) or cluster_id (upstream's code: the "
                                  "frame at each heavy cluster's id, always one of the first 25; for fidelity runs)",
                                  choices=RETRIEVALS)
    hands: bool = setting(True, "lite: see hands (MediaPipe's palm detector, confirmed by its hand landmark model): "
                          "about 0.05-0.09 of a core more per 30 Hz camera on a 2-core CPU; off for cameras that "
                          "never see hands")
    faces: bool = setting(True, "lite: see faces (MediaPipe's BlazeFace, confirmed by its face mesh model), so "
                          "that 'did you see anyone's face?' has an answer; off where faces must not be looked for")

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class MemorySizes:
    """STAR memory sizes chosen by the user; 0 means the model's own value (its checkpoint config)."""

    spatial_frames: int = setting(0, "STAR spatial memory: newest frames kept; 0: the model's own", range=(0, 64))
    spatial_size: int = setting(0, "Side of spatial and retrieved maps; 0: the model's own", range=(0, 64))
    temporal_slots: int = setting(0, "STAR temporal memory: clusters; 0: the model's own", range=(0, 1024))
    temporal_size: int = setting(0, "Side of a temporal slot's map; 0: the model's own", range=(0, 64))
    abstract_slots: int = setting(0, "STAR abstract memory: slots; 0: the model's own", range=(0, 1024))
    abstract_update_ratio: float = setting(0.0, "Abstract memory update ratio alpha; 0: the model's own",
                                           range=(0.0, 1.0))
    retrieved_frames: int = setting(0, "STAR retrieved memory: key frames; 0: the model's own", range=(0, 64))

    def __post_init__(self) -> None:
        validate(self)

    def apply(self, model: MemoryConfig | FlashMemoryConfig) -> MemoryConfig | FlashMemoryConfig:
        """The model's sizes with every non-zero choice of the user put over them. A size the model's
        memory does not have (the Flash Memory has temporal_slots and retrieved_frames) is an error."""
        chosen = {f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name))}
        unknown = sorted(set(chosen) - {f.name for f in dataclasses.fields(model)})
        if unknown:
            raise ValueError(f"this model's {type(model).__name__} has no {', '.join(unknown)}; leave them 0")
        return dataclasses.replace(model, **chosen)
