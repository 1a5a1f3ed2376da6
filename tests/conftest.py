"""Test-wide environment: DDS stays on loopback, each run gets its own domain, nothing downloads.

scripts/env.sh sets the same for the README's commands; these defaults cover a bare `pytest`.
"""

import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_loopback.xml"))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Child processes (nodes, tools, benches) import the same source tree as this process; the generated
# interfaces come from the installed package through vstream_ros.__path__ (see vstream_ros/__init__.py).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="module")
def backend():
    """The tiny random backend (engine tests); a module may define its own."""
    from vstream_ros.backends import load_backend

    return load_backend("tiny", seed=0)


VIDEOS = REPO / "tests" / "fixtures" / "videos"


def frame_at(clip: str, seconds: float):
    """The RGB frame of a fixture clip at a time (OpenCV decodes it)."""
    import cv2

    cap = cv2.VideoCapture(str(VIDEOS / clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, round(seconds * cap.get(cv2.CAP_PROP_FPS)))
    ok, bgr = cap.read()
    cap.release()
    assert ok, (clip, seconds)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
