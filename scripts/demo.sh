#!/usr/bin/env bash
# Install everything (scripts/setup.sh) and run the demo on the offline default model.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$VSTREAM_REPO/scripts/setup.sh"
cd "$VSTREAM_REPO"
VENV="${VSTREAM_VENV:-$VSTREAM_REPO/.venv}"
exec "$VENV/bin/python" -m vstream_ros.tools.demo "$@"
