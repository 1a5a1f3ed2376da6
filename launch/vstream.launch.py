"""Start the vstream node (launch_ros):

    ros2 launch vstream_ros vstream.launch.py params_file:=my.yaml camera_topics:=/front/image_raw

`params_file` (config/vstream.yaml by default) is the base. Every other argument overrides it only
when given on the command line: none has a default that silently wins over the file. Lists take
YAML (`camera_topics:="['/a/image_raw', '/b/image_raw/compressed']"`) or plain comma-separated
names (`camera_topics:=/a/image_raw`). An empty string needs quotes the shell keeps:
`snapshot_path:="''"` (launch refuses `name:=` with nothing after it). An argument this file does not
declare (a typo: `pose_topc:=/odom`) stops the launch, naming it and the nearest declared one; settings
without an argument here go in the params file (the node refuses unknown keys there at configure).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from vstream_ros.backends.registry import backend_names

# config/ sits beside launch/ both in the source tree and in share/vstream_ros
DEFAULT_PARAMS = Path(__file__).resolve().parent.parent / "config" / "vstream.yaml"

# Node parameters settable here: (argument, type, description). Left out: params_file's value.
# tests/test_launch.py checks each name and type against the node's declared parameters.
PARAMETERS = (
    ("camera_topics", list, "Image or CompressedImage topics: a YAML list, or names separated by commas"),
    ("backend", str, " | ".join(backend_names())),
    ("model_path", str, "Local checkpoint folder (flash_vstream, flash_vstream_qwen)"),
    ("device", str, "auto | cpu | cuda | cuda:N"),
    ("sample_rate_hz", float, "Frames kept per camera per second of header.stamp"),
    ("pose_topic", str, "Robot pose: nav_msgs/Odometry, PoseStamped or PoseWithCovarianceStamped; \"''\": none"),
    ("snapshot_path", str, "Memory snapshot file; \"''\": no persistence"),
    ("qos_reliability", str, "best_effort (live sensors) | reliable (bag replay without loss)"),
    ("autostart", bool, "Configure and activate at start (false: wait for a lifecycle manager)"),
    ("use_sim_time", bool, "Take the time from /clock (`ros2 bag play --clock`; vstream-replay publishes no "
                           "/clock: leave false with it, frames are judged by their header stamps)"),
)
UNSET = "(params_file)"   # the shown default of an argument that is not given: params_file decides


def parse(name: str, kind: type, text: str):
    """A command-line value as the parameter's type; ValueError names the argument."""
    if kind is list:
        value = yaml.safe_load(text) if text.lstrip().startswith("[") else [t.strip() for t in text.split(",")]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{name}: expected topic names, got {text!r}")
        return value
    if kind is bool:
        value = yaml.safe_load(text)
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false, got {text!r}")
        return value
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name}: expected a number, got {text!r}") from None
    return "" if text in ("''", '""') else text


def given(context: LaunchContext) -> dict:
    """The parameters whose arguments were given on the command line, typed."""
    out = {}
    for name, kind, _ in PARAMETERS:
        text = LaunchConfiguration(name).perform(context)
        if text != UNSET:
            out[name] = parse(name, kind, text)
    return out


def undeclared(argv: list[str], declared: list[str]) -> list[str]:
    """Why each `name:=value` on the command line that this file does not declare is refused."""
    out = []
    for name in dict.fromkeys(a.split(":=", 1)[0] for a in argv if ":=" in a):
        if name not in declared:
            near = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
            out.append(f"{name}" + (f" (did you mean {near[0]}?)" if near else ""))
    return out


def _node(context: LaunchContext) -> list[Node]:
    unknown = undeclared(list(context.argv), [*FIXED, *(name for name, _, _ in PARAMETERS)])
    if unknown:
        raise ValueError(f"unknown launch argument(s): {', '.join(unknown)}; `ros2 launch vstream_ros "
                         "vstream.launch.py -s` lists them (other settings go in params_file)")
    conf = lambda name: LaunchConfiguration(name).perform(context)   # noqa: E731
    return [Node(package="vstream_ros", executable="vstream_node", name=conf("node_name"),
                 namespace=conf("namespace"), output="screen",
                 parameters=[conf("params_file"), given(context)],
                 ros_arguments=["--log-level", conf("log_level")])]


FIXED = ("params_file", "namespace", "node_name", "log_level")


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("params_file", default_value=str(DEFAULT_PARAMS),
                              description="Node parameters (YAML): the base that the arguments below override"),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node"),
        DeclareLaunchArgument("node_name", default_value="vstream", description="Name of the node"),
        DeclareLaunchArgument("log_level", default_value="info", description="debug | info | warn | error"),
    ]
    args += [DeclareLaunchArgument(name, default_value=UNSET, description=f"{doc}; not given: params_file's value")
             for name, _, doc in PARAMETERS]
    return LaunchDescription([*args, OpaqueFunction(function=_node)])
