"""STAR memory (spatial, temporal, abstract, retrieved) of Flash-VStream: pure torch, no ROS, no model."""

from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.multi import MultiCameraMemory
from vstream_ros.memory.read import KINDS, MemoryRead, TokenGroup
from vstream_ros.memory.snapshot import SnapshotError, quarantine
from vstream_ros.memory.star import STARMemory

__all__ = [
    "KINDS", "MemoryConfig", "MemoryRead", "MultiCameraMemory", "STARMemory", "SnapshotError", "TokenGroup",
    "quarantine",
]
