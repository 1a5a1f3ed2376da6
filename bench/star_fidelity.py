"""STAR (flash_vstream) fidelity: how far the project's online Ward temporal memory and its key frames lie
from upstream's offline computation (the one the released checkpoint was trained with) on long streams.

    python bench/star_fidelity.py                 # 100, 300, 1000 frames, 3 streams each
    python bench/star_fidelity.py --quick         # 100 and 300 frames, 1 stream

Upstream (IVGSZ/Flash-VStream 8f6bde2, Flash-VStream-LLaVA), transcribed here, not imported by the package:
compress_temporal_features: frames pooled to 8x8, the newest frame kept apart (S), the others pooled to
4x4 and clustered by compress_functions.weighted_kmeans_feature (K=25, random init, at most 10 Lloyd
iterations, tolerance 1e-4; seeded here), R = vstream_arch.py L261-268: argsort(cluster weights)[:3]
used as *frame* indices (a frame index by cluster id, so always one of frames 0-24). "intended R": the
frame nearest each of the 3 heaviest centroids.

The project's temporal memory is a deliberate change: an exact per-frame weighted merge (Ward), bounded,
deterministic, O(K d) a frame; upstream re-clusters every frame seen. Measured per stream:
- chamfer: symmetric mean nearest-centroid distance between two sets of 25 centroids (4x4 maps),
  ours vs upstream (seed 0), and upstream seed 0 vs seed 1 (upstream's own run-to-run spread);
- sse: the k-means objective (sum of squared distances of every frame to its nearest centroid), per frame;
- R frame indices: ours, upstream's (cluster-id indexing), the intended nearest frames.
Features are "real-ish": scenes of geometric length (mean 25 frames), each a random 16x16 map drifting
slowly with per-frame noise, some scenes revisited; D=64 (the geometry, not the width, is measured).
Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics

import torch
import torch.nn.functional as F

from vstream_ros.memory import MemoryConfig
from vstream_ros.memory.star import STARMemory

D, GRID = 64, (16, 16)


def scenes_stream(n: int, seed: int) -> torch.Tensor:
    """[n, 16, 16, D] frames: scenes of geometric length, slow drift, noise, some scenes revisited."""
    g = torch.Generator().manual_seed(seed)
    bases: list[torch.Tensor] = []
    frames = []
    while len(frames) < n:
        if bases and float(torch.rand(1, generator=g)) < 0.3:
            base = bases[int(torch.randint(len(bases), (1,), generator=g))]
        else:
            base = torch.randn(*GRID, D, generator=g)
            bases.append(base)
        length = 1 + int(-25 * torch.log(torch.rand(1, generator=g)).item())     # exponential, mean ~25
        drift = 0.02 * torch.randn(*GRID, D, generator=g)
        for k in range(length):
            frames.append(base + k * drift + 0.2 * torch.randn(*GRID, D, generator=g))
    return torch.stack(frames[:n])


def pool(x: torch.Tensor, side: int) -> torch.Tensor:
    """[n, h, w, D] -> [n, side*side, D] by average pooling (upstream's compress_spatial_features)."""
    y = F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), (side, side))
    return y.permute(0, 2, 3, 1).reshape(x.shape[0], side * side, x.shape[-1])


def upstream_weighted_kmeans(x: torch.Tensor, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """compress_functions.weighted_kmeans_feature (unit weights), seeded: (centroids [k, P, D], weights)."""
    t = x.shape[0]
    if t <= k:
        return x, torch.ones(t)
    torch.manual_seed(seed)
    random.seed(seed)
    flat = x.reshape(t, -1)
    weights = torch.ones(t)
    centroids = flat[torch.randperm(t)[:k]]
    for _ in range(10):
        labels = torch.cdist(flat, centroids).argmin(1)
        weighted_sum = torch.zeros_like(centroids)
        weights_sum = torch.zeros(k)
        for j in range(k):
            m = labels == j
            weighted_sum[j] = (weights[m, None] * flat[m]).sum(0)
            weights_sum[j] = weights[m].sum()
        mask = weights_sum > 0
        new = torch.zeros_like(weighted_sum)
        new[mask] = weighted_sum[mask] / weights_sum[mask, None]
        if mask.sum() < k:
            new[~mask] = torch.stack([flat[random.randint(0, t - 1)] for _ in range(k - int(mask.sum()))])
        diff = torch.norm(centroids - new, dim=1).sum()
        if diff < 1e-4:
            break
        centroids = new
    return centroids.reshape(k, *x.shape[1:]), weights_sum


def chamfer(a: torch.Tensor, b: torch.Tensor) -> float:
    d = torch.cdist(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1))
    return float((d.min(1).values.mean() + d.min(0).values.mean()) / 2)


def sse(frames: torch.Tensor, centroids: torch.Tensor) -> float:
    d = torch.cdist(frames.reshape(frames.shape[0], -1), centroids.reshape(centroids.shape[0], -1))
    return float((d.min(1).values ** 2).mean())


def one(n: int, seed: int) -> dict:
    x = scenes_stream(n, seed)
    mem = STARMemory(MemoryConfig(), D, GRID)
    mem.update(x, [float(i) for i in range(n)])
    read = mem.read()
    ours = torch.stack([read.group_tokens(g) for g in read.groups if g.kind == "temporal"])
    ours_r = sorted(int(g.stamp) for g in read.groups if g.kind == "retrieved")
    long = pool(pool(x, 8).reshape(n, 8, 8, D)[:-1], 4) if n > 1 else x[:0]
    up0, w0 = upstream_weighted_kmeans(long, 25, 0)
    up1, _ = upstream_weighted_kmeans(long, 25, 1)
    top = torch.argsort(w0, descending=True)[:3]
    up_r = sorted(top.tolist())                                       # frames indexed by cluster id
    near = torch.cdist(up0[top].reshape(3, -1), long.reshape(long.shape[0], -1)).argmin(1)
    return {"frames": n, "seed": seed, "chamfer_ours_vs_upstream": chamfer(ours, up0),
            "chamfer_upstream_seed0_vs_seed1": chamfer(up0, up1), "sse_ours": sse(long, ours),
            "sse_upstream": sse(long, up0), "r_ours": ours_r, "r_upstream": up_r,
            "r_intended": sorted(near.tolist())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lengths, seeds = ((100, 300), (0,)) if args.quick else ((100, 300, 1000), (0, 1, 2))
    runs = [one(n, s) for n in lengths for s in seeds]
    summary = []
    for n in lengths:
        rs = [r for r in runs if r["frames"] == n]
        summary.append({
            "frames": n,
            "chamfer_ours_vs_upstream": statistics.mean(r["chamfer_ours_vs_upstream"] for r in rs),
            "chamfer_upstream_run_to_run": statistics.mean(r["chamfer_upstream_seed0_vs_seed1"] for r in rs),
            "sse_ours": statistics.mean(r["sse_ours"] for r in rs),
            "sse_upstream": statistics.mean(r["sse_upstream"] for r in rs),
            "r_overlap_ours_upstream": statistics.mean(len(set(r["r_ours"]) & set(r["r_upstream"])) for r in rs),
            "r_overlap_ours_intended": statistics.mean(len(set(r["r_ours"]) & set(r["r_intended"])) for r in rs),
            "r_upstream_max_index": max(max(r["r_upstream"]) for r in rs)})
    print(json.dumps({"runs": runs, "summary": summary}, indent=1))
    print(f"{'frames':>6} {'chamfer ours-up':>15} {'up run-to-run':>13} {'sse ours':>9} {'sse up':>9} "
          f"{'R ours&up':>9} {'R ours&int':>10} {'R up max':>8}")
    for s in summary:
        print(f"{s['frames']:>6} {s['chamfer_ours_vs_upstream']:>15.3f} {s['chamfer_upstream_run_to_run']:>13.3f} "
              f"{s['sse_ours']:>9.3f} {s['sse_upstream']:>9.3f} {s['r_overlap_ours_upstream']:>9.2f} "
              f"{s['r_overlap_ours_intended']:>10.2f} {s['r_upstream_max_index']:>8}")


if __name__ == "__main__":
    main()
