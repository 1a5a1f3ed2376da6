"""Which memory a model's memory config asks for: the STAR memory (Flash-VStream) or the Flash Memory
(Flash-VStream-Qwen). A backend chooses by the type of its `memory_config`; MultiCameraMemory builds
one memory of that kind per camera and writes snapshots in its format."""

from __future__ import annotations

from dataclasses import dataclass

from vstream_ros.memory import snapshot
from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.flash import FlashMemory
from vstream_ros.memory.flash_config import FlashMemoryConfig
from vstream_ros.memory.star import STARMemory


@dataclass(frozen=True)
class MemoryKind:
    name: str
    memory: type                 # built as memory(config, dim, grid, device, dtype, encoder_id, annotation_dim)
    snapshot_format: str
    snapshot_version: int


KINDS: dict[type, MemoryKind] = {
    MemoryConfig: MemoryKind("star", STARMemory, snapshot.FORMAT, snapshot.FORMAT_VERSION),
    FlashMemoryConfig: MemoryKind("flash", FlashMemory, snapshot.FLASH_FORMAT, snapshot.FLASH_FORMAT_VERSION),
}


def memory_kind(config: object) -> MemoryKind:
    """The memory a config is for; TypeError for a config of no known memory."""
    try:
        return KINDS[type(config)]
    except KeyError:
        raise TypeError(f"no memory takes a {type(config).__name__}; known: "
                        f"{', '.join(c.__name__ for c in KINDS)}") from None
