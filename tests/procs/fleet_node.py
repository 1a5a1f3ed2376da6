"""A vstream node whose backend names what it sees, for the fleet test: `fleet_node.py ROS_ARGS...` runs
vstream_ros.ros.node with a small real backend registered as "toy" (tests/toybackend.py: a frame whose red
channel dominates is a "red toolbox"), so its closed runs become sightings in the index."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # tests/: the toy backend

from toybackend import red, toy_backend  # noqa: E402

from vstream_ros.backends.contract import Backend  # noqa: E402
from vstream_ros.backends.registry import BackendSpec, Supports, register  # noqa: E402
from vstream_ros.ros.node import main  # noqa: E402


def load_toy(**_) -> Backend:
    return toy_backend(red)


if __name__ == "__main__":
    register(BackendSpec("toy", "names red frames: the fleet test", load_toy, (), supports=Supports(annotate=True,
                                                                                                    locate=True)))
    sys.exit(main(sys.argv[1:]))
