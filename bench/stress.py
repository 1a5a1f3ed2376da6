"""Soak and stress: the node as a process on loopback DDS, under what used to kill, corrupt or starve it.

    python bench/stress.py [--sections flood,kills,snapshots,load,rss] [--quick]

- flood: floods of malformed frames of every kind (odd-width YUV, PNG and JPEG headers claiming huge
  images, a real 8192x8192 PNG, bad step, truncated, unknown encoding, zero size, corrupt JPEG, empty,
  a frame stamped a year ahead between good ones, jittering stamps) until the node has received
  `--frames-per-kind` of each; the node must stay up, count each by reason, and still answer.
- kills: SIGKILL at a random moment while streaming and autosaving, `--kills` times; each restart must
  restore exactly what the file held, and no file may be corrupt or temp file left behind.
- snapshots: every kind of snapshot defect must be refused (moved aside) at restore.
- load: the lite backend (real weights, this machine's CPU), three 640x480 cameras at 10 Hz sampled at
  1 Hz: due frames encoded without questions, then with a question every 4 s (queries, and Ask goals
  cancelled mid-answer); the ratio of the two, cancel latencies, answer latencies.
- rss: one camera streamed until 20,000 frames are encoded (tiny backend): the node's RSS at 2,000 and
  at 20,000 frames.

Prints one JSON document, then a short table. The machine is shared: sections run one at a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # run from a checkout as well

from vstream_ros.tools.rosenv import ensure_loopback  # noqa: E402

ensure_loopback()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from vstream_ros.ros.stamps import to_seconds, to_time  # noqa: E402
from vstream_ros.tools.forged import jpeg_claiming, png_claiming  # noqa: E402

YEAR = 365 * 86400.0


# ------------------------------------------------------------------ the node
class NodeProc:
    """The vstream node in its own process, with config/vstream.yaml plus overrides."""

    def __init__(self, tmp: Path, domain: int, name: str, env: dict | None = None, **params) -> None:
        doc = yaml.safe_load((REPO / "config" / "vstream.yaml").read_text())
        doc["/**"]["ros__parameters"] |= {"memory_state_period_s": 0.5, "autosave_period_s": 0.0,
                                          "snapshot_path": str(tmp / "memory.safetensors")} | params
        pfile = tmp / f"{name}.yaml"
        pfile.write_text(yaml.safe_dump(doc))
        self.log_path = tmp / f"{name}.log"
        self._log = open(self.log_path, "w")
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **(env or {}))
        self.popen = subprocess.Popen([sys.executable, "-m", "vstream_ros.ros.node", "--ros-args", "--params-file",
                                       str(pfile)], stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


class Client:
    """The bench's rclpy side in a context of its own: state, diagnostics, query, ask, publishers."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.action import ActionClient
        from rclpy.context import Context
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.node import Node

        from vstream_ros.action import Ask
        from vstream_ros.msg import MemoryState
        from vstream_ros.srv import Query

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node("stress_client", context=self.context)
        self.state = None
        self.diag: dict[str, dict] = {}
        self.node.create_subscription(MemoryState, "/vstream/memory_state", self._on_state, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.query = self.node.create_client(Query, "/vstream/query")
        self.ask = ActionClient(self.node, Ask, "/vstream/ask")
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()

    def _on_state(self, msg) -> None:
        self.state = msg

    def _on_diag(self, msg) -> None:
        for s in msg.status:
            self.diag[s.name] = {"level": s.level[0] if isinstance(s.level, bytes) else s.level,
                                 "message": s.message, **{kv.key: kv.value for kv in s.values}}

    def cams(self) -> dict:
        return {c.camera: c for c in self.state.cameras} if self.state else {}

    def wait(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def wait_ready(self, node: NodeProc, timeout: float = 120.0) -> bool:
        since = time.time()
        return self.wait(lambda: not node.alive or (self.query.service_is_ready() and self.state is not None
                                                     and to_seconds(self.state.header.stamp) > since), timeout) \
            and node.alive

    def call_query(self, timeout: float = 120.0, **kw):
        from vstream_ros.srv import Query

        fut = self.query.call_async(Query.Request(**kw))
        self.wait(fut.done, timeout)
        return fut.result() if fut.done() else None

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def stamp_msg(msg, t: float):
    msg.header.stamp = to_time(t)
    return msg


def fresh_domain() -> int:
    return random.Random(os.getpid() ^ time.time_ns()).randint(1, 100)


# --------------------------------------------------------------------- flood
def flood_kinds() -> dict[str, tuple[str, object]]:
    """kind -> (message type, a function of (k, base stamp) returning (message, stamp))."""
    from sensor_msgs.msg import CompressedImage, Image

    good = np.full((48, 64, 3), 120, np.uint8).tobytes()
    w = 65
    yuv = bytes(np.full(2 * w * 48, 128, np.uint8))
    big_png = cv2.imencode(".png", np.zeros((8192, 8192, 3), np.uint8))[1].tobytes()
    good_jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    corrupt = good_jpeg[:20] + bytes(random.Random(0).randbytes(len(good_jpeg) - 22)) + b"\xff\xd9"
    rng = random.Random(1)

    def raw(**kw):
        return lambda k, t: (Image(**kw), t)

    def comp(data, fmt="jpeg"):
        return lambda k, t: (CompressedImage(format=fmt, data=data), t)

    def future(k, t):   # a year ahead, between good frames
        return Image(height=48, width=64, encoding="rgb8", step=192, data=good), t + YEAR if k % 2 else t

    def jitter(k, t):
        return Image(height=48, width=64, encoding="rgb8", step=192, data=good), t + rng.gauss(0, 0.05)

    return {
        "yuv422_odd_width": ("raw", raw(height=48, width=w, encoding="yuv422", step=2 * w, data=yuv)),
        "yuyv_odd_width": ("raw", raw(height=48, width=w, encoding="yuyv", step=2 * w, data=yuv)),
        "png_header_100000x100000": ("comp", comp(png_claiming(100000, 100000), "png")),
        "jpeg_header_65000x65000": ("comp", comp(jpeg_claiming(65000, 65000))),
        "png_8192x8192_200KB": ("comp", comp(big_png, "png")),
        "bad_step": ("raw", raw(height=48, width=64, encoding="rgb8", step=191, data=good)),
        "truncated": ("raw", raw(height=48, width=64, encoding="rgb8", step=192, data=good[:1000])),
        "unknown_encoding": ("raw", raw(height=48, width=64, encoding="weird16", step=192, data=good)),
        "zero_size": ("raw", raw(height=0, width=0, encoding="rgb8", step=0, data=b"")),
        "corrupt_jpeg": ("comp", comp(corrupt)),
        "empty_compressed": ("comp", comp(b"")),
        "stamp_year_ahead": ("raw", future),
        "jittering_stamps": ("raw", jitter),
    }


def run_flood(tmp: Path, per_kind: int, rate: float) -> dict:
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    kinds = flood_kinds()
    topics = {k: f"/flood/{k}/image_raw" + ("/compressed" if t == "comp" else "") for k, (t, _) in kinds.items()}
    domain = fresh_domain()
    node = NodeProc(tmp, domain, "flood", backend="tiny", camera_topics=list(topics.values()),
                    camera_names=list(topics), sample_rate_hz=120.0, qos_reliability="reliable", qos_depth=100,
                    snapshot_path="")
    client = Client(domain)
    out: dict = {"frames_per_kind_target": per_kind}
    try:
        assert client.wait_ready(node), node.output()[-3000:]
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        pubs = {k: client.node.create_publisher(CompressedImage if kinds[k][0] == "comp" else Image, topics[k], qos)
                for k in kinds}
        client.wait(lambda: all(p.get_subscription_count() for p in pubs.values()), 30)
        rss0 = node.rss_mb()
        base = time.time() - 30 * 86400
        sent = dict.fromkeys(kinds, 0)
        t0 = time.monotonic()
        received = lambda k: getattr(client.cams().get(k), "frames_received", 0)   # noqa: E731
        while node.alive and time.monotonic() - t0 < 1800:
            # a kind is sent until the node has received enough of it (what DDS loses is not counted)
            todo = [k for k in kinds if received(k) < per_kind and sent[k] < 3 * per_kind]
            if not todo:
                break
            for k in todo:
                msg, t = kinds[k][1](sent[k], base + sent[k] * 0.01)
                pubs[k].publish(stamp_msg(msg, t))
                sent[k] += 1
            time.sleep(len(todo) / rate)
        client.wait(lambda: all(received(k) >= sent[k] for k in kinds), 20)
        time.sleep(1.5)
        cams = client.cams()
        out["seconds"] = round(time.monotonic() - t0, 1)
        out["node_alive"] = node.alive
        out["by_kind"] = {k: {"sent": sent[k], "received": cams[k].frames_received,
                              "encoded": cams[k].frames_encoded, "rejected": cams[k].frames_rejected,
                              "reasons": dict(zip(cams[k].rejected_reasons, cams[k].rejected_counts, strict=True))}
                          for k in kinds if k in cams}
        out["resets"] = {k: client.diag.get(f"vstream: camera {k}", {}).get("resets") for k in kinds}
        out["rss_mb_before_after"] = [round(rss0, 1), round(node.rss_mb(), 1)]
        res = client.call_query(question="What did you see?", max_new_tokens=4)
        out["answers_after"] = bool(res and res.success)
        out["callback_errors"] = client.diag.get("vstream: node callbacks", {}).get("errors_total")
    finally:
        client.close()
        out["exit_code"] = node.stop()
        out["crashed"] = out["exit_code"] not in (0, None) or not out.get("node_alive", False)
    return out


# --------------------------------------------------------------------- kills
def stream_frames(client: Client, stop: threading.Event, rate: float = 30.0) -> None:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    pub = client.node.create_publisher(Image, "/cam0/image_raw", qos_profile_sensor_data)
    frames = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), np.uint8).tobytes() for i in range(8)]
    k = 0
    while not stop.is_set():
        msg = Image(height=48, width=64, encoding="rgb8", step=192, data=frames[(k // 15) % 8])
        pub.publish(stamp_msg(msg, time.time()))
        k += 1
        stop.wait(1.0 / rate)


def run_kills(tmp: Path, kills: int) -> dict:
    from vstream_ros.memory.snapshot import SnapshotError, read_snapshot

    snapshot = tmp / "memory.safetensors"
    domain = fresh_domain()
    rng = random.Random(7)
    out = {"kills": 0, "restarts": 0, "restored_exactly": 0, "corrupt_files": 0, "temp_files_left_at_kill": 0,
           "temp_files_left_after_restart": 0, "errors": []}
    client = Client(domain)
    stop = threading.Event()
    streamer = threading.Thread(target=stream_frames, args=(client, stop), daemon=True)
    streamer.start()
    try:
        for i in range(kills + 1):
            held = None
            if snapshot.exists():
                try:
                    held = read_snapshot(snapshot)[1]["frames_seen"]
                except SnapshotError as e:
                    out["corrupt_files"] += 1
                    out["errors"].append(str(e)[:200])
            node = NodeProc(tmp, domain, f"kill{i}", backend="tiny", camera_topics=["/cam0/image_raw"],
                            sample_rate_hz=5.0, autosave_period_s=0.2)
            client.state = None
            if not client.wait_ready(node):
                out["errors"].append(f"start {i} failed: {node.output()[-500:]}")
                node.stop(signal.SIGKILL)
                continue
            log = node.output()
            if i:
                out["restarts"] += 1
                restored = [ln for ln in log.splitlines() if "restored " in ln or "ERROR" in ln]
                if held is not None and any(f"restored {held} frames" in ln for ln in restored):
                    out["restored_exactly"] += 1
                elif held is not None:
                    out["errors"].append(f"restart {i}: file held {held}; log: {restored[-1:] if restored else ''}")
                out["temp_files_left_after_restart"] += len(list(tmp.glob(".memory*.tmp")))
            if i == kills:
                node.stop()
                break
            client.wait(snapshot.exists, 60)        # a first autosave, so that every restart has a file to match
            time.sleep(rng.uniform(0.5, 3.0))      # stream and autosave, then a kill at a random moment
            node.stop(signal.SIGKILL)
            out["kills"] += 1
            out["temp_files_left_at_kill"] += len(list(tmp.glob(".memory*.tmp")))
    finally:
        stop.set()
        streamer.join(5)
        client.close()
    return out


# ----------------------------------------------------------------- snapshots
def run_snapshots(tmp: Path) -> dict:
    import torch

    from vstream_ros.backends import load_backend
    from vstream_ros.engine import EngineConfig, StreamEngine
    from vstream_ros.memory.snapshot import write_snapshot

    logging.getLogger("vstream_ros").setLevel(logging.CRITICAL)    # each refusal below logs an error
    backend = load_backend("tiny", seed=0)
    e = StreamEngine(backend, EngineConfig(snapshot_path=""))
    e.start()
    for cam in ("a", "b"):
        for i in range(40):
            e.offer(cam, 1000.0 + i, np.random.default_rng(i).integers(0, 255, (32, 32, 3), np.uint8), wait=True)
    e.flush()
    e.stop()
    good = tmp / "good.safetensors"
    e.memory.save(good)
    raw = good.read_bytes()
    tensors, meta = e.memory.state_dict()
    header = 8 + int.from_bytes(raw[:8], "little")

    def variant(edit):
        t = {k: v.clone() for k, v in tensors.items()}
        m = json.loads(json.dumps(meta))
        edit(t, m)
        return t, m

    def flipped(data: bytes) -> bytes:
        b = bytearray(data)
        for i in random.Random(3).sample(range(header, len(b)), 256):
            b[i] = random.Random(i).randrange(256)
        return bytes(b)

    def nan(t, m):
        t["0.centroid"].fill_(float("nan"))

    def inf(t, m):
        t["1.weight"][0] = float("inf")

    cases_bytes = {"truncated": raw[: len(raw) // 2], "garbage": os.urandom(4096), "empty": b"",
                   "random tensor bytes": flipped(raw), "header cut": raw[: header - 10]}
    cases_state = {
        "NaN centroids": nan, "infinite weight": inf,
        "spatial head out of range": lambda t, m: m["cameras"][0]["state"].update(spatial_head=9),
        "slot count": lambda t, m: m["cameras"][1]["state"].update(filled=2),
        "abstract counters": lambda t, m: m["cameras"][0]["state"].update(abstract_pending=7),
        "weights": lambda t, m: t["0.weight"].mul_(3),
        "stamp out of span": lambda t, m: t["1.stamp_max"].__setitem__(0, 1e12),
        "gram": lambda t, m: t["0.gram"].add_(1e3),
        "abstract span": lambda t, m: m["cameras"][0]["state"].update(abstract_span=[1.0, 2.0]),
        "missing tensor": lambda t, m: t.pop("0.gram"),
        "wrong shape": lambda t, m: t.__setitem__("1.weight", torch.zeros(3)),
        "other encoder": lambda t, m: m["cameras"][0].update(encoder_id="other"),
        "version": lambda t, m: m.update(version=99),
        "no state": lambda t, m: m["cameras"][1].pop("state"),
    }
    results = {}
    for name, data in cases_bytes.items():
        p = tmp / f"case_{len(results)}.safetensors"
        p.write_bytes(data)
        results[name] = p
    for name, edit in cases_state.items():
        results[name] = write_snapshot(tmp / f"case_{len(results)}.safetensors", *variant(edit))
    refused = {}
    for name, p in results.items():
        e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(p)))
        status = e2.restore()
        refused[name] = status.startswith("ERROR") and not p.exists() and e2.memory.frames_seen == 0
    e3 = StreamEngine(backend, EngineConfig(snapshot_path=str(good)))
    return {"defects": len(refused), "refused": sum(refused.values()), "by_defect": refused,
            "good_restored": e3.restore().startswith("restored 80 frames")}


# ---------------------------------------------------------------------- load
def publish_scenes(client: Client, cameras: int, stop: threading.Event, rate: float = 10.0) -> None:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    pubs = [client.node.create_publisher(Image, f"/load{i}/image_raw", qos_profile_sensor_data)
            for i in range(cameras)]
    colours = [(220, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 30), (200, 40, 200), (30, 210, 210)]
    frames = []
    for j, c in enumerate(colours):
        img = np.zeros((480, 640, 3), np.uint8)
        img[:] = c
        img[:: 40 + 10 * j, :] = 255
        frames.append(img.tobytes())
    start, k = time.monotonic(), 0
    while not stop.is_set():
        now = time.time()
        for i, p in enumerate(pubs):
            p.publish(stamp_msg(Image(height=480, width=640, encoding="rgb8", step=1920,
                                      data=frames[(int(now // 5) + i) % len(frames)]), now))
        k += 1
        stop.wait(max(0.0, start + k / rate - time.monotonic()))


def run_load(tmp: Path, seconds: float, cameras: int = 3) -> dict:
    from action_msgs.msg import GoalStatus

    from vstream_ros.action import Ask

    domain = fresh_domain()
    node = NodeProc(tmp, domain, "load", backend="lite", camera_topics=[f"/load{i}/image_raw" for i in range(cameras)],
                    sample_rate_hz=1.0, snapshot_path="", answer_queue_size=4)
    client = Client(domain)
    stop = threading.Event()
    out: dict = {"backend": "lite", "cameras": cameras, "sample_rate_hz": 1.0, "phase_s": seconds}
    try:
        assert client.wait_ready(node, 300), node.output()[-3000:]
        pub = threading.Thread(target=publish_scenes, args=(client, cameras, stop), daemon=True)
        pub.start()
        client.wait(lambda: len(client.cams()) == cameras
                    and all(c.frames_encoded >= 3 for c in client.cams().values()), 60)

        def snapshot():
            return time.monotonic(), {k: (c.frames_encoded, c.frames_received, c.frames_sampled)
                                      for k, c in client.cams().items()}

        def phase(questions: bool) -> dict:
            t0, s0 = snapshot()
            answers, refused, cancels, lag = [], 0, [], []
            next_q, i = t0, 0
            while time.monotonic() - t0 < seconds:
                lag.append(max(c.ingest_lag_s for c in client.cams().values()))
                if questions and time.monotonic() >= next_q:
                    next_q += 4.0
                    i += 1
                    if i % 2:
                        q0 = time.monotonic()
                        res = client.call_query(question="What did you see in the last 10 seconds?",
                                                max_new_tokens=64, timeout=60)
                        if res is not None and res.success:
                            answers.append(time.monotonic() - q0)
                        elif res is not None and "too many" in res.error:
                            refused += 1
                    else:
                        cancels.append(ask_and_cancel(client, Ask, GoalStatus))
                time.sleep(0.2)
            t1, s1 = snapshot()
            # due: the frames the sampler picked (1 Hz by stamp, and one between where the picture changed),
            # whether the encoder took them or they were overwritten in their slot first
            per_cam = {k: (s1[k][0] - s0[k][0]) / max(1, s1[k][2] - s0[k][2]) for k in s1}
            return {"seconds": round(t1 - t0, 1), "encoded_over_due": {k: round(v, 3) for k, v in per_cam.items()},
                    "due": {k: s1[k][2] - s0[k][2] for k in s1},
                    "received": {k: s1[k][1] - s0[k][1] for k in s1},
                    "answers": len(answers),
                    "answer_s_median": round(statistics.median(answers), 2) if answers else None,
                    "answer_s_max": round(max(answers), 2) if answers else None, "refused": refused,
                    "cancel_s": [round(c, 3) for c in cancels if c is not None], "lag_s_max": round(max(lag), 2)}

        out["no_questions"] = phase(False)
        out["questions_every_4s"] = phase(True)
        a, b = out["no_questions"]["encoded_over_due"], out["questions_every_4s"]["encoded_over_due"]
        out["ratio_by_camera"] = {k: round(b[k] / a[k], 3) if a[k] else None for k in a}
        out["ratio"] = round(min(v for v in out["ratio_by_camera"].values() if v is not None), 3)
        out["due_encoded_under_questions"] = round(min(b.values()), 3)
        cs = out["questions_every_4s"]["cancel_s"]
        out["cancel_s_max"] = max(cs) if cs else None
        out["node_alive"] = node.alive
    finally:
        stop.set()
        client.close()
        node.stop()
    return out


def ask_and_cancel(client: Client, Ask, GoalStatus) -> float | None:
    """An Ask goal cancelled once its first feedback arrives; seconds from the cancel request to the result."""
    got = threading.Event()
    goal = client.ask.send_goal_async(Ask.Goal(question="What did you see?", max_new_tokens=256),
                                      feedback_callback=lambda fb: got.set())
    if not client.wait(goal.done, 30) or not goal.result().accepted:
        return None
    handle = goal.result()
    result = handle.get_result_async()
    client.wait(lambda: got.is_set() or result.done(), 60)
    if result.done():
        return None                       # answered before it could be cancelled
    t0 = time.monotonic()
    handle.cancel_goal_async()
    client.wait(result.done, 30)
    if not result.done() or result.result().status != GoalStatus.STATUS_CANCELED:
        return None
    return time.monotonic() - t0


# ----------------------------------------------------------------------- rss
def run_rss(tmp: Path, frames: int, backend: str, rate: float) -> dict:
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    domain = fresh_domain()
    size = (48, 64) if backend == "tiny" else (240, 320)
    # one torch thread: the figure is memory, and a shared 2-core machine runs a 2-thread pool many times slower
    node = NodeProc(tmp, domain, "rss", env={"OMP_NUM_THREADS": "1"}, backend=backend,
                    camera_topics=["/rss/image_raw"], sample_rate_hz=120.0, snapshot_path="",
                    qos_reliability="reliable", qos_depth=10)
    client = Client(domain)
    out: dict = {"backend": backend, "frame": f"{size[1]}x{size[0]}", "target_frames": frames, "torch_threads": 1}
    try:
        assert client.wait_ready(node, 300), node.output()[-3000:]
        pub = client.node.create_publisher(Image, "/rss/image_raw", QoSProfile(depth=10,
                                                                               reliability=ReliabilityPolicy.RELIABLE))
        client.wait(lambda: pub.get_subscription_count() > 0, 30)
        imgs = [np.random.default_rng(i).integers(0, 255, (*size, 3), np.uint8).tobytes() for i in range(16)]
        base, k = time.time() - 30 * 86400, 0
        encoded = lambda: getattr(client.cams().get("rss"), "frames_encoded", 0)   # noqa: E731
        marks = {}
        t0 = time.monotonic()
        checkpoints = sorted({2000, *range(5000, frames + 1, 5000), frames})
        while node.alive and encoded() < frames and time.monotonic() - t0 < 3600:
            msg = Image(height=size[0], width=size[1], encoding="rgb8", step=3 * size[1], data=imgs[k % 16])
            pub.publish(stamp_msg(msg, base + k * 0.01))
            k += 1
            time.sleep(max(0.0, t0 + k / rate - time.monotonic()))
            n = encoded()
            for c in checkpoints:
                if n >= c and c not in marks:
                    marks[c] = round(node.rss_mb(), 2)
        out["seconds"] = round(time.monotonic() - t0, 1)
        out["published"] = k
        out["encoded"] = encoded()
        out["rss_mb"] = {str(c): marks.get(c) for c in checkpoints}
        a, b = marks.get(2000), marks.get(frames)
        out["growth_pct_2000_to_end"] = round(100 * (b - a) / a, 3) if a and b else None
        out["memory_bytes_host"] = client.cams()["rss"].bytes_host
    finally:
        client.close()
        node.stop()
    return out


# ---------------------------------------------------------------------- main
def table(doc: dict) -> str:
    rows = ["| figure | value |", "|---|---|"]
    if "flood" in doc:
        f = doc["flood"]
        kinds = f.get("by_kind", {})
        rows.append(f"| malformed frames received, {len(kinds)} kinds | {sum(v['received'] for v in kinds.values())} "
                    f"(min per kind {min((v['received'] for v in kinds.values()), default=0)}); crashes: "
                    f"{int(f['crashed'])}; answers after: {f.get('answers_after')} |")
        for k, v in kinds.items():
            rows.append(f"| - {k} | {v['received']} received, {v['rejected']} refused {v['reasons']} |")
        rows.append(f"| node RSS before/after flood (MB) | {f.get('rss_mb_before_after')} |")
    if "kills" in doc:
        k = doc["kills"]
        rows.append(f"| SIGKILLs survived | {k['kills']}; restores exact {k['restored_exactly']}/{k['restarts']}; "
                    f"corrupt files {k['corrupt_files']}; temp files left after restart "
                    f"{k['temp_files_left_after_restart']} |")
    if "snapshots" in doc:
        s = doc["snapshots"]
        rows.append(f"| snapshot defects refused | {s['refused']}/{s['defects']} (good file restored: "
                    f"{s['good_restored']}) |")
    if "load" in doc:
        ld = doc["load"]
        rows.append(f"| due frames encoded, no questions / questions every 4 s | "
                    f"{ld['no_questions']['encoded_over_due']} / {ld['questions_every_4s']['encoded_over_due']} |")
        rows.append(f"| ingest under questions, ratio to none (worst camera) | {ld['ratio']} |")
        rows.append(f"| answers (median / max s), refused | {ld['questions_every_4s']['answer_s_median']} / "
                    f"{ld['questions_every_4s']['answer_s_max']}, {ld['questions_every_4s']['refused']} |")
        rows.append(f"| cancel latency (s), max | {ld['questions_every_4s']['cancel_s']}, {ld['cancel_s_max']} |")
    if "rss" in doc:
        r = doc["rss"]
        rows.append(f"| RSS growth 2,000 -> {r['target_frames']:,} frames ({r['backend']}) | "
                    f"{r['growth_pct_2000_to_end']} % ({r['rss_mb']}) |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="flood,kills,snapshots,load,rss")
    ap.add_argument("--frames-per-kind", type=int, default=10000)
    ap.add_argument("--flood-rate", type=float, default=1500.0, help="messages per second, all kinds together")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--load-seconds", type=float, default=60.0)
    ap.add_argument("--rss-frames", type=int, default=20000)
    ap.add_argument("--rss-backend", default="tiny", choices=("tiny", "lite"))
    ap.add_argument("--rss-rate", type=float, default=100.0, help="frames published per second")
    ap.add_argument("--quick", action="store_true", help="small numbers, for a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.frames_per_kind, args.kills, args.load_seconds, args.rss_frames = 30, 1, 8.0, 2500
    sections = [s for s in args.sections.split(",") if s]
    doc: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory(prefix="vstream_stress_") as d:
        tmp = Path(d)
        for s in sections:
            sub = tmp / s
            sub.mkdir()
            t0 = time.monotonic()
            load_before = os.getloadavg()[0]
            if s == "flood":
                doc[s] = run_flood(sub, args.frames_per_kind, args.flood_rate)
            elif s == "kills":
                doc[s] = run_kills(sub, args.kills)
            elif s == "snapshots":
                doc[s] = run_snapshots(sub)
            elif s == "load":
                doc[s] = run_load(sub, args.load_seconds)
            elif s == "rss":
                doc[s] = run_rss(sub, args.rss_frames, args.rss_backend, args.rss_rate)
            else:
                raise SystemExit(f"unknown section {s!r}")
            doc[s]["section_s"] = round(time.monotonic() - t0, 1)
            # the machine is shared: its load (runnable processes, 1-min average) before and after
            doc[s]["machine_load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            print(f"[stress] {s} done in {doc[s]['section_s']} s", file=sys.stderr, flush=True)
    print(json.dumps(doc, indent=2))
    print(table(doc))


if __name__ == "__main__":
    main()
