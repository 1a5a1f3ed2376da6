"""vstream-eval's inputs: the frames of a rosbag2 or a video file, in stamp order, each with a decoder
that runs only if the engine's sampler keeps the frame; a bag's robot poses go into a PoseBuffer as they
come, as from the node's pose_topic. Stamps follow the node's rule (ros/stamps.frame_stamp)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from vstream_ros.cameras import camera_names
from vstream_ros.engine.poses import PoseBuffer
from vstream_ros.frames import FrameRejected

Frame = tuple[str, float, Callable[[], np.ndarray]]   # camera, stamp (s), decoder

VIDEO_T0 = 1.0   # video frames are stamped VIDEO_T0 + index / fps: a zero stamp means "unset" in ROS


def video_frames(path: Path) -> Iterator[Frame]:
    """Frames of a video file (OpenCV), stamped by index / fps; only the frames the sampler keeps are decoded."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    i = 0
    try:
        while cap.grab():
            def decode(cap=cap, i=i) -> np.ndarray:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise FrameRejected("corrupt_video_frame", f"frame {i} of {path.name} does not decode")
                return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            yield "video", VIDEO_T0 + i / fps, decode
            i += 1
    finally:
        cap.release()


def bag_frames(path: Path, poses: PoseBuffer | None = None, pose_topic: str = "") -> Iterator[Frame]:
    """Image and CompressedImage messages of a rosbag2, one camera per topic, stamped by header.stamp
    (by the bag's receive time where the header was never stamped). The robot's poses (`pose_topic`, or
    the bag's only pose topic; "none": no poses) go into `poses` as they come in bag order, so every
    frame finds the poses around its stamp, as from the node's pose_topic."""
    from vstream_ros.ros.image_codec import compressed_to_rgb, image_to_rgb
    from vstream_ros.ros.pose_msgs import unpack
    from vstream_ros.ros.stamps import frame_stamp
    from vstream_ros.tools.bags import TYPESTORE, normalize_type, open_bag, payload

    reader = open_bag(path)
    try:
        conns = [c for c in reader.connections if normalize_type(c.msgtype) in
                 ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")]
        if not conns:
            raise ValueError(f"{path} has no Image or CompressedImage topic: {sorted(reader.topics)}")
        topics = sorted({c.topic for c in conns})
        names = dict(zip(topics, camera_names(topics), strict=True))
        pose_conns = pose_connections(reader, pose_topic) if poses is not None else []
        pose_ids = {c.id for c in pose_conns}
        for conn, t_ns, raw in reader.messages(connections=conns + pose_conns):
            mtype = normalize_type(conn.msgtype)
            msg = TYPESTORE.deserialize_cdr(payload(raw), mtype)
            if conn.id in pose_ids:
                poses.add(*unpack(msg))
                continue
            stamp = frame_stamp(msg.header.stamp, t_ns)   # never stamped: the recorder's receive time
            decode = compressed_to_rgb if mtype.endswith("CompressedImage") else image_to_rgb
            yield names[conn.topic], stamp, (lambda m=msg, d=decode: d(m))
    finally:
        reader.close()


def pose_connections(reader, pose_topic: str = "") -> list:
    """The bag's connections of the pose topic to feed: `pose_topic`, or the only topic of a pose type
    (none, with a note on stderr, when there are several and none was chosen); "none": no poses."""
    from vstream_ros.ros.pose_msgs import POSE_TYPES
    from vstream_ros.tools.bags import normalize_type

    if pose_topic == "none":
        return []
    posed = [c for c in reader.connections if normalize_type(c.msgtype) in POSE_TYPES]
    if pose_topic:
        chosen = [c for c in posed if c.topic == pose_topic]
        if not chosen:
            raise ValueError(f"no pose topic {pose_topic} in the bag; its pose topics: "
                             f"{sorted({c.topic for c in posed})}")
        return chosen
    if len({c.topic for c in posed}) > 1:
        print(f"vstream-eval: several pose topics {sorted({c.topic for c in posed})}: no poses fed; choose one "
              "with --pose-topic", file=sys.stderr)
        return []
    return posed


def require_input(path: Path) -> None:
    """A missing bag or video is a ValueError that names it (vstream-eval checks before loading a model)."""
    if not path.exists():
        raise ValueError(f"no such bag or video: {path}")


def open_input(path: Path, poses: PoseBuffer | None = None, pose_topic: str = "") -> Iterator[Frame]:
    require_input(path)
    if path.is_dir() or path.suffix in (".mcap", ".db3"):
        return bag_frames(path, poses, pose_topic)
    return video_frames(path)
