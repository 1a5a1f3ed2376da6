#!/usr/bin/env bash
# Install everything (scripts/setup.sh) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$VSTREAM_REPO/scripts/setup.sh"
cd "$VSTREAM_REPO"
VENV="${VSTREAM_VENV:-$VSTREAM_REPO/.venv}"
echo "[test] ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE"
"$VENV/bin/ruff" check vstream_ros tests bench launch setup.py
# pytest exits 5 when it collected no test: that fails here too, as it should.
exec "$VENV/bin/python" -m pytest "$@"
