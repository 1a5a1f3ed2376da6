"""vstream-replay --rate 0 into a reliable vstream_node: messages a second, and whether every frame arrived.

    python bench/replay.py [--seconds 40] [--windows 1,2,4] [--qos-depth 5]

A vstream-synth bag (2 cameras at 10 fps, odometry at 20 Hz) is replayed with --rate 0 once per window
(unacknowledged messages per topic, see vstream_ros/tools/replay.py) into one vstream_node process (tiny
backend, reliable subscriptions of depth --qos-depth, /odom as its pose topic). The node's ~/memory_state
says how many frames its callbacks received. Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # run from a checkout as well

from vstream_ros.tools.rosenv import ensure_loopback  # noqa: E402

ensure_loopback()

CAMERAS = ["/cam0/image_raw", "/cam1/image_raw/compressed"]


def start_node(tmp: Path, qos_depth: int) -> subprocess.Popen:
    params = tmp / "node.yaml"
    params.write_text(json.dumps({"/**": {"ros__parameters": {
        "backend": "tiny", "camera_topics": CAMERAS, "pose_topic": "/odom", "qos_reliability": "reliable",
        "qos_depth": qos_depth, "snapshot_path": "", "memory_state_period_s": 0.2, "sample_rate_hz": 1.0}}}))
    return subprocess.Popen([sys.executable, "-m", "vstream_ros.ros.node", "--ros-args", "--params-file", str(params)],
                            stdout=open(tmp / "node.log", "w"), stderr=subprocess.STDOUT, cwd=REPO)


def received(node, until: float) -> dict[str, int]:
    """The node's frames_received per camera, from a ~/memory_state published after this call."""
    import rclpy

    from vstream_ros.msg import MemoryState

    got: dict[str, int] = {}
    sub = node.create_subscription(MemoryState, "/vstream/memory_state",
                                   lambda m: got.update({c.camera: c.frames_received for c in m.cameras}), 10)
    while not got and time.monotonic() < until:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_subscription(sub)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="length of the synthetic bag")
    ap.add_argument("--windows", default="1,2,4")
    ap.add_argument("--qos-depth", type=int, default=5, help="the node's subscription depth")
    args = ap.parse_args()
    import rclpy

    from vstream_ros.tools.bags import open_bag
    from vstream_ros.tools.replay import replay
    from vstream_ros.tools.synth import synth

    tmp = Path(tempfile.mkdtemp(prefix="bench_replay_"))
    bag, _ = synth(tmp / "bag", cameras=2, seconds=args.seconds, fps=10)
    reader = open_bag(bag)
    frames = {c.topic.split("/")[1]: c.msgcount for c in reader.connections if c.topic in CAMERAS}
    reader.close()
    rclpy.init()
    node = rclpy.create_node("bench_replay")
    runs = []
    for window in map(int, args.windows.split(",")):
        proc = start_node(tmp, args.qos_depth)
        try:
            before = received(node, time.monotonic() + 60)          # the node is up and reporting
            out = replay(bag, rate=0, window=window, progress=False, node=node, wait_subscribers=30, subscribers=1)
            time.sleep(1.0)                                          # let the last ~/memory_state go out
            after = received(node, time.monotonic() + 10)
        finally:
            proc.terminate()
            proc.wait(30)
        runs.append({"window": window, "published": out["published"], "seconds": round(out["seconds"], 2),
                     "messages_per_s": round(out["published"] / out["seconds"], 1),
                     "node_received": {k: after.get(k, 0) - before.get(k, 0) for k in frames},
                     "bag_frames": frames})
    node.destroy_node()
    rclpy.try_shutdown()
    doc = {"bench": "replay_rate0", "cpus": os.cpu_count(), "qos_depth": args.qos_depth, "runs": runs}
    print(json.dumps(doc, indent=1))
    print(f"{'window':>6} {'msg/s':>8} {'seconds':>8}  node received / bag frames")
    for r in runs:
        got = ", ".join(f"{k} {r['node_received'][k]}/{r['bag_frames'][k]}" for k in frames)
        print(f"{r['window']:>6} {r['messages_per_s']:>8} {r['seconds']:>8}  {got}")


if __name__ == "__main__":
    main()
