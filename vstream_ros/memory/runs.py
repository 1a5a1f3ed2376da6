"""Runs: the stretches of adjacent frames a temporal slot holds, so that evidence never claims presence
across a gap.

A slot made of frames at 9 s, 18 s and 29 s is three runs, not one span from 9 s to 29 s. Each slot
keeps at most R runs; each run has its first and last stamp, its frame count, what was seen in it
(the encoder's per-frame annotation vector: its mean over the run and its peak) and the robot's pose
at its newest frame. Merging two slots unites their runs, fuses the ones whose gap is no more than
the camera's adjacency threshold, and when more than R remain drops the smallest inner runs (the
first and the last always stay): the memory may forget a sighting, it never invents one.

Everything runs on the memory's device with tensor operations: no host synchronisation.
"""

from __future__ import annotations

import math

import torch

ADJACENT = 1.5        # frames closer than this many sampling intervals belong to one run (STAR and Flash)

POSE_DIM = 8                 # x, y, z, qx, qy, qz, qw, valid (1.0 when a pose was recorded)
POSITION = slice(0, 3)


class Runs:
    """Run tables for `rows` slots of at most `capacity` runs each."""

    NAMES = ("run_start", "run_end", "run_frames", "run_mean", "run_peak", "run_pose")

    def __init__(self, rows: int, capacity: int, annotation_dim: int, device: torch.device) -> None:
        self.rows, self.capacity, self.annotation_dim = rows, capacity, annotation_dim
        f32, f64 = dict(device=device, dtype=torch.float32), dict(device=device, dtype=torch.float64)
        self.t = {
            "run_start": torch.zeros(rows, capacity, **f64),
            "run_end": torch.zeros(rows, capacity, **f64),
            "run_frames": torch.zeros(rows, capacity, **f32),           # 0: an empty run
            "run_mean": torch.zeros(rows, capacity, annotation_dim, **f32),
            "run_peak": torch.zeros(rows, capacity, annotation_dim, **f32),
            "run_pose": torch.zeros(rows, capacity, POSE_DIM, **f32),
        }

    def set_frame(self, row: int, stamp: float, annotation: torch.Tensor | None, pose: torch.Tensor | None,
                  first: float | None = None, frames: int = 1) -> None:
        """Row `row` becomes one run holding one frame at `stamp`, or `frames` adjacent frames from `first` to
        `stamp` (a temporal token of two frames)."""
        for t in self.t.values():
            t[row].zero_()
        self.t["run_start"][row, 0] = stamp if first is None else first
        self.t["run_end"][row, 0] = stamp
        self.t["run_frames"][row, 0] = float(frames)
        if annotation is not None and self.annotation_dim:
            self.t["run_mean"][row, 0].copy_(annotation)
            self.t["run_peak"][row, 0].copy_(annotation)
        if pose is not None:
            self.t["run_pose"][row, 0].copy_(pose)

    def merge(self, i: torch.Tensor, j: torch.Tensor, gap: float) -> dict[str, torch.Tensor]:
        """The runs of slots i and j ([1] index tensors) united: fused where at most `gap` seconds
        apart, at most `capacity` of them. Returns the new run tables of one row (not written)."""
        R = self.capacity
        cand = {k: torch.cat([v.index_select(0, i)[0], v.index_select(0, j)[0]]) for k, v in self.t.items()}
        n = cand["run_frames"]
        empty = n <= 0
        start = cand["run_start"].masked_fill(empty, math.inf)
        order = torch.argsort(start)
        s, e, n = start[order], cand["run_end"].masked_fill(empty, -math.inf)[order], n[order]
        mean, peak, pose = cand["run_mean"][order], cand["run_peak"][order], cand["run_pose"][order]
        # a run starts a new group unless it begins within `gap` of the latest end before it
        prev_end = torch.cat([s.new_full((1,), -math.inf), torch.cummax(e, 0).values[:-1]])
        new = (s - prev_end > gap) | (n <= 0)
        gid = torch.cumsum(new.long(), 0) - 1                       # [2R] group of each run
        G = 2 * R
        g_start = s.new_full((G,), math.inf).scatter_reduce(0, gid, s, "amin")
        g_end = e.new_full((G,), -math.inf).scatter_reduce(0, gid, e, "amax")
        g_n = n.new_zeros(G).index_add(0, gid, n)
        g_mean = mean.new_zeros(G, self.annotation_dim).index_add(0, gid, mean * n[:, None])
        g_mean = g_mean / g_n.clamp_min(1.0)[:, None]
        g_peak = peak.new_full((G, self.annotation_dim), -math.inf).scatter_reduce(
            0, gid[:, None].expand_as(peak), peak, "amax")
        g_peak = torch.where(g_n[:, None] > 0, g_peak, torch.zeros_like(g_peak))
        # the group's pose: that of its latest-starting run
        idx = torch.arange(2 * R, device=s.device)
        g_last = idx.new_zeros(G).scatter_reduce(0, gid, idx, "amax")
        g_pose = pose.index_select(0, g_last) * (g_n > 0)[:, None]
        # keep R groups: the first and the last always, then the ones with most frames
        valid = g_n > 0
        last = (valid.long() * idx).max()
        prio = torch.where(valid, g_n.double(), torch.full_like(g_n.double(), -1.0))
        prio = prio.index_fill(0, torch.zeros_like(last.view(1)), math.inf).index_fill(0, last.view(1), math.inf)
        keep = torch.topk(prio, R).indices
        keep = keep[torch.argsort(g_start.index_select(0, keep))]
        out = {"run_start": g_start[keep], "run_end": g_end[keep], "run_frames": g_n[keep], "run_mean": g_mean[keep],
               "run_peak": g_peak[keep], "run_pose": g_pose[keep]}
        dropped = out["run_frames"] <= 0
        out["run_start"] = out["run_start"].masked_fill(dropped, 0.0)
        out["run_end"] = out["run_end"].masked_fill(dropped, 0.0)
        out["run_frames"] = out["run_frames"].clamp_min(0.0)
        return out

    def write(self, row: torch.Tensor, values: dict[str, torch.Tensor]) -> None:
        for k, v in values.items():
            self.t[k].index_copy_(0, row, v[None])

    def move(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        for t in self.t.values():
            t.index_copy_(0, dst, t.index_select(0, src))
