"""Flash Memory (flash_vstream_qwen) update time and bytes versus frames seen: ours against upstream's streaming
update, at the released sizes (60 synopsis slots, 30 key frames) and Qwen2-VL's 1280-wide features.

    python bench/flash_memory.py                # CPU, 448x448 frames (32x32 + 16x16 patches), up to 10k frames
    python bench/flash_memory.py --quick        # up to 3k frames seen (add --threads 1 on a busy machine)
    python bench/flash_memory.py --device cuda  # bf16 maps, fp32 clustering

Prints one JSON document, then a table. "flat": update time at the largest point over the time at 1k frames
(must stay <= 1.2) and bytes equal at every point. On a CPU the ratio is taken on the process's CPU time
per update (all threads), which other work on a shared machine does not inflate; wall time is reported
too. Content does not change the cost: frames cycle through a few random scenes.

The baseline re-implements upstream Flash-VStream-Qwen's streaming update (vstream_qwen2vl_realtime.py,
embed_new_video_clip, one frame per clip): the new frame's full and half maps appended to banks of every
frame seen; weighted k-means (random init, at most 10 iterations, tolerance 1e-4) over the 60 stored
centroids with their weights plus the new frame; then the DAM: the 30 heaviest centroids' nearest frames
in the whole half bank, their full maps gathered. Its state at N frames is set up directly (banks of N
frames); beyond --baseline-max frames its bytes are projected (the banks grow by a frame's two maps) and
its time is not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

from vstream_ros.memory import FlashMemory, FlashMemoryConfig
from vstream_ros.memory.flash_config import pack_frame_maps

DIM = 1280


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, n: int, device: torch.device) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of n calls."""
    wall, cpu = [], []
    for _ in range(n):
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync(device)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def frame_bank(n: int, side: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """n packed frames (full side x side map + half map) cycling through 8 scenes with noise."""
    g = torch.Generator().manual_seed(0)
    scenes = torch.randn(8, side, side, DIM, generator=g)
    full = scenes[torch.arange(n) % 8] + 0.3 * torch.randn(n, side, side, DIM, generator=g)
    half = torch.nn.functional.avg_pool2d(full.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    return pack_frame_maps(full, half).to(device, dtype)


def summary(times: tuple[list[float], list[float]]) -> dict:
    wall, cpu = times
    return {"update_ms_p50": 1e3 * statistics.median(wall),
            "update_ms_p95": 1e3 * sorted(wall)[int(0.95 * (len(wall) - 1))],
            "update_cpu_ms_p50": 1e3 * statistics.median(cpu)}


# ------------------------------------------------------------------ ours
def bench_ours(points: list[int], reps: int, side: int, device: torch.device, dtype: torch.dtype) -> list[dict]:
    cfg = FlashMemoryConfig()
    bank = frame_bank(16, side, device, dtype)
    mem = FlashMemory(cfg, DIM, cfg.packed_grid((side, side)), device=device, dtype=dtype)
    results, fed = [], 0
    for target in points:
        while fed < target:
            b = min(16, target - fed)
            mem.update(bank[torch.arange(fed, fed + b) % bank.shape[0]], [float(fed + i) for i in range(b)])
            fed += b

        def one() -> None:
            nonlocal fed
            mem.update(bank[fed % bank.shape[0]], float(fed))
            fed += 1

        times = timed(one, reps, device)
        results.append({"frames_seen": target, **summary(times), "bytes": mem.nbytes(),
                        "rows": mem.read().num_tokens})
    return results


# ------------------------------------------------------------- baseline
class UpstreamStreaming:
    """Upstream's per-frame streaming update, re-implemented for measurement (see the module docstring)."""

    K, R, ITERS, TOL = 60, 30, 10, 1e-4

    def __init__(self, frames_seen: int, side: int, device: torch.device, dtype: torch.dtype,
                 gen: torch.Generator) -> None:
        self.device, self.gen = device, gen
        self.full = torch.zeros(frames_seen, side * side, DIM, device=device, dtype=dtype)
        self.half = torch.zeros(frames_seen, side * side // 4, DIM, device=device, dtype=dtype)
        n = min(frames_seen, self.K)
        self.cent = torch.randn(n, side * side // 4 * DIM, generator=gen).to(device)
        self.weight = torch.ones(n, device=device)

    def kmeans(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cent = x[torch.randperm(x.shape[0], generator=self.gen)[: self.K].to(x.device)]
        sq = (x * x).sum(1)
        for _ in range(self.ITERS):
            d = (sq[:, None] + (cent * cent).sum(1)[None] - 2 * x @ cent.T).clamp_min(0).sqrt()
            assign = d.argmin(1)
            wsum = torch.zeros(self.K, device=x.device).index_add_(0, assign, w)
            new = torch.zeros_like(cent).index_add_(0, assign, x * w[:, None]) / wsum.clamp_min(1e-12)[:, None]
            empty = wsum == 0
            if empty.any():
                new[empty] = x[torch.randint(x.shape[0], (int(empty.sum()),), generator=self.gen).to(x.device)]
            shift = (new - cent).norm(dim=1).sum()
            cent = new
            if shift < self.TOL:
                break
        return cent, wsum

    def update(self, frame: torch.Tensor, side: int) -> None:
        full, half = frame[:side].reshape(1, -1, DIM), frame[side:].reshape(1, -1, DIM)
        self.full = torch.cat([self.full, full])            # the banks grow by a frame's two maps every frame
        self.half = torch.cat([self.half, half])
        x = torch.cat([self.cent, half.float().reshape(1, -1)])
        w = torch.cat([self.weight, torch.ones(1, device=self.device)])
        if x.shape[0] > self.K:
            self.cent, self.weight = self.kmeans(x, w)
        else:
            self.cent, self.weight = x, w
        heavy = self.cent[torch.argsort(self.weight, descending=True)[: self.R]]
        bank = self.half.reshape(self.half.shape[0], -1).float()
        d = ((heavy * heavy).sum(1)[:, None] + (bank * bank).sum(1)[None] - 2 * heavy @ bank.T).clamp_min(0).sqrt()
        key = self.full[d.argmin(1)]                          # noqa: F841 (the DAM, read as upstream does)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.full, self.half, self.cent, self.weight))


def bench_baseline(points: list[int], reps: int, side: int, device: torch.device, dtype: torch.dtype,
                   max_frames: int) -> list[dict]:
    gen = torch.Generator().manual_seed(1)
    frame = frame_bank(1, side, device, dtype)[0]
    per_frame = (side * side + side * side // 4) * DIM * torch.finfo(dtype).bits // 8
    results = []
    for n in points:
        if n > max_frames:
            results.append({"frames_seen": n, "measured": False, "update_ms_p50": None, "update_ms_p95": None,
                            "bytes": n * per_frame, "note": "banks too large for this run; bytes projected"})
            continue
        base = UpstreamStreaming(n, side, device, dtype, gen)
        times = timed(lambda base=base: base.update(frame, side), max(2, reps // 10), device)
        results.append({"frames_seen": n, "measured": True, **summary(times), "bytes": base.nbytes()})
        del base
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--points", default="10,100,1000,3000,10000")
    ap.add_argument("--quick", action="store_true", help="stop at 3k frames seen")
    ap.add_argument("--reps", type=int, default=30, help="timed single-frame updates at each point")
    ap.add_argument("--side", type=int, default=32, help="full map side in patches (32: a 448x448 frame)")
    ap.add_argument("--baseline-max", type=int, default=100,
                    help="largest frames-seen at which the baseline's banks are really allocated")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads; 1 makes CPU time exact on a busy machine (idle threads spin); 0: default")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--check", action="store_true", help="exit 1 unless time is flat and bytes are equal")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    points = [int(p) for p in args.points.split(",")]
    if args.quick:
        points = [p for p in points if p <= 3000]
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)

    ours = bench_ours(points, args.reps, args.side, device, dtype)
    base = [] if args.no_baseline else bench_baseline(points, args.reps, args.side, device, dtype,
                                                      args.baseline_max)
    ref = next((r for r in ours if r["frames_seen"] == 1000), ours[0])
    last = ours[-1]
    key = "update_cpu_ms_p50" if device.type == "cpu" else "update_ms_p50"
    report = {
        "benchmark": "flash_memory_update", "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else os.uname().machine,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "feature_dtype": str(dtype),
        "input": f"full {args.side}x{args.side}x{DIM} + synopsis {args.side // 2}x{args.side // 2}x{DIM}",
        "memory": FlashMemoryConfig().to_dict(), "ours": ours, "baseline_upstream": base,
        "flat": {"time": key, "time_ratio_last_over_1k": last[key] / ref[key],
                 "bytes_equal": all(r["bytes"] == ours[0]["bytes"] for r in ours), "rows_at_last": last["rows"]},
    }
    print(json.dumps(report, indent=2))
    print(f"\n{'frames':>8} | {'ours ms p50':>11} {'p95':>7} {'cpu ms':>7} {'ours MiB':>9} | "
          f"{'upstream ms p50':>15} {'upstream MiB':>12}")
    for i, r in enumerate(ours):
        b = base[i] if base else None
        bt = f"{b['update_ms_p50']:.1f}" if b and b["update_ms_p50"] is not None else "not run"
        bb = f"{b['bytes'] / 2**20:.0f}" if b else "-"
        print(f"{r['frames_seen']:>8} | {r['update_ms_p50']:>11.2f} {r['update_ms_p95']:>7.2f} "
              f"{r['update_cpu_ms_p50']:>7.2f} {sum(r['bytes'].values()) / 2**20:>9.1f} | {bt:>15} {bb:>12}")
    flat = report["flat"]
    print(f"\nflat: update {'CPU ' if key.startswith('update_cpu') else ''}time at {last['frames_seen']} / at "
          f"{ref['frames_seen']} frames = "
          f"{flat['time_ratio_last_over_1k']:.2f} (<= 1.2 required); bytes equal at every point: {flat['bytes_equal']}")
    ok = flat["time_ratio_last_over_1k"] <= 1.2 and flat["bytes_equal"]
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
