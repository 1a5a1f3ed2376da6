"""rosbag2 files through `rosbags` (no ROS tooling): open mcap or sqlite3 bags, including old layouts
(type names without /msg/, sqlite3 bags without metadata.yaml), and write image bags."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TYPESTORE = get_typestore(Stores.ROS2_KILTED)


class BagError(RuntimeError):
    """A bag that cannot be opened or published: names the file and what is wrong."""


def normalize_type(msgtype: str) -> str:
    """'sensor_msgs/Image' (old bags) -> 'sensor_msgs/msg/Image'."""
    parts = msgtype.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else msgtype


def open_bag(path: str | Path) -> Reader:
    """An opened rosbags Reader; BagError with the reason for a missing or unreadable bag."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BagError(f"no bag at {path}")
    if path.is_file() and path.suffix in (".mcap", ".db3"):
        path = path.parent if (path.parent / "metadata.yaml").exists() else path
    try:
        reader = Reader(path)
        reader.open()
    except Exception as e:   # rosbags raises several types: unknown storage, bad metadata, ...
        raise BagError(f"cannot open bag {path}: {e}") from e
    return reader


def write_image_bag(path: str | Path, frames: Iterable[tuple[float, str, np.ndarray]], compressed: bool = True,
                    storage: str = "mcap", jpeg_quality: int = 90) -> Path:
    """Write (stamp_s, topic, rgb uint8 frame) as sensor_msgs/CompressedImage (JPEG) or Image (rgb8).

    Stamps go both into header.stamp and the bag's receive time, as a recorder would."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    msg_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    cls = TYPESTORE.types[msg_type]
    header_cls, time_cls = TYPESTORE.types["std_msgs/msg/Header"], TYPESTORE.types["builtin_interfaces/msg/Time"]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns = {}
    with Writer(path, version=9, storage_plugin=plugin) as w:
        for stamp, topic, rgb in frames:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msg_type, typestore=TYPESTORE)
            ns = round(stamp * 1e9)
            header = header_cls(stamp=time_cls(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=topic.strip("/"))
            if compressed:
                ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY,
                                                                                     jpeg_quality])
                msg = cls(header=header, format="jpeg", data=jpg.reshape(-1))
            else:
                h, wd = rgb.shape[:2]
                msg = cls(header=header, height=h, width=wd, encoding="rgb8", is_bigendian=0, step=wd * 3,
                          data=np.ascontiguousarray(rgb).reshape(-1))
            w.write(conns[topic], ns, TYPESTORE.serialize_cdr(msg, msg_type))
    return path
