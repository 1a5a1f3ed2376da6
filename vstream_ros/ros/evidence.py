"""Evidence records (engine/evidence.py) as vstream_ros/Evidence messages and back (for ~/query,
~/ask, ~/locate and their clients)."""

from __future__ import annotations

from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion
from std_msgs.msg import Header

from vstream_ros.engine.evidence import EvidenceRecord
from vstream_ros.memory import TokenGroup
from vstream_ros.msg import Evidence
from vstream_ros.ros.stamps import to_seconds, to_time


def evidence_msg(g: TokenGroup, pose_frame: str) -> Evidence:
    """A memory group as Evidence; the pose is that of its newest run with one (ready as a Nav2 goal)."""
    r = EvidenceRecord.of(g)
    ev = Evidence(stamp=to_time(r.start), stamp_end=to_time(r.end), camera=r.camera, kind=r.kind, label=r.label,
                  weight=r.weight)
    if r.pose is not None:
        x, y, z, qx, qy, qz, qw = r.pose
        ev.has_pose = True
        ev.pose = PoseStamped(header=Header(stamp=to_time(r.pose_stamp), frame_id=pose_frame),
                              pose=Pose(position=Point(x=x, y=y, z=z),
                                        orientation=Quaternion(x=qx, y=qy, z=qz, w=qw)))
    return ev


def evidence_record(ev: Evidence) -> EvidenceRecord:
    """An Evidence message as the record it was made from (the pose frame aside)."""
    p = ev.pose.pose
    pose = (p.position.x, p.position.y, p.position.z, p.orientation.x, p.orientation.y, p.orientation.z,
            p.orientation.w) if ev.has_pose else None
    return EvidenceRecord(ev.camera, ev.kind, ev.label, to_seconds(ev.stamp), to_seconds(ev.stamp_end), ev.weight,
                          pose, to_seconds(ev.pose.header.stamp) if ev.has_pose else 0.0)
