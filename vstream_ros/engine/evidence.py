"""The one serialisation of an answer's evidence: a plain record of a memory group (camera, kind, label,
stamps in seconds, weight, and the robot's pose at its newest posed run). The node's Evidence message
(ros/evidence.py), vstream-eval's report and the demo's printout are all made from it."""

from __future__ import annotations

from dataclasses import dataclass

from vstream_ros.memory import TokenGroup

Pose7 = tuple[float, float, float, float, float, float, float]   # x y z qx qy qz qw


@dataclass(frozen=True)
class EvidenceRecord:
    camera: str
    kind: str
    label: str
    start: float                  # seconds (stamp time)
    end: float
    weight: float
    pose: Pose7 | None = None     # the pose of the group's newest run that has one (a Nav2 goal as it is)
    pose_stamp: float = 0.0       # the end of that run

    @staticmethod
    def of(g: TokenGroup) -> EvidenceRecord:
        posed = [r for r in g.runs if r.pose is not None]
        pose = tuple(float(v) for v in posed[-1].pose[:7]) if posed else None
        return EvidenceRecord(g.camera, g.kind, g.label, float(g.start), float(g.end), float(g.weight), pose,
                              float(posed[-1].end) if posed else 0.0)

    def as_dict(self, origin: float = 0.0) -> dict:
        """JSON-able, times relative to `origin` (a stream's first stamp); the pose as x, y, z (4 decimals)."""
        return {"kind": self.kind, "camera": self.camera, "label": self.label, "start_s": self.start - origin,
                "end_s": self.end - origin, "weight": self.weight,
                "pose": [round(v, 4) for v in self.pose[:3]] if self.pose else None}
