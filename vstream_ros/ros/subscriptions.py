"""The node's inputs: one subscription per camera (message type from the graph, else from the name;
QoS from the parameters) and the robot's pose topic. A callback never runs a model: it checks the header,
offers the frame with a decoder that runs only if the frame is due, and counts refusals (no logging per
frame: rclpy's logger inspects its caller on every call, throttled or not)."""

from __future__ import annotations

import difflib
import functools

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from nav_msgs.msg import Odometry
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from vstream_ros.engine import CameraInput
from vstream_ros.frames import FrameRejected
from vstream_ros.ros.executor import InlineCallbackGroup
from vstream_ros.ros.guard import guarded
from vstream_ros.ros.image_codec import check_image, compressed_to_rgb, image_thumbnail, image_to_rgb
from vstream_ros.ros.pose_msgs import ODOMETRY, POSE_TYPES, POSE_WITH_COVARIANCE, pose_type, unpack
from vstream_ros.ros.stamps import frame_stamp

# poses: keep the newest, take them from reliable and best-effort publishers alike (odometry drivers use
# either), never ask for old ones (a transient-local request would not match a volatile /odom)
POSE_QOS = QoSProfile(depth=50, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


# No QoS event handlers on a camera subscription. With rmw_fastrtps, a subscription's event handlers wake
# the executor's wait set while a message waits to be taken, and the subscription is out of the wait set
# while its callback is queued or running: rclpy's MultiThreadedExecutor then spun thousands of times a
# second holding the GIL, and the node received about half of two 30 Hz cameras' frames on 2 cores.
# rclpy's default handlers only log an incompatible QoS or type; camera_sources() reports both (to the
# diagnostics, from the graph) instead.
CAMERA_EVENTS = SubscriptionEventCallbacks(use_default_callbacks=False)


def camera_qos(reliability: str, depth: int) -> QoSProfile:
    """`reliable`, or the sensor-data profile (best effort) at the given depth."""
    if reliability == "reliable":
        return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
    return QoSProfile(depth=depth, reliability=qos_profile_sensor_data.reliability,
                      durability=qos_profile_sensor_data.durability, history=qos_profile_sensor_data.history)


IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def is_compressed(resolved: str, types: list[str]) -> bool:
    """CompressedImage if the graph says so, else for a name ending in /compressed (image_transport's way)."""
    return "sensor_msgs/msg/CompressedImage" in types or (not types and resolved.endswith("/compressed"))


class Subscriptions:
    """Mixed into VStreamNode: needs `engine`, `p()`, `cameras()`, `_max_pixels`, `_guard`; keeps `_subs`
    and `_camera_topics` (camera name: resolved topic, expected type)."""

    def _subscribe(self) -> None:
        """Every camera, then the pose topic; released together by `_unsubscribe`. The engine watches
        the cameras from now on: each is listed in ~/memory_state, and a silent one is a WARN."""
        self._camera_topics = {}
        known = dict(self.get_topic_names_and_types())
        qos = camera_qos(self.p("qos_reliability"), self.p("qos_depth"))
        for topic, name in self.cameras():
            resolved = self.resolve_topic_name(topic)
            compressed = is_compressed(resolved, known.get(resolved, []))
            group = InlineCallbackGroup()   # one camera's frames in order, on the spin thread (ros/executor.py)
            self._ingest_groups.append(group)
            cb = functools.partial(self._on_compressed if compressed else self._on_image, name)
            self._subs.append(self.create_subscription(CompressedImage if compressed else Image, topic, cb, qos,
                                                       callback_group=group, event_callbacks=CAMERA_EVENTS))
            self._camera_topics[name] = (resolved, IMAGE_TYPES[compressed])
            self.get_logger().info(f"camera {name!r}: {resolved} ({'CompressedImage' if compressed else 'Image'})")
        if self.engine is not None:
            self.engine.watch(list(self._camera_topics))
        self._subscribe_pose(known)

    def _unsubscribe(self) -> None:
        cameras, poses = len(self._camera_topics), len(self._subs) - len(self._camera_topics)
        for s in self._subs:
            self.destroy_subscription(s)
        self._subs.clear()
        self._ingest_groups.clear()
        self._camera_topics = {}
        if self.engine is not None:
            self.engine.watch([])
        if cameras:
            self.get_logger().info(f"released {cameras} camera subscription(s)"
                                   + (" and the pose subscription" if poses > 0 else ""))

    def camera_sources(self) -> dict[str, CameraInput]:
        """Per subscribed camera, what the graph says of its topic: the publishers' types, whether their
        QoS can reach this subscription, and image topics with close names (for a mistyped one)."""
        if not self._camera_topics:
            return {}
        images = [t for t, types in self.get_topic_names_and_types() if set(types) & set(IMAGE_TYPES)]
        reliable = self.p("qos_reliability") == "reliable"
        out = {}
        for name, (topic, expected) in self._camera_topics.items():
            pubs = self.get_publishers_info_by_topic(topic)
            best_effort = [i for i in pubs if i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT]
            incompatible = (f"{len(best_effort)} publish best effort, which a reliable subscription does not "
                            "receive: set qos_reliability best_effort") if reliable and best_effort else ""
            close = [t for t in images if t != topic and (t.startswith(topic + "/") or
                     difflib.SequenceMatcher(None, t, topic).ratio() > 0.75)]
            out[name] = CameraInput(topic, expected, tuple(i.topic_type for i in pubs), incompatible, tuple(close[:3]))
        return out

    # --------------------------------------------------------------- ingest
    def _on_image(self, camera: str, msg: Image) -> None:
        self._ingest(camera, msg, image_to_rgb, check_image)

    def _on_compressed(self, camera: str, msg: CompressedImage) -> None:
        self._ingest(camera, msg, compressed_to_rgb, None)

    def _ingest(self, camera: str, msg, decode, check) -> None:
        """Cheap header checks, then the frame is offered with a decoder that only runs if it is due."""
        engine = self.engine
        if engine is None:
            return
        try:
            if check is not None:
                check(msg, self._max_pixels)
            decoder = functools.partial(decode, msg, self._max_pixels)
            if decode is image_to_rgb:                  # raw pixels: the sampler may look at them in place
                decoder.thumbnail = functools.partial(image_thumbnail, msg)
            engine.offer(camera, frame_stamp(msg.header.stamp), decoder)
        except FrameRejected as e:
            engine.reject(camera, e)
        except Exception as e:   # the last resort: no frame may end the executor's spin
            self._guard.caught(f"camera {camera} callback", e)
            engine.reject(camera, FrameRejected("callback_error", type(e).__name__))

    # ---------------------------------------------------------------- poses
    def _subscribe_pose(self, known: dict[str, list[str]]) -> None:
        """Subscribe to `pose_topic` (if set) with the type it has on the graph."""
        topic = self.p("pose_topic")
        if not topic:
            return
        resolved = self.resolve_topic_name(topic)
        on_graph = known.get(resolved, [])
        if on_graph and not set(on_graph) & set(POSE_TYPES):
            self.get_logger().error(f"pose_topic {resolved} carries {on_graph}, not a pose type of {POSE_TYPES}: "
                                    "no poses")
            return
        kind = pose_type(resolved, on_graph)
        cls = {ODOMETRY: Odometry, POSE_WITH_COVARIANCE: PoseWithCovarianceStamped}.get(kind, PoseStamped)
        self._subs.append(self.create_subscription(cls, topic, self._on_pose, POSE_QOS,
                                                   callback_group=InlineCallbackGroup()))
        self.get_logger().info(f"robot pose: {resolved} ({kind.rsplit('/', 1)[-1]}); frames more than "
                               f"{self.p('pose_max_gap_s')} s from a pose get none")

    @guarded(lambda self, msg, error: None)
    def _on_pose(self, msg) -> None:
        """Every pose message: into the engine's buffer, nothing else (unusable ones are counted there)."""
        engine = self.engine
        if engine is not None:
            engine.poses.add(*unpack(msg))
