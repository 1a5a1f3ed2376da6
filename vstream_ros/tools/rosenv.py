"""Keep every tool's DDS traffic on this machine: set before rclpy is imported."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROFILE = "fastdds_loopback.xml"


def loopback_profile() -> Path | None:
    """The loopback-only Fast DDS profile: the installed share/ copy, or the source tree's."""
    for candidate in (Path(sys.prefix) / "share" / "vstream_ros" / "config" / PROFILE,
                      Path(__file__).resolve().parents[2] / "config" / PROFILE):
        if candidate.exists():
            return candidate
    return None


def ensure_loopback() -> None:
    """Discovery on localhost only (Kilted ignores ROS_LOCALHOST_ONLY) and the loopback profile."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    profile = loopback_profile()
    if profile and "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
