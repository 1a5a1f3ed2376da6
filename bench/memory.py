"""Per-frame memory update time and memory bytes versus frames seen: ours against upstream's algorithm.

    python bench/memory.py                 # CPU, CLIP sizes (16x16x1024), up to 100k frames seen
    python bench/memory.py --quick         # up to 10k frames seen
    python bench/memory.py --device cuda   # bf16 features, fp32 clustering

Prints one JSON document, then a table. The "flat" figures are ratios taken in the same run:
update time at the largest point over the time at 1k frames (must stay <= 1.2), and bytes equal.

The baseline re-implements upstream Flash-VStream's streaming update (embed_video_streaming):
every frame, unweighted k-means (random init, up to 10 iterations, tol 1e-4) over the 25 stored
centroids plus the new frame, distances through the full [T, K, 16384] difference tensor; key frames
indexed by cluster id into the 8x8 feature buffer; the buffer (fp16, on the host) grown by torch.cat
every frame; the abstract memory blended with the one new token. Its state at N frames seen is set up
directly (a buffer of N frames) rather than by streaming N frames, since the state is all that the
update's cost depends on; where the buffer would not fit in this machine's memory its bytes are
projected (128 KiB a frame) and its time is not measured.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from vstream_ros.memory import MemoryConfig, STARMemory

GRID, DIM = (16, 16), 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_updates(fn, n: int, device: torch.device) -> list[float]:
    out = []
    for _ in range(n):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t0)
    return out


def frame_bank(n: int, device: torch.device, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """A few scenes' worth of CLIP-sized feature maps to cycle through (content does not change the cost)."""
    g = torch.Generator().manual_seed(seed)
    scenes = torch.randn(8, 1, *GRID, DIM, generator=g)
    frames = scenes[torch.arange(n) % 8][:, 0] + 0.3 * torch.randn(n, *GRID, DIM, generator=g)
    return frames.to(device, dtype)


# ------------------------------------------------------------------ ours
def bench_ours(points: list[int], reps: int, device: torch.device, dtype: torch.dtype) -> list[dict]:
    bank = frame_bank(256, device, dtype)
    mem = STARMemory(MemoryConfig(), DIM, GRID, device=device, dtype=dtype)
    results, stamp, fed = [], 0.0, 0
    for target in points:
        while fed < target:                       # stream in batches up to the point
            b = min(64, target - fed)
            idx = torch.arange(fed, fed + b) % bank.shape[0]
            mem.update(bank[idx], [stamp + i for i in range(b)])
            stamp += b
            fed += b

        def one() -> None:
            nonlocal stamp, fed
            mem.update(bank[fed % bank.shape[0]], stamp)
            stamp += 1.0
            fed += 1

        times = timed_updates(one, reps, device)
        read = mem.read()
        results.append({"frames_seen": target, "update_ms_p50": 1e3 * statistics.median(times),
                        "update_ms_p95": 1e3 * sorted(times)[int(0.95 * (len(times) - 1))],
                        "bytes": mem.nbytes(), "tokens": read.num_tokens})
    return results


# ------------------------------------------------------------- baseline
class UpstreamStreaming:
    """Upstream's per-frame streaming update, re-implemented for measurement (see module docstring)."""

    K, KEY, ALPHA, ITERS, TOL = 25, 3, 0.2, 10, 1e-4

    def __init__(self, frames_seen: int, device: torch.device, gen: torch.Generator) -> None:
        self.device, self.gen = device, gen
        # the 8x8 feature buffer of every frame seen, fp16 on the host, as upstream keeps it
        self.buffer = torch.zeros(frames_seen, 64, DIM, dtype=torch.float16)
        n = min(frames_seen, self.K)
        self.long = torch.randn(n, 16, DIM, generator=gen).to(device)
        self.turing = torch.randn(n, 1, DIM, generator=gen).to(device)
        self.q = torch.nn.Linear(DIM, 32).to(device)
        self.k = torch.nn.Linear(DIM, 32).to(device)

    def kmeans(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        T = x.shape[0]
        flat = x.reshape(T, -1)
        w = torch.ones(T, device=x.device)
        cent = flat[torch.randperm(T, generator=self.gen)[: self.K].to(x.device)]
        for _ in range(self.ITERS):
            d = ((flat[:, None, :] - cent[None, :, :]) ** 2).sum(-1).sqrt()     # [T, K, 16384] materialised
            assign = d.argmin(1)
            new = torch.zeros_like(cent).index_add_(0, assign, flat * w[:, None])
            wsum = torch.zeros(self.K, device=x.device).index_add_(0, assign, w)
            empty = wsum == 0
            new = new / wsum.clamp_min(1e-12)[:, None]
            if empty.any():
                new[empty] = flat[torch.randint(T, (int(empty.sum()),), generator=self.gen).to(x.device)]
            shift = (new - cent).norm(dim=1).sum()
            cent = new
            if shift < self.TOL:
                break
        return cent.view(self.K, *x.shape[1:]), wsum, assign

    def update(self, frame16: torch.Tensor) -> None:
        x = frame16.float().permute(2, 0, 1)[None]                          # [1, D, 16, 16]
        f8 = F.avg_pool2d(x, 2).flatten(2).transpose(1, 2)                  # [1, 64, D]
        f4 = F.avg_pool2d(F.avg_pool2d(x, 2), 2).flatten(2).transpose(1, 2)
        f1 = f8.mean(1, keepdim=True)
        self.buffer = torch.cat([self.buffer, f8.to(torch.float16).cpu()])  # grows by 128 KiB every frame
        long = torch.cat([self.long, f4])
        if long.shape[0] > self.K:
            self.long, weight, _ = self.kmeans(long)
        else:
            self.long, weight = long, torch.ones(long.shape[0], device=self.device)
        key_cent = long[torch.argsort(weight, descending=True)][: self.KEY]   # upstream: frames by cluster id
        dists = ((long[:, None] - key_cent[None]) ** 2).sum((2, 3)).sqrt()
        key = self.buffer[dists.argmin(0).cpu()].to(self.device)            # noqa: F841 (read as upstream does)
        mem = torch.cat([self.turing, f1])
        if mem.shape[0] > self.K:
            old, new = mem[: self.K, 0], mem[self.K:, 0]
            attn = torch.softmax(self.q(old) @ self.k(new).T / math.sqrt(32), dim=-1)
            self.turing = ((1 - self.ALPHA) * old + self.ALPHA * attn @ new)[:, None]
        else:
            self.turing = mem

    def nbytes(self) -> dict[str, int]:
        dev = sum(t.numel() * t.element_size() for t in (self.long, self.turing))
        host = self.buffer.numel() * self.buffer.element_size()
        if self.device.type == "cpu":
            return {"device": 0, "host": dev + host}
        return {"device": dev, "host": host}


def bench_baseline(points: list[int], reps: int, device: torch.device, max_frames: int) -> list[dict]:
    gen = torch.Generator().manual_seed(1)
    frame = frame_bank(1, device, torch.float32)[0]
    results = []
    for n in points:
        if n > max_frames:
            per_frame = 64 * DIM * 2
            results.append({"frames_seen": n, "measured": False, "update_ms_p50": None, "update_ms_p95": None,
                            "bytes": {"device": 0, "host": n * per_frame},
                            "note": "buffer too large for this machine; bytes projected"})
            continue
        base = UpstreamStreaming(n, device, gen)
        r = max(3, reps // (1 + n // 1000))
        times = timed_updates(functools.partial(base.update, frame), r, device)
        results.append({"frames_seen": n, "measured": True, "update_ms_p50": 1e3 * statistics.median(times),
                        "update_ms_p95": 1e3 * sorted(times)[int(0.95 * (len(times) - 1))], "bytes": base.nbytes()})
        del base
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--points", default="10,100,1000,10000,100000")
    ap.add_argument("--quick", action="store_true", help="stop at 10k frames seen")
    ap.add_argument("--reps", type=int, default=50, help="timed single-frame updates at each point")
    ap.add_argument("--baseline-max", type=int, default=10_000,
                    help="largest frames-seen at which the baseline's buffer is really allocated")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--check", action="store_true", help="exit 1 unless time is flat and bytes are equal")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    points = [int(p) for p in args.points.split(",")]
    if args.quick:
        points = [p for p in points if p <= 10_000]
    torch.manual_seed(0)

    ours = bench_ours(points, args.reps, device, dtype)
    base = [] if args.no_baseline else bench_baseline(points, args.reps, device, args.baseline_max)
    at = {r["frames_seen"]: r for r in ours}
    ref = at.get(1000, ours[0])
    last = ours[-1]
    report = {
        "benchmark": "memory_update", "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else os.uname().machine,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "feature_dtype": str(dtype),
        "input": f"{GRID[0]}x{GRID[1]}x{DIM}", "ours": ours, "baseline_upstream": base,
        "flat": {
            "time_ratio_last_over_1k": last["update_ms_p50"] / ref["update_ms_p50"],
            "bytes_equal": all(r["bytes"] == ours[0]["bytes"] for r in ours),
            "tokens_at_last": last["tokens"],
        },
    }
    print(json.dumps(report, indent=2))
    print(f"\n{'frames':>8} | {'ours ms p50':>11} {'p95':>7} {'ours MiB':>9} | "
          f"{'upstream ms p50':>15} {'upstream MiB':>12} | {'time x':>7} {'bytes x':>8}")
    for i, r in enumerate(ours):
        ob = sum(r["bytes"].values()) / 2**20
        b = base[i] if base else None
        bt = b["update_ms_p50"] if b else None
        bb = sum(b["bytes"].values()) / 2**20 if b else None
        bt_s = f"{bt:.2f}" if bt is not None else "not run"
        bb_s = f"{bb:.1f}" if bb is not None else "-"
        tx = f"{bt / r['update_ms_p50']:.1f}" if bt is not None else "-"
        bx = f"{bb / ob:.1f}" if bb is not None else "-"
        print(f"{r['frames_seen']:>8} | {r['update_ms_p50']:>11.3f} {r['update_ms_p95']:>7.3f} {ob:>9.2f} | "
              f"{bt_s:>15} {bb_s:>12} | {tx:>7} {bx:>8}")
    flat = report["flat"]
    print(f"\nflat: update time at {last['frames_seen']} / at {ref['frames_seen']} frames = "
          f"{flat['time_ratio_last_over_1k']:.2f} (<= 1.2 required); bytes equal at every point: {flat['bytes_equal']}")
    ok = flat["time_ratio_last_over_1k"] <= 1.2 and flat["bytes_equal"]
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
