"""The demo (the README's first command): real photographs as a camera bag, the node on the offline
`lite` backend in its own process, the bag replayed over DDS on loopback, questions through ~/query.

    python -m vstream_ros.tools.demo [--out out/demo] [--short]

The bag also holds the robot's odometry (/odom): it drives a loop and stops at one station per photo
(tools/trajectory.py), so "where" questions get a place. The memory is kept short (3 temporal slots):
it merges the frames of several photos into one slot, while the long-term sightings index (on by
default, beside the snapshot) keeps a sighting per 10 s run of frames, so the last question ("Where did
you see the person?") is answered from the index's finer rows. Prints each answer with its evidence
stamps (and poses) next to what was on camera then, the memory state, and writes a PNG of the memory
timeline.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vstream_ros.answering.timefmt import since
from vstream_ros.tools.rosenv import ensure_loopback

ensure_loopback()

import rclpy  # noqa: E402
from rclpy.node import Node  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from vstream_ros.msg import MemoryState  # noqa: E402
from vstream_ros.ros.evidence import evidence_record  # noqa: E402
from vstream_ros.ros.stamps import to_seconds  # noqa: E402
from vstream_ros.srv import Query  # noqa: E402
from vstream_ros.tools import calls  # noqa: E402
from vstream_ros.tools.bags import write_image_bag  # noqa: E402
from vstream_ros.tools.photos import PHOTOS, photo_frames, schedule  # noqa: E402
from vstream_ros.tools.replay import replay  # noqa: E402
from vstream_ros.tools.synth import DRIVE_FRACTION, LOOP_RADIUS_M, ODOM_HZ  # noqa: E402
from vstream_ros.tools.trajectory import ODOM_TOPIC, StationLoop  # noqa: E402

TOPIC = "/camera/image_raw/compressed"
QUESTIONS = ("When did you see a cat?", "What did you see in the last 10 seconds?", "Did you see a rocket?",
             "Was there a cup of coffee?", "Did you see a person?", "Did you see a giraffe?",
             "What colour was the cup?", "How many people did you see?", "Where did you see the person?")
T0 = 1_764_000_000.0     # a fixed start stamp, so every run shows the same times
TEMPORAL_SLOTS = 3       # a short memory: fewer slots than photos, so some photos share a slot


def clock(t: float) -> str:
    """Seconds since the bag's first frame: how the answers write times too."""
    return since(t, T0)


class Client:
    def __init__(self) -> None:
        rclpy.init()
        self.node = Node("vstream_demo_client")
        self.state: MemoryState | None = None
        self.node.create_subscription(MemoryState, "/vstream/memory_state", self._state, 10)
        self.query = self.node.create_client(Query, "/vstream/query")
        self.save = self.node.create_client(Trigger, "/vstream/save_memory")

    def _state(self, msg: MemoryState) -> None:
        self.state = msg

    def spin_until(self, pred, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return pred()

    def call(self, client, req, timeout: float = 120.0, resend_after: float = 20.0):
        """The first response to `req`, sent again every `resend_after` s while none has come (calls.py): a
        question or a save may be asked twice."""
        return calls.call(client, req, self.spin_until, timeout, resend_after)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()


def start_node(out: Path, sample_rate: float, run_s: float, extra: list[str] = ()) -> subprocess.Popen:
    config = Path(__file__).resolve().parents[2] / "config" / "vstream.yaml"
    args = [sys.executable, "-m", "vstream_ros.ros.node", "--ros-args"]
    if config.exists():
        args += ["--params-file", str(config)]
    args += ["-p", "backend:=lite", "-p", f"camera_topics:=['{TOPIC}']", "-p", "camera_names:=['front']",
             "-p", "qos_reliability:=reliable", "-p", "qos_depth:=50", "-p", f"sample_rate_hz:={sample_rate}",
             "-p", f"snapshot_path:={out / 'memory.safetensors'}", "-p", "memory_state_period_s:=0.5",
             "-p", f"pose_topic:={ODOM_TOPIC}", "-p", f"temporal_slots:={TEMPORAL_SLOTS}",
             "-p", f"index_run_s:={run_s}", *extra]
    log = open(out / "node.log", "w")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))


def plot_timeline(snapshot: Path, shows, png: Path) -> None:
    """Temporal slots of the saved memory as bars over time, labelled by the lite encoder, over the spans
    when each photo was on camera."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from vstream_ros.backends.lite.backend import LiteEncoder
    from vstream_ros.memory import MemoryConfig, MultiCameraMemory
    from vstream_ros.memory.snapshot import read_snapshot

    tensors, meta = read_snapshot(snapshot)
    mem = MultiCameraMemory(MemoryConfig.from_dict(meta["config"]), meta["dim"], tuple(meta["grid"]),
                            encoder_id=meta["encoder_id"], annotation_dim=meta.get("annotation_dim", 0))
    mem.load_state_dict(tensors, meta)
    enc = LiteEncoder(torch.device("cpu"))
    read = mem.read()
    groups = [g for g in read.groups if g.kind in ("temporal", "retrieved")]
    labels = enc.label(torch.stack([read.group_tokens(g).mean(0) for g in groups]), k=1)
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(groups) + 1.8))
    colours = plt.cm.tab10.colors
    for i, s in enumerate(shows):
        ax.axvspan(s.start - T0, s.end - T0, color=colours[i % 10], alpha=0.12)
        ax.text((s.start + s.end) / 2 - T0, len(groups) + 0.3, s.name, ha="center", fontsize=9)
    for row, (g, lab) in enumerate(zip(groups, labels, strict=True)):
        x0, x1 = g.start - T0, g.end - T0
        colour = "tab:blue" if g.kind == "temporal" else "tab:red"
        ax.plot([x0, max(x1, x0 + 0.15)], [row, row], lw=6, color=colour, solid_capstyle="butt")
        ax.text(max(x1, x0 + 0.15) + 0.4, row, f"{lab[0][0]} ({lab[0][1]:.0%}) w={g.weight:.0f}", va="center",
                fontsize=7)
    ax.set_yticks([])
    ax.set_xlabel("seconds since the first frame (blue: temporal slots, red: key frames; shading: what was shown)")
    ax.set_ylim(-1, len(groups) + 1)
    ax.set_title(f"vstream memory after {read.frames_seen} frames: {read.num_tokens} tokens")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vstream-demo", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/demo", help="folder for the bag, logs, snapshot and PNG")
    ap.add_argument("--short", action="store_true", help="3 s per photo instead of 10 (CI)")
    ap.add_argument("--rate", type=float, default=1.0,
                    help="replay speed factor (1: as recorded, the pace a robot's camera keeps)")
    ap.add_argument("--param", action="append", default=[], help="extra node parameter NAME:=VALUE (repeatable)")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    earlier = [p for p in (out / "memory.safetensors", *out.glob("sightings.db*")) if p.exists()]
    if earlier:      # the bag's stamps are fixed, so each run starts from an empty memory and an empty index
        kept = out / f"earlier-{time.strftime('%Y%m%dT%H%M%S')}"
        kept.mkdir()
        for p in earlier:
            p.rename(kept / p.name)
        print(f"[0/5] the memory and sightings index of an earlier demo run were moved to {kept}")
    t_begin = time.monotonic()
    seconds_each = 3.0 if args.short else 10.0
    shows = schedule(T0, seconds_each)

    loop = StationLoop(len(shows), seconds_each, DRIVE_FRACTION * seconds_each, LOOP_RADIUS_M)
    print(f"[1/5] camera bag: {len(shows)} real photos, {seconds_each:.0f} s each at 5 fps (JPEG), and the robot's "
          f"odometry on {ODOM_TOPIC}: it drives a loop and stops at a station per photo")
    bag = write_image_bag(out / "photos_bag", ((t, TOPIC, f) for t, f in photo_frames(shows, fps=5.0)),
                          others=loop.odometry(T0, len(shows) * seconds_each, ODOM_HZ))
    for k, s in enumerate(shows):
        x, y, _ = loop.station(k)
        print(f"      {clock(s.start)} - {clock(s.end)}  {s.name:<10} "
              f"({next(p[2] for p in PHOTOS if p[0] == s.name)}; robot at x={x:.2f} m, y={y:.2f} m)")

    print(f"[2/5] starting the vstream node (lite backend: EfficientNet-Lite0, NanoDet, MiniLM) with a short "
          f"memory ({TEMPORAL_SLOTS} temporal slots for {len(shows)} photos) and the sightings index (a sighting "
          f"per {seconds_each:.0f} s run, in {out / 'sightings.db'}) ...")
    node = start_node(out, sample_rate=1.0, run_s=seconds_each, extra=[a for p in args.param for a in ("-p", p)])
    client = Client()
    try:
        if not client.spin_until(lambda: client.query.service_is_ready() and client.state is not None
                                 or node.poll() is not None, 300):
            raise RuntimeError("the node did not come up in 300 s")
        if node.poll() is not None:
            raise RuntimeError(f"the node exited: see {out / 'node.log'}")

        print(f"[3/5] replaying the bag over DDS at {args.rate:g}x")
        stats = replay(bag, rate=args.rate, node=client.node)
        expected = stats["topics"][TOPIC]      # the camera's frames ("published" counts /odom's messages too)
        settled = lambda: client.state is not None and any(   # noqa: E731
            c.frames_received >= expected and c.frames_encoded == c.frames_sampled for c in client.state.cameras)
        client.spin_until(settled, 60)

        print("[4/5] questions through ~/query")
        for q in QUESTIONS:
            res = client.call(client.query, Query.Request(question=q, max_new_tokens=48))
            print(f"\n  Q: {q}\n  A: {res.answer if res.success else 'ERROR: ' + res.error}   "
                  f"({res.latency_s:.2f} s, understood as: {res.intent})")
            for e in res.evidence:
                r = evidence_record(e)            # the record vstream-eval's report is made of
                on_camera = sorted({s.name for s in shows if s.start <= r.end and r.start < s.end})
                where = (f"  pose x={r.pose[0]:.2f} y={r.pose[1]:.2f} ({e.pose.header.frame_id})" if r.pose else "")
                print(f"     evidence {r.label or r.kind:<9} {clock(r.start)} - {clock(r.end)}  camera {r.camera}  "
                      f"(score {r.weight:.2f})  on camera then: {', '.join(on_camera)}{where}")

        print("\n[5/5] memory state")
        for c in client.state.cameras:
            tokens = c.tokens_abstract + c.tokens_temporal + c.tokens_retrieved + c.tokens_spatial
            print(f"  camera {c.camera}: received {c.frames_received}, sampled {c.frames_sampled}, "
                  f"encoded {c.frames_encoded}, dropped {c.frames_dropped}, rejected {c.frames_rejected}; "
                  f"memory {tokens} tokens ({c.tokens_abstract} A + {c.tokens_temporal} T + "
                  f"{c.tokens_retrieved} R + {c.tokens_spatial} S), {(c.bytes_device + c.bytes_host) / 2**20:.1f} MiB, "
                  f"{clock(to_seconds(c.first_stamp))} - {clock(to_seconds(c.last_stamp))}")
        st = client.state
        print(f"  sightings index: {st.index_rows} sightings of this robot in {st.index_uri or '(off)'} "
              f"(counted every 10 s at most)")
        saved = client.call(client.save, Trigger.Request())
        png = out / "memory_timeline.png"
        plot_timeline(out / "memory.safetensors", shows, png)
        print(f"\n  {saved.message}\n  memory timeline: {png}\n  done in {time.monotonic() - t_begin:.0f} s")
        return 0
    finally:
        client.close()
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()


if __name__ == "__main__":
    sys.exit(main())
