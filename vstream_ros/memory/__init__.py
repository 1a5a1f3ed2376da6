"""Video memories, pure torch (no ROS, no model): the STAR memory (spatial, temporal, abstract, retrieved) of
Flash-VStream and the Flash Memory (context synopsis, detail augmentation) of Flash-VStream-Qwen."""

from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.flash import FlashMemory
from vstream_ros.memory.flash_config import FlashMemoryConfig
from vstream_ros.memory.multi import MultiCameraMemory
from vstream_ros.memory.read import KINDS, MemoryRead, TokenGroup
from vstream_ros.memory.snapshot import SnapshotError, quarantine
from vstream_ros.memory.star import STARMemory
from vstream_ros.memory.tracks import TextSighting, Track

__all__ = [
    "KINDS", "FlashMemory", "FlashMemoryConfig", "MemoryConfig", "MemoryRead", "MultiCameraMemory", "STARMemory",
    "SnapshotError", "TextSighting", "TokenGroup", "Track", "quarantine",
]
