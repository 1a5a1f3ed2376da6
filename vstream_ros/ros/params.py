"""The node's parameters, derived from the settings' one declaration (vstream_ros/config.py): the
ROS-only settings below, the backend, the memory sizes and the engine's. config/vstream.yaml holds
the same defaults (a test keeps them in step)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from vstream_ros.config import BackendConfig, MemorySizes, SettingSpec, setting, specs, validate
from vstream_ros.engine import EngineConfig


@dataclass(frozen=True)
class NodeConfig:
    """Settings only the node has: lifecycle, subscriptions, reporting."""

    autostart: bool = setting(True, "Configure and activate at start, for use without a lifecycle manager")
    camera_topics: list[str] = setting(
        ["/camera/image_raw"],
        "Image topics; sensor_msgs/Image, or CompressedImage for topics ending in /compressed or so typed")
    camera_names: list[str] = setting([""], "A name per topic for answers' evidence; empty: derived from the topic")
    qos_reliability: str = setting("best_effort", "Subscription reliability: best_effort (sensor data) or reliable",
                                   choices=("best_effort", "reliable"))
    qos_depth: int = setting(5, "Subscription queue depth", range=(1, 1000))
    pose_topic: str = setting(
        "", "The robot's pose: nav_msgs/Odometry, geometry_msgs/PoseStamped or PoseWithCovarianceStamped (type from "
        "the graph, else from the name); each encoded frame gets the pose at its stamp; empty: no poses")
    max_image_pixels: int = setting(16777216, "Larger frames are refused", range=(4, 268435456), runtime=True)
    memory_state_period_s: float = setting(1.0, "Period of ~/memory_state and /diagnostics", range=(0.05, 60.0))

    def __post_init__(self) -> None:
        validate(self)   # a choice the descriptor cannot express (qos_reliability) is checked at configure


def descriptor(spec: SettingSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(name=spec.name, description=spec.description, read_only=not spec.runtime)
    if spec.choices:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
        else:
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
    return d


SECTIONS: dict[type, tuple[SettingSpec, ...]] = {
    cls: tuple(specs(cls)) for cls in (NodeConfig, BackendConfig, MemorySizes, EngineConfig)}
PARAMS: tuple[SettingSpec, ...] = tuple(s for group in SECTIONS.values() for s in group)
BY_NAME = {p.name: p for p in PARAMS}
assert len(BY_NAME) == len(PARAMS), "a parameter name is declared twice"


def unknown_parameters(given: list[str], declared: set[str]) -> list[str]:
    """Why each parameter given to the node (params file, `-p`) that it does not declare is refused, with
    the nearest declared name; rclpy's own qos_overrides.* are known."""
    out = []
    for name in sorted(set(given) - declared):
        if name.startswith("qos_overrides."):
            continue
        near = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
        out.append(f"unknown parameter {name!r}" + (f" (did you mean {near[0]}?)" if near else
                                                      " (ros2 param list shows the node's parameters)"))
    return out


def bad_value(spec: SettingSpec, value) -> str:
    """Why a start-up value (params file, `-p`, launch argument) was refused: the parameter, what it got,
    and its range or type."""
    kind = type(spec.default).__name__
    if not isinstance(value, type(spec.default)) or isinstance(value, bool) != isinstance(spec.default, bool):
        return (f"{spec.name} = {value!r} has the wrong type: it must be a {kind}"
                + (" (write 2.0, not 2)" if kind == "float" and isinstance(value, int) else ""))
    if spec.range is not None:
        return f"{spec.name} = {value!r} is out of range: it must be in [{spec.range[0]:g}, {spec.range[1]:g}]"
    return f"{spec.name} = {value!r} is not allowed"
