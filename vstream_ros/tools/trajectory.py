"""A known robot trajectory for synthetic bags and the demo: the robot drives a circular loop and
stops at evenly spaced stations, one per scene, and publishes its odometry.

Station k sits at angle 2*pi*k/n on a circle of `radius_m` whose centre is `radius_m` to the left of
the start, so the robot starts at the origin of the odom frame facing +x, as a real one does. Each
period begins with `drive_s` seconds of driving (at constant speed along the arc) from the previous
station, then the robot stands at its station until the next period; the first period has no drive.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from vstream_ros.tools.bags import odometry_message

ODOM_TOPIC = "/odom"


@dataclass(frozen=True)
class StationLoop:
    stations: int           # places on the loop (scenes), evenly spaced
    period_s: float         # from one station's period to the next
    drive_s: float          # driving at the start of each period but the first
    radius_m: float = 2.0

    def _angle(self, k: float) -> float:
        return 2.0 * math.pi * k / self.stations

    def station(self, k: int) -> tuple[float, float, float]:
        """(x, y, yaw) of station k in the odom frame."""
        return self._pose(self._angle(k))

    def _pose(self, theta: float) -> tuple[float, float, float]:
        r = self.radius_m
        return r * math.sin(theta), r * (1.0 - math.cos(theta)), math.atan2(math.sin(theta), math.cos(theta))

    def standing(self, k: int) -> tuple[float, float]:
        """Seconds since the start during which the robot stands at station k: [from, to)."""
        return k * self.period_s + (self.drive_s if k else 0.0), (k + 1) * self.period_s

    def at(self, t: float) -> tuple[float, float, float, float, float]:
        """(x, y, yaw, forward speed m/s, turn rate rad/s) at `t` seconds since the start."""
        k = min(max(int(t // self.period_s), 0), self.stations - 1)
        into = t - k * self.period_s
        if k == 0 or into >= self.drive_s - 1e-9 or self.drive_s <= 0:   # (arrived: float stamps)
            return (*self.station(k), 0.0, 0.0)
        step = self._angle(1)
        theta = self._angle(k - 1) + step * into / self.drive_s
        return (*self._pose(theta), self.radius_m * step / self.drive_s, step / self.drive_s)

    def odometry(self, t0: float, seconds: float, hz: float, topic: str = ODOM_TOPIC,
                 frame_id: str = "odom", child_frame_id: str = "base_link") -> Iterator[tuple[float, str, str, object]]:
        """nav_msgs/Odometry at `hz` from stamp t0 for `seconds` (inclusive), as bag entries
        (stamp, topic, type, message)."""
        n = int(math.floor(seconds * hz + 1e-9))
        for i in range(n + 1):
            t = i / hz
            yield t0 + t, topic, "nav_msgs/msg/Odometry", odometry_message(t0 + t, *self.at(t), frame_id,
                                                                           child_frame_id)
