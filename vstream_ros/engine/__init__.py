"""The engine: frames in, questions answered, memory kept; plain Python + torch, no ROS.
`StreamEngine` (stream.py) composes the parts; `build_engine` (build.py) assembles one from settings;
`EngineSession` (startup.py) is every front end's start-up and close."""

from vstream_ros.engine.build import build_engine
from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.encoding import FrameTiming
from vstream_ros.engine.health import CameraInput, Health, Level
from vstream_ros.engine.ingest import CameraStats, Offered, Outcome
from vstream_ros.engine.jobs import CANCELLED, QueryResult, QuestionJob
from vstream_ros.engine.startup import EngineSession
from vstream_ros.engine.stream import CameraReport, StreamEngine

__all__ = [
    "CANCELLED", "CameraInput", "CameraReport", "CameraStats", "EngineConfig", "EngineSession", "FrameTiming",
    "Health", "Level",
    "Offered", "Outcome",
    "QueryResult", "QuestionJob", "StreamEngine", "build_engine",
]
