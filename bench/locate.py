"""Latency of locate (what ~/locate runs: StreamEngine.locate, no queue, no language model) on full memories.

    python bench/locate.py                  # 4 cameras x 1200 frames, lite backend, CPU
    python bench/locate.py --quick          # 2 cameras x 200 frames (a smoke run)

The lite backend encodes and annotates a bank of real frames once: the six photographs of
tools/photos.py filmed hand-held, and bare corridor textures. Each camera's memory then takes
--frames of them at 1 Hz of stamp time, straight into the memory (encoding 1200 frames a camera would
take an hour on a laptop CPU and changes nothing the locate call reads): scenes of 3 to 12 s in an
order of the camera's own, revisited many times, with corridor frames between them, and the robot's
pose from a station loop (20 Hz odometry through the engine's pose buffer). So every temporal slot is
full and holds its full count of runs, the worst case for locate. Then each case (a phrase the word
table knows, one matched by meaning with MiniLM, one nothing matches, one camera, a window,
max_results) is timed --reps times.

Prints one JSON document, then a short table. Timings are wall-clock on this machine as it is (other
processes included): the machine's load is in the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vstream_ros.config import BackendConfig  # noqa: E402
from vstream_ros.engine import EngineConfig, EngineSession  # noqa: E402
from vstream_ros.tools.photos import PHOTOS, hand_held, load_photo  # noqa: E402
from vstream_ros.tools.trajectory import StationLoop  # noqa: E402

T0 = 1_700_000_000.0
BUDGET_MS = 100.0


def frame_bank(encoder, per_photo: int, size=(240, 320), seed=0):
    """(features [N, 7, 7, 1280], annotations [N, A], scene of each row: photo index, or -1 for corridor)."""
    rng = np.random.default_rng(seed)
    frames, scene = [], []
    for k, (_, source, _) in enumerate(PHOTOS):
        img = load_photo(source)
        for i in range(per_photo):
            frames.append(hand_held(img, 5 * i, size, rng))
            scene.append(k)
    for _ in range(per_photo):
        tex = np.clip(rng.normal(128, 30, (*size, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
        frames.append(tex)
        scene.append(-1)
    feats, anns = [], []
    for b in range(0, len(frames), 8):
        batch = np.stack(frames[b: b + 8])
        f = encoder.encode(batch)
        feats.append(f)
        anns.append(encoder.annotate(batch, f))
    return torch.cat(feats), torch.cat(anns), np.array(scene)


def schedule(scene: np.ndarray, frames: int, rng: np.random.Generator) -> list[int]:
    """Bank rows for one camera: scenes of 3 to 12 frames in an order of its own, corridor between them."""
    by_scene = {s: np.flatnonzero(scene == s) for s in set(scene.tolist())}
    rows: list[int] = []
    while len(rows) < frames:
        k = int(rng.integers(len(PHOTOS)))
        for s, n in ((-1, int(rng.integers(1, 3))), (k, int(rng.integers(3, 13)))):
            rows += [int(rng.choice(by_scene[s])) for _ in range(n)]
    return rows[:frames]


def fill(engine, bank, cameras: int, frames: int, seed: int = 0) -> dict:
    """Every camera's memory fed `frames` frames at 1 Hz, the cameras side by side, each frame with the
    robot's pose at its stamp from the engine's pose buffer (20 Hz odometry of a station loop)."""
    feats, anns, scene = bank
    loop = StationLoop(len(PHOTOS), 8.0, 2.0)
    rows = [schedule(scene, frames, np.random.default_rng(seed + c)) for c in range(cameras)]
    t0 = time.perf_counter()
    for i in range(frames):
        for step in range(20 * i - 19 if i else 0, 20 * i + 1):
            x, y, yaw, _, _ = loop.at((step / 20) % (8.0 * len(PHOTOS)))
            engine.poses.add(T0 + step / 20, (x, y, 0.0), (0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)), "odom")
        pose = torch.from_numpy(engine.poses.at(T0 + i))[None]
        for c in range(cameras):
            j = rows[c][i]
            engine.memory.update(f"cam{c}", feats[j: j + 1], T0 + i, anns[j: j + 1], pose)
    took = time.perf_counter() - t0
    mems = [engine.memory._memories[f"cam{c}"] for c in range(cameras)]
    runs = [int((m._t["run_frames"][: m._filled] > 0).sum()) for m in mems]
    return {"cameras": cameras, "frames_per_camera": frames, "fill_s": round(took, 2),
            "temporal_slots_filled": [m._filled for m in mems], "temporal_slots": mems[0].config.temporal_slots,
            "runs_per_camera": runs, "runs_capacity_per_camera": mems[0].config.temporal_slots
            * mems[0].config.runs_per_slot}


def timed(fn, reps: int) -> tuple[list[float], object]:
    out, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        out.append(1e3 * (time.perf_counter() - t0))
    return out, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--frames", type=int, default=1200, help="frames per camera (1 Hz of stamp time)")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--per-photo", type=int, default=6, help="distinct frames encoded per photograph")
    ap.add_argument("--quick", action="store_true", help="2 cameras x 200 frames, 5 reps")
    args = ap.parse_args(argv)
    if args.quick:
        args.cameras, args.frames, args.reps, args.per_photo = 2, 200, 5, 2

    session = EngineSession(BackendConfig("lite", device="cpu"), EngineConfig(snapshot_path=""))
    with contextlib.redirect_stdout(sys.stderr):      # the EfficientNet package prints as it loads
        engine = session.open()                       # the node's start-up: built, warmed up, started
    load_s, warm_s = session.started.load_s - session.started.warm_up_s, session.started.warm_up_s
    t0 = time.perf_counter()
    bank = frame_bank(engine.backend.encoder, args.per_photo)
    bank_s = time.perf_counter() - t0
    filled = fill(engine, bank, args.cameras, args.frames)
    last = T0 + args.frames - 1
    cases = [
        ("cup", None, None, 0, "a word the table knows, every camera"),
        ("person", None, None, 0, "a COCO class (the detector), every camera"),
        ("cat", ["cam0"], None, 0, "one camera"),
        ("rocket", None, (last - 120.0, last), 0, "the last two minutes"),
        ("flower", None, None, 1, "max_results 1"),
        ("kitty", None, None, 0, "matched by meaning (MiniLM)"),
        ("temple", None, None, 0, "nothing it knows: an error"),
    ]
    rows = []
    for phrase, cams, window, n, what in cases:
        ms, res = timed(lambda p=phrase, c=cams, w=window, n=n: engine.locate(p, w, c, n), args.reps)
        rows.append({"phrase": phrase, "what": what, "cameras": cams or "all", "window": window, "max_results": n,
                     "success": res.success, "error": res.error, "sightings": len(res.evidence),
                     "with_pose": sum(any(r.pose is not None for r in g.runs) for g in res.evidence),
                     "frames_in_memory": res.frames_in_memory, "p50_ms": round(statistics.median(ms), 2),
                     "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(max(ms), 2)})
    read_ms, _ = timed(lambda: engine.memory.read(), args.reps)
    doc = {
        "bench": "locate", "backend": "lite", "device": "cpu", "budget_ms": BUDGET_MS,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average": [round(v, 2) for v in os.getloadavg()]},
        "setup_s": {"load": round(load_s, 1), "warm_up": round(warm_s, 1), "encode_bank": round(bank_s, 1),
                    "bank_frames": int(bank[0].shape[0])},
        "memory": filled, "memory_read_all_cameras_p50_ms": round(statistics.median(read_ms), 2),
        "cases": rows,
        "all_p95_under_budget": all(r["p95_ms"] < BUDGET_MS for r in rows),
    }
    print(json.dumps(doc, indent=2))
    print()
    print(f"locate on {args.cameras} full memories ({args.frames} frames each, "
          f"{sum(filled['runs_per_camera'])} runs), lite, CPU x{os.cpu_count()} "
          f"(load {doc['machine']['load_average'][0]})")
    print("| phrase | case | sightings (with pose) | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        got = f"{r['sightings']} ({r['with_pose']})" if r["success"] else f"error: {r['error'][:40]}"
        print(f"| {r['phrase']} | {r['what']} | {got} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
