# Environment for every vstream_ros run on this machine: sourced by scripts/setup.sh, test.sh, demo.sh.
# Keeps DDS on loopback (Kilted ignores ROS_LOCALHOST_ONLY), isolates parallel runs by domain id,
# and forbids model downloads.
VSTREAM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VSTREAM_REPO
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export FASTDDS_DEFAULT_PROFILES_FILE="$VSTREAM_REPO/config/fastdds_loopback.xml"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
# A per-run domain (1..100) unless the caller chose one.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export PYTHONUNBUFFERED=1
