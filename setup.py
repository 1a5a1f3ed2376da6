"""The pip build of vstream_ros (`pip install .`), read by setuptools.

pyproject.toml names the backend (scikit-build-core's setuptools mode) and holds the project's metadata
(name, dependencies, scripts); this file says how the package is built. Its `cmake_*` keywords run
CMakeLists.txt: ament and rosidl, found in the ROS 2 wheels from PyPI, generate the interfaces
(vstream_ros.msg/.srv/.action and their C type support) and install them with the Python sources.
Files CMake installs into the `vstream_ros` package go into the wheel as the package; everything else
(share/vstream_ros with config/ and launch/, lib/vstream_ros/vstream_node, the interface libraries,
the ament index) goes to the environment's prefix, where the ROS 2 wheels put theirs, so that
`ros2 launch vstream_ros ...` and `ros2 run vstream_ros vstream_node` find it.

colcon does not read this file: package.xml says ament_cmake, and colcon runs CMakeLists.txt itself.
"""

from scikit_build_core.setuptools.wrapper import setup
from setuptools import find_packages


def without_ament_egg_info(installed: list[str]) -> list[str]:
    """ament writes a vstream_ros egg-info beside the package; pip writes the package's own metadata."""
    return [path for path in installed if ".egg-info" not in path]


setup(
    packages=find_packages(include=["vstream_ros", "vstream_ros.*"]),   # data files come with CMake's install
    cmake_source_dir=".",
    # the Python half of the install goes to <prefix>/vstream_ros, which maps onto the wheel's package
    cmake_args=["-DPYTHON_INSTALL_DIR=."],
    cmake_process_manifest_hook=without_ament_egg_info,
)
