"""Robot pose messages -> what the engine's PoseBuffer takes, one rule for the node and the tools.

Three message types carry a robot's pose: nav_msgs/Odometry (/odom, in the odom frame), and
geometry_msgs/PoseWithCovarianceStamped (/amcl_pose, in the map frame) or PoseStamped (a relay, a
motion-capture system). rclpy's classes and rosbags' deserialised messages have the same fields, so
`unpack` serves both without importing either.
"""

from __future__ import annotations

from vstream_ros.ros.stamps import to_seconds

ODOMETRY = "nav_msgs/msg/Odometry"
POSE_WITH_COVARIANCE = "geometry_msgs/msg/PoseWithCovarianceStamped"
POSE_STAMPED = "geometry_msgs/msg/PoseStamped"
POSE_TYPES = (ODOMETRY, POSE_WITH_COVARIANCE, POSE_STAMPED)

Unpacked = tuple[float, tuple[float, float, float], tuple[float, float, float, float], str]


def pose_type(topic: str, graph_types: list[str]) -> str:
    """The pose type of a topic: its type on the graph when it is one of POSE_TYPES, else guessed from
    its name (the node subscribes before a bag or a robot publishes): Odometry for names with "odom"
    (/odom, /odometry/filtered), PoseWithCovarianceStamped for AMCL's and "...covariance" topics, else
    PoseStamped."""
    for t in POSE_TYPES:
        if t in graph_types:
            return t
    name = topic.lower()
    if "odom" in name:
        return ODOMETRY
    if "amcl" in name or "covariance" in name:
        return POSE_WITH_COVARIANCE
    return POSE_STAMPED


def unpack(msg) -> Unpacked:
    """(stamp s, (x, y, z), (qx, qy, qz, qw), frame_id) of an Odometry, PoseWithCovarianceStamped or
    PoseStamped message: the pose of the robot's base in the header's frame."""
    pose = msg.pose
    if hasattr(pose, "covariance"):      # Odometry and PoseWithCovarianceStamped: PoseWithCovariance
        pose = pose.pose
    p, q, stamp = pose.position, pose.orientation, msg.header.stamp
    return (to_seconds(stamp), (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), msg.header.frame_id)
