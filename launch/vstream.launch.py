"""Start the vstream node on a ROS 2 install (launch_ros):

    ros2 launch vstream_ros vstream.launch.py camera_topics:="['/front/image_raw', '/rear/image_raw/compressed']"
        backend:=flash_vstream model_path:=/models/Flash-VStream-7b

The params file (config/vstream.yaml by default) holds every parameter; the arguments override it.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

# (argument, default, description); each is a parameter of the node
ARGUMENTS = (
    ("camera_topics", "['/camera/image_raw']", "Image or CompressedImage topics, as a YAML list"),
    ("backend", "lite", "lite | flash_vstream | tiny"),
    ("model_path", "", "Local Flash-VStream checkpoint folder (flash_vstream)"),
    ("device", "auto", "auto | cpu | cuda | cuda:N"),
    ("sample_rate_hz", "1.0", "Frames kept per camera per second"),
    ("pose_topic", "", "Robot pose topic (nav_msgs/Odometry, PoseStamped, PoseWithCovarianceStamped); empty: none"),
    ("snapshot_path", "~/.ros/vstream/memory.safetensors", "Memory snapshot file; empty: no persistence"),
)


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("vstream_ros"), "config", "vstream.yaml")
    args = [DeclareLaunchArgument("params_file", default_value=default_params,
                                  description="Node parameters (YAML)")]
    args += [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
    overrides = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    overrides["camera_topics"] = ParameterValue(LaunchConfiguration("camera_topics"), value_type=list[str])
    overrides["sample_rate_hz"] = ParameterValue(LaunchConfiguration("sample_rate_hz"), value_type=float)
    node = Node(package="vstream_ros", executable="vstream_node", name="vstream", output="screen",
                parameters=[LaunchConfiguration("params_file"), overrides], emulate_tty=True)
    return LaunchDescription([*args, node])
