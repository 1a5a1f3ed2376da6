"""rosbag2 files through `rosbags` (no ROS tooling): open mcap or sqlite3 bags, including old layouts
(type names without /msg/, sqlite3 bags without metadata.yaml), and write image (and odometry) bags."""

from __future__ import annotations

import heapq
import math
import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from vstream_ros.tools import missing_extra

try:
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
except ImportError as e:   # the tools extra
    raise missing_extra(e) from e

TYPESTORE = get_typestore(Stores.ROS2_KILTED)


class BagError(RuntimeError):
    """A bag that cannot be opened or published: names the file and what is wrong."""


def normalize_type(msgtype: str) -> str:
    """'sensor_msgs/Image' (old bags) -> 'sensor_msgs/msg/Image'."""
    parts = msgtype.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else msgtype


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def payload(raw: bytes | memoryview) -> bytes:
    """The CDR bytes of a stored message. Bags recorded with per-message zstd compression, opened
    without their metadata (a split or a partial bag), hand the compressed bytes over: decompress them."""
    raw = bytes(raw)
    if raw[:4] == _ZSTD_MAGIC:
        from backports import zstd  # a dependency of rosbags

        return zstd.decompress(raw)
    return raw


def open_bag(path: str | Path) -> Reader:
    """An opened rosbags Reader; BagError with the reason for a missing or unreadable bag."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BagError(f"no bag at {path}")
    if path.is_file() and path.suffix in (".mcap", ".db3"):
        path = path.parent if (path.parent / "metadata.yaml").exists() else path
    elif path.is_dir() and not (path / "metadata.yaml").exists():
        files = sorted(path.glob("*.mcap")) + sorted(path.glob("*.db3"))
        if len(files) == 1:     # an old or partial bag: the storage file alone (rosbags reads it so)
            path = files[0]
    try:
        reader = Reader(path)
        reader.open()
    except Exception as e:   # rosbags raises several types: unknown storage, bad metadata, ...
        raise BagError(f"cannot open bag {path}: {e}") from e
    return reader


def _header(stamp: float, frame_id: str):
    ns = round(stamp * 1e9)
    types = TYPESTORE.types
    return types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                        frame_id=frame_id)


def odometry_message(stamp: float, x: float, y: float, yaw: float, speed: float = 0.0, turn_rate: float = 0.0,
                     frame_id: str = "odom", child_frame_id: str = "base_link"):
    """A rosbags nav_msgs/Odometry of a robot on the ground plane: pose (x, y, yaw) in `frame_id`, twist
    (forward speed, turn rate) in `child_frame_id`; covariances zero (unknown)."""
    t = TYPESTORE.types
    vec = lambda a=0.0, b=0.0, c=0.0: t["geometry_msgs/msg/Vector3"](x=a, y=b, z=c)   # noqa: E731
    pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=x, y=y, z=0.0),
                                       orientation=t["geometry_msgs/msg/Quaternion"](
                                           x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2)))
    zeros = np.zeros(36, np.float64)
    return t["nav_msgs/msg/Odometry"](
        header=_header(stamp, frame_id), child_frame_id=child_frame_id,
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=zeros),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](
            twist=t["geometry_msgs/msg/Twist"](linear=vec(speed), angular=vec(c=turn_rate)), covariance=zeros.copy()))


def image_message(stamp: float, topic: str, rgb: np.ndarray, compressed: bool, jpeg_quality: int = 90):
    """A rosbags sensor_msgs/CompressedImage (JPEG) or Image (rgb8) stamped `stamp` seconds."""
    types = TYPESTORE.types
    header = _header(stamp, topic.strip("/"))
    if compressed:
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        return types["sensor_msgs/msg/CompressedImage"](header=header, format="jpeg", data=jpg.reshape(-1))
    h, w = rgb.shape[:2]
    return types["sensor_msgs/msg/Image"](header=header, height=h, width=w, encoding="rgb8", is_bigendian=0,
                                          step=w * 3, data=np.ascontiguousarray(rgb).reshape(-1))


BagEntry = tuple[float, str, str, object]     # stamp s, topic, message type, rosbags message


def write_bag(path: str | Path, entries: Iterable[BagEntry], storage: str = "mcap") -> Path:
    """Write messages in the order given, each received at its stamp, as a recorder would."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns = {}
    with Writer(path, version=9, storage_plugin=plugin) as w:
        for stamp, topic, mtype, msg in entries:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, mtype, typestore=TYPESTORE)
            w.write(conns[topic], round(stamp * 1e9), TYPESTORE.serialize_cdr(msg, mtype))
    return path


def write_image_bag(path: str | Path, frames: Iterable[tuple[float, str, np.ndarray]],
                    raw_topics: Iterable[str] = (), storage: str = "mcap", others: Iterable[BagEntry] = ()) -> Path:
    """Write (stamp_s, topic, rgb uint8 frame) as sensor_msgs/Image (rgb8) on `raw_topics` and
    CompressedImage (JPEG) on every other topic, with header.stamp = receive time = stamp. `others`
    (odometry, say; in stamp order) are merged in by stamp, before frames of the same stamp."""
    raw = set(raw_topics)

    def images() -> Iterable[BagEntry]:
        for stamp, topic, rgb in frames:
            mtype = "sensor_msgs/msg/Image" if topic in raw else "sensor_msgs/msg/CompressedImage"
            yield stamp, topic, mtype, image_message(stamp, topic, rgb, topic not in raw)

    return write_bag(path, heapq.merge(others, images(), key=lambda e: e[0]), storage)
