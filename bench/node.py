"""The node under camera load: CPU use and frame-to-memory latency, and query round trips.

    python bench/node.py [--backend lite|tiny] [--cameras 1,3,6] [--seconds 10] [--shedding off,on] [--index off]
                         [--frames noise|photos|video] [--observe on,off] [--torch-threads 0,1]
                         [--batch-size 8,1] [--runtime onnxruntime,torch] [--hands on,off]
                         [--faces on,off] [--executor inline,pool] [--sample-on-change 12,0]

Cameras run in another process: 640x480 rgb8 at 30 Hz each, stamped with the wall clock at publish,
showing noise, or (`--frames photos`) the demo's photographs, a new one each second, or (`--frames video`) a
real clip, `tests/fixtures/videos/walkway_pedestrians.mp4` (people walking; 8 s at 30 fps, looped), the pace
of change a real camera has.
The node runs in this process (so its engine's per-frame log is readable) with 1 Hz sampling; its CPU
use is this process's CPU time over the window. Due frames are those the sampler picked (sampled, or
overwritten in their slot before the encoder took them); the share encoded is what the encoder kept up
with, run with the encoder's load shedding (engine/shedding.py) off and on. Changed frames the shedding
held back (its first level) are not due and are reported beside; so are the encode cost per frame the
policy measured at each level, and each thread role's CPU (`thread_cores`: executor, the rclpy spin
thread, DDS, torch, the encoder). Frame-to-memory latency is from header.stamp to the end of the
memory update; in the JSON beside it, offer-to-memory (from the engine's `offer` in the camera callback:
what is not receiving) and the encoder's time per frame. Then the same question goes 20 times through
~/query over DDS and 20 times straight to the engine. `--index off,on` runs each setting without and with the
embedded sightings index (a fresh sightings.db in a temporary folder, the default MiniLM embedder):
ingest should not tell the two apart. `--observe off` turns lite's tracker and scene-text reader
(backends/lite/observing.py) off for a run, so one invocation measures what they cost. `--torch-threads
0,1` runs each setting with torch's own intra-op thread count (0) and with the given one; `--batch-size`
with each `encoder_batch_size` given (frames of several cameras encoded together); `--runtime
onnxruntime,torch` with lite's two networks in ONNX Runtime (its default on a CPU) and in torch
(backends/lite/onnx_cpu.py), each run loading the backend afresh; `--hands on,off` with and without lite's
hand detector (backends/lite/hands.py: the palm detector and the landmark model that confirms its palms),
`--faces on,off` with and without its face detector (backends/lite/faces.py: BlazeFace and the face mesh model),
`--executor inline,pool` with the node's own executor (ros/executor.py: camera callbacks on the spin thread) and
with rclpy's MultiThreadedExecutor (every callback through its thread pool), `--sample-on-change 12,0` with each
value of the node's change sampling (engine/ingest.py; 0: frames by stamp alone).
Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))   # run from a checkout as well

from vstream_ros.tools.rosenv import ensure_loopback  # noqa: E402

ensure_loopback()


VIDEO = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "videos", "walkway_pedestrians.mp4")


def clip_frames(path: str) -> list[bytes]:
    """Every frame of a clip as 640x480 rgb8 bytes."""
    import cv2

    cap, out = cv2.VideoCapture(path), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return out
        out.append(cv2.cvtColor(cv2.resize(bgr, (640, 480)), cv2.COLOR_BGR2RGB).tobytes())


def publish_cameras(n: int, seconds: float, ready, kind: str = "noise") -> None:
    """Child process: n raw 640x480 cameras at 30 Hz, wall-clock stamps."""
    import numpy as np
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_cameras")
    pubs = [node.create_publisher(Image, f"/bench{i}/image_raw", qos_profile_sensor_data) for i in range(n)]
    per_frame, offset = 30, 1                     # a new picture each second, camera i one picture on
    if kind == "photos":                          # things lite recognises: runs become sightings
        import cv2

        from vstream_ros.tools.photos import PHOTOS, load_photo

        frames = [cv2.resize(load_photo(src), (640, 480)).tobytes() for _, src, _ in PHOTOS]
    elif kind == "video":
        frames = clip_frames(VIDEO)
        per_frame, offset = 1, 37                 # a new frame each tick, cameras 37 frames apart
    else:
        frames = [np.random.default_rng(i).integers(0, 255, (480, 640, 3), np.uint8).tobytes() for i in range(4)]
    while any(p.get_subscription_count() == 0 for p in pubs):
        time.sleep(0.02)
    ready.set()
    start, k = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        for i, p in enumerate(pubs):
            msg = Image(height=480, width=640, encoding="rgb8", step=1920,
                        data=frames[(k // per_frame + i * offset) % len(frames)])
            msg.header.stamp = node.get_clock().now().to_msg()
            p.publish(msg)
        k += 1
        time.sleep(max(0.0, start + k / 30 - time.monotonic()))
    node.destroy_node()
    rclpy.try_shutdown()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each of this process's threads so far, by role: Python threads by name (the
    executor's workers share one role, `executor`), native ones (DDS, torch, OpenCV) by their kernel name.
    From /proc/self/task/*/stat (utime + stime, clock ticks); threads that ended are not counted."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        name = names.get(int(tid), comm)
        role = "executor" if name.startswith("ThreadPoolExecutor") else name.rstrip("0123456789-_ ") or name
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_cores(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Cores per thread role over a window, largest first (roles under 0.005 core left out)."""
    cores = {k: (v - before.get(k, 0.0)) / wall for k, v in after.items()}
    return {k: round(v, 3) for k, v in sorted(cores.items(), key=lambda kv: -kv[1]) if v >= 0.005}


def due_encoded(engine) -> tuple[int, int, int]:
    """Due frames (sampled, or overwritten before the encoder took them), encoded ones, and the changed
    frames load shedding held back (not due: engine/shedding.py's first level)."""
    stats = engine.ingest.stats_copy().values()
    return (sum(s.sampled + s.overwritten for s in stats), sum(s.encoded for s in stats),
            sum(getattr(s, "held_back", 0) for s in stats))


def run(cameras: int, backend: str, seconds: float, shedding: bool = True, index: bool = False,
        frames_kind: str = "noise", observe: bool = True, torch_threads: int = 0, batch_size: int = 8,
        runtime: str = "onnxruntime", hands: bool = True, faces: bool = True, executor: str = "inline",
        sample_on_change: float | None = None) -> dict:
    import rclpy
    import torch
    from rclpy.executors import MultiThreadedExecutor

    from vstream_ros.backends.lite.onnx_cpu import RUNTIME_ENV
    from vstream_ros.ros.executor import NodeExecutor
    from vstream_ros.ros.node import VStreamNode
    from vstream_ros.srv import Query
    from vstream_ros.tools.evaluate import pct

    os.environ[RUNTIME_ENV] = runtime             # read when the node's configure loads the backend
    default_threads = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    tmp = tempfile.TemporaryDirectory(prefix="bench_node_")
    uri = os.path.join(tmp.name, "sightings.db") if index else "''"
    rclpy.init(args=["--ros-args", "-p", f"backend:={backend}", "-p", "snapshot_path:=''", "-p", "sample_rate_hz:=1.0",
                     "-p", f"load_shedding:={str(shedding).lower()}", "-p", f"index_uri:={uri}",
                     "-p", f"encoder_batch_size:={batch_size}",
                     *(["-p", f"sample_on_change:={float(sample_on_change)}"] if sample_on_change is not None else []),
                     "-p", f"camera_topics:={[f'/bench{i}/image_raw' for i in range(cameras)]}"])
    node = VStreamNode()
    node.trigger_configure()
    observer = getattr(node.engine.backend.encoder, "observer", None)      # lite's tracker and text reader
    if observer is not None and not observe:
        observer.tracking = observer.ocr = False
    from vstream_ros.backends.lite.detection import Combined

    encoder = node.engine.backend.encoder
    with_parts = {}
    for label, wanted in (("hand", hands), ("face", faces)):
        detector = getattr(encoder, "detector", None)
        with_parts[label] = isinstance(detector, Combined) and label in detector.labels
        if with_parts[label] and not wanted:
            encoder.detector = encoder.seer.detector = detector.without(label)
            with_parts[label] = False
    node.trigger_activate()
    ex = (NodeExecutor if executor == "inline" else MultiThreadedExecutor)(num_threads=8)
    ex.add_node(node)
    spinner = threading.Thread(target=ex.spin, daemon=True)
    spinner.start()
    ready = mp.get_context("spawn").Event()
    pub = mp.get_context("spawn").Process(target=publish_cameras, args=(cameras, seconds + 4, ready, frames_kind))
    pub.start()
    ready.wait(60)
    time.sleep(3.0)                               # warm-up: discovery settled, first frames encoded
    engine = node.engine
    change = engine.config.sample_on_change
    if engine.sightings is not None:              # the index's warm-up (embedder, engine) is start-up's
        deadline = time.monotonic() + 120
        while not engine.sightings.index.writer.stats.connected and time.monotonic() < deadline:
            time.sleep(0.1)
    n0, cpu0, wall0, threads0 = len(engine.frame_log), cpu_seconds(), time.monotonic(), thread_cpu()
    received0 = sum(s.received for s in engine.stats.values())
    counts0 = due_encoded(engine)
    time.sleep(seconds)
    due, encoded, held = (b - a for a, b in zip(counts0, due_encoded(engine), strict=True))
    load = engine.load_state()
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    threads = thread_cores(threads0, thread_cpu(), wall)
    frames = engine.frame_log.since(n0)
    received = sum(s.received for s in engine.stats.values()) - received0
    lat = [f.done_wall - f.stamp for f in frames]
    engine_lat = [f.lag_s for f in frames]          # from the engine's offer to the memory: the rest is receiving
    pub.join()

    client = rclpy.create_node("bench_client")
    cli = client.create_client(Query, "/vstream/query")
    cli.wait_for_service(10)
    ros_rtt, direct = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        fut = cli.call_async(Query.Request(question="What did you see?", max_new_tokens=1))
        while not fut.done():
            rclpy.spin_once(client, timeout_sec=0.01)
        assert fut.result().success, fut.result().error
        ros_rtt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert engine.ask("What did you see?", max_new_tokens=1).wait(60).success
        direct.append(time.perf_counter() - t0)
    feed = engine.sightings
    sightings = {} if feed is None else {"runs_closed": feed.runs_closed, "queued": feed.queued,
                                         "written": feed.index.writer.stats.written,
                                         "dropped": feed.index.writer.stats.dropped}
    ex.shutdown()
    node._close_engine()
    tmp.cleanup()
    client.destroy_node()
    node.destroy_node()
    rclpy.shutdown()
    used_threads = torch.get_num_threads()
    torch.set_num_threads(default_threads)
    return {
        "cameras": cameras, "backend": backend, "load_shedding": shedding, "index": index, "sightings": sightings,
        "frames": frames_kind, "tracker_and_ocr": observer is not None and observe, "hands": with_parts["hand"],
        "faces": with_parts["face"], "executor": executor, "sample_on_change": change,
        "torch_threads": used_threads, "encoder_batch_size": batch_size, "runtime": runtime,
        "load_avg": os.getloadavg(), "window_s": wall,
        "frames_received_per_s": received / wall, "frames_due": due, "due_encoded": encoded,
        "due_encoded_fraction": encoded / due if due else None, "change_frames_held_back": held,
        "load_level_at_end": load.level,
        "encode_ms_per_frame_by_level": {k: round(1e3 * v, 1) for k, v in sorted(
            getattr(engine.encoder.shedder, "costs", dict)().items())},
        "load_doing_at_end": load.doing,
        "encoder_busy": sum(f.encode_s + f.update_s for f in frames) / wall,   # its share of the window
        "frames_encoded": len(frames), "node_cpu_cores": cpu / wall, "thread_cores": threads,
        "frame_to_memory_ms_p50": 1e3 * pct(lat, 50) if lat else None,
        "frame_to_memory_ms_p95": 1e3 * pct(lat, 95) if lat else None,
        "offer_to_memory_ms_p50": 1e3 * pct(engine_lat, 50) if engine_lat else None,
        "offer_to_memory_ms_p95": 1e3 * pct(engine_lat, 95) if engine_lat else None,
        "encode_ms_p95": 1e3 * pct([f.encode_s for f in frames], 95) if frames else None,
        "query_ros_ms_p50": 1e3 * statistics.median(ros_rtt), "query_engine_ms_p50": 1e3 * statistics.median(direct),
        "query_ros_over_engine": statistics.median(ros_rtt) / statistics.median(direct),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="lite")
    ap.add_argument("--cameras", default="1,3,6")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--shedding", default="off,on", help="load shedding off, on, or both (off,on)")
    ap.add_argument("--index", default="off", help="the embedded sightings index off, on, or both (off,on)")
    ap.add_argument("--frames", default="noise", choices=("noise", "photos", "video"))
    ap.add_argument("--observe", default="on", help="lite's tracker and text reader on, off, or both (on,off)")
    ap.add_argument("--torch-threads", default="0", help="torch intra-op threads per run (0: torch's own), e.g. 0,1")
    ap.add_argument("--batch-size", default="8", help="encoder_batch_size per run, e.g. 8,1")
    ap.add_argument("--runtime", default="onnxruntime", help="lite's networks in onnxruntime, torch, or both")
    ap.add_argument("--hands", default="on", help="lite's hand detector on, off, or both (on,off)")
    ap.add_argument("--faces", default="on", help="lite's face detector on, off, or both (on,off)")
    ap.add_argument("--sample-on-change", default="", help="the node's sample_on_change per run, e.g. 12,0 (default: "
                    "the node's own)")
    ap.add_argument("--executor", default="inline", help="the node's executor (inline), rclpy's MultiThreadedExecutor "
                    "(pool), or both (inline,pool)")
    args = ap.parse_args(argv)
    rows = [run(int(n), args.backend, args.seconds, shed == "on", ix == "on", args.frames, obs == "on",
                int(th), int(bs), rt, hd == "on", fc == "on", ex, float(ch) if ch else None)
            for n in args.cameras.split(",") for shed in args.shedding.split(",") for ix in args.index.split(",")
            for obs in args.observe.split(",") for th in args.torch_threads.split(",")
            for bs in args.batch_size.split(",") for rt in args.runtime.split(",") for hd in args.hands.split(",")
            for fc in args.faces.split(",") for ex in args.executor.split(",")
            for ch in args.sample_on_change.split(",")]
    print(json.dumps({"benchmark": "node", "cpu_count": os.cpu_count(), "runs": rows}, indent=2))
    print("\n| cameras | shedding (level at end) | index (sightings written) | tracker+OCR | hands / faces | executor "
          "| change sampling | runtime | torch threads / batch | due encoded | changed frames held back | received/s "
          "| node CPU (cores) | frame->memory p50 / p95 (ms) | query ROS / engine (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        frac = r["due_encoded_fraction"]
        ix = f"on ({r['sightings'].get('written', 0)})" if r["index"] else "off"
        print(f"| {r['cameras']} | {'on' if r['load_shedding'] else 'off'} ({r['load_level_at_end']}) | {ix} | "
              f"{'on' if r['tracker_and_ocr'] else 'off'} | "
              f"{'on' if r['hands'] else 'off'} / {'on' if r['faces'] else 'off'} | "
              f"{r['executor']} | {r['sample_on_change']} | {r['runtime']} | "
              f"{r['torch_threads']} / {r['encoder_batch_size']} | "
              f"{r['due_encoded']}/{r['frames_due']} ({100 * frac if frac is not None else 0:.0f} %) | "
              f"{r['change_frames_held_back']} | {r['frames_received_per_s']:.0f} | {r['node_cpu_cores']:.2f} | "
              f"{r['frame_to_memory_ms_p50']:.1f} / {r['frame_to_memory_ms_p95']:.1f} | "
              f"{r['query_ros_ms_p50']:.1f} / {r['query_engine_ms_p50']:.1f} "
              f"(x{r['query_ros_over_engine']:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
