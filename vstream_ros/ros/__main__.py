"""`python -m vstream_ros.ros` starts the node."""

import sys

from vstream_ros.ros.node import main

sys.exit(main())
