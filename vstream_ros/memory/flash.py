"""Flash Memory of one camera (Flash-VStream-Qwen, arXiv 2506.23825), bounded for ever.

Two parts, read in upstream's order (DAM then CSM):
- CSM, the context synopsis memory ("temporal" groups): K weighted clusters of the frames' synopsis
  maps (the frame at 1/2 resolution through the vision tower), each with its weight (frames), its
  frame-weighted mean stamp, its stamp span and its runs of adjacent frames; read in time order.
- DAM, the detail augmentation memory ("retrieved" groups): the full-resolution maps of the frames
  nearest the R heaviest clusters; read heaviest first, as upstream feeds them.

Design notes (what differs from upstream, and why):
- Clustering is weighted k-means solved exactly per frame: with K slots full, the new frame (weight 1)
  joins and the pair whose merge least increases the weighted sum of squares is merged (Ward's cost
  w_i w_j / (w_i + w_j) |x_i - x_j|^2). For K+1 weighted points into K clusters that is the global
  optimum of upstream's objective; upstream reaches a local one with Lloyd iterations from a random
  init (a different memory on every run). Distances come from a Gram matrix kept in fp32 relative to
  the first frame; two rows are recomputed per frame, O(K d) work whatever the frames seen.
- A slot's stamp is the frame-weighted mean of its frames' stamps. Upstream computes that and then
  overwrites it with the plain mean of member indices into its concatenated array (old centroids
  count as one frame; an empty cluster divides by zero).
- No PCA: upstream's `torchpca` variant keeps the 32 least-variance axes (eigh sorts ascending) and is
  not the released method; the released `kmeans_ordered` clusters the full maps, as here.
- Upstream keeps every frame's full and half maps for ever (its DAM searches the whole bank, about
  3 MiB a frame at 448x448); here each slot keeps one representative frame, the member nearest its
  centroid (on a merge, the nearer of the two representatives), and the DAM is the representatives
  of the heaviest slots. Nothing else of past frames is kept.
- Ties in weight (every slot weighs 1 until the memory is full) go to the newer frame, where upstream
  leaves the order to the sort.
- Distances are in fp32 (upstream: bf16 with an unclamped sqrt).

The grid is per camera: a frame encoder with native-resolution input gives each camera's aspect its
own grid. The memory takes the grid of its first frame and refuses frames of another size until
reset. All state is preallocated on the memory's device; `update` moves merge indices with
index_select / index_copy_ and never waits for the device.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

from vstream_ros.memory.flash_config import FlashMemoryConfig, unpack_frame_maps
from vstream_ros.memory.read import MemoryRead, Run, TokenGroup
from vstream_ros.memory.runs import ADJACENT, POSE_DIM, Runs
from vstream_ros.memory.snapshot import FLASH_FORMAT, FLASH_FORMAT_VERSION, SnapshotError, read_snapshot, write_snapshot
from vstream_ros.memory.ward import cheapest_pair

Stamps = float | Sequence[float] | torch.Tensor
KIND = "flash"


class FlashMemory:
    """Bounded Flash Memory of one camera. Not thread-safe: one writer; readers take `read()` copies."""

    def __init__(
        self,
        config: FlashMemoryConfig,
        dim: int,
        grid: tuple[int, int],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        encoder_id: str = "",
        annotation_dim: int = 0,
    ) -> None:
        self.config = config
        self.dim = int(dim)
        self.device = torch.device(device)
        self.dtype = dtype
        self.encoder_id = encoder_id
        self.annotation_dim = int(annotation_dim)
        self._layout(grid)
        self.reset()

    # ------------------------------------------------------------------ state
    def _layout(self, grid: tuple[int, int]) -> None:
        """Set the camera's grid and allocate every buffer for it (ValueError for a grid that is not a
        packed full + synopsis grid)."""
        (h, w), (hs, ws) = self.config.frame_maps(grid)
        self.grid = (int(grid[0]), int(grid[1]))
        self.full_map, self.synopsis_map = (h, w), (hs, ws)
        self._pf, self._ps = h * w, hs * ws
        self._ds = self._ps * self.dim                 # a synopsis map as one vector
        self._t = {name: torch.empty(shape, device=self.device, dtype=dtype)
                   for name, (shape, dtype) in self._shapes().items()}
        self._runs = Runs(self.config.temporal_slots + 1, self.config.runs_per_slot, self.annotation_dim, self.device)
        self._t.update(self._runs.t)
        idx = torch.arange(self.config.temporal_slots + 1, device=self.device)
        self._lower = idx[:, None] >= idx[None, :]     # pairs (i, j), i >= j, are never merge candidates
        self._row_k = torch.tensor([self.config.temporal_slots], device=self.device)

    def _shapes(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Every feature buffer's shape and dtype (row K of the slot tensors is a scratch row for the
        incoming frame). The run tables come from runs.Runs."""
        k1, f32, f64 = self.config.temporal_slots + 1, torch.float32, torch.float64
        return {
            "origin": ((self._ds,), f32),
            "centroid": ((k1, self._ds), f32),
            "gram": ((k1, k1), f32),
            "weight": ((k1,), f32),
            "stamp_mean": ((k1,), f64),
            "stamp_min": ((k1,), f64),
            "stamp_max": ((k1,), f64),
            "rep_synopsis": ((k1, self._ps, self.dim), self.dtype),
            "rep_full": ((k1, self._pf, self.dim), self.dtype),
            "rep_stamp": ((k1,), f64),
        }

    def reset(self) -> None:
        """Forget everything (a camera restarted, a bag looped). Buffers and grid stay."""
        for t in self._t.values():
            t.zero_()
        self.frames_seen = 0
        self.frame_interval: float | None = None
        self.first_stamp: float | None = None
        self.last_stamp: float | None = None
        self._filled = 0

    def set_abstract_projections(self, q, k) -> None:
        """The Flash Memory has no abstract part: there is nothing to project (kept for the common API)."""

    # ----------------------------------------------------------------- update
    def update(self, features: torch.Tensor, stamps: Stamps, annotations: torch.Tensor | None = None,
               poses: torch.Tensor | None = None) -> None:
        """Add frames: packed features [rows, cols, D] or [B, rows, cols, D] in time order (see
        flash_config.pack_frame_maps), stamps in seconds, optionally per frame what the encoder saw in
        it ([B, annotation_dim]) and the robot's pose ([B, 8]: x y z qx qy qz qw valid).

        Raises ValueError, changing nothing, for a wrong shape, a grid other than this camera's (once
        it has frames), or stamps that go backwards.
        """
        x = features if features.dim() == 4 else features.unsqueeze(0)
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"features must be [B, rows, cols, {self.dim}], got {tuple(features.shape)}")
        grid = (int(x.shape[1]), int(x.shape[2]))
        if grid != self.grid:
            self.config.frame_maps(grid)               # a ValueError for a grid that is no packed grid
            if self.frames_seen:
                raise ValueError(f"this camera's frames give a {self.grid} feature grid, this one {grid}: the "
                                 "camera changed resolution; reset its memory to start again at the new size")
        ts = self._check_stamps(stamps, x.shape[0])
        if not ts:
            return
        ann = self._per_frame(annotations, len(ts), self.annotation_dim, "annotations")
        pose = self._per_frame(poses, len(ts), POSE_DIM, "poses")
        if grid != self.grid:
            self._layout(grid)
            self.reset()
        with torch.no_grad():
            full, synopsis = unpack_frame_maps(x.to(self.device), self.config)
            full = full.reshape(len(ts), self._pf, self.dim).to(self.dtype)
            synopsis = synopsis.reshape(len(ts), self._ps, self.dim).to(self.dtype)
            vecs = synopsis.float().reshape(len(ts), self._ds)
            if self.first_stamp is None:
                self._t["origin"].copy_(vecs[0])
            for b, stamp in enumerate(ts):
                self._track_interval(self.last_stamp if b == 0 else ts[b - 1], stamp)
                self._insert(vecs[b] - self._t["origin"], synopsis[b], full[b], stamp,
                             ann[b] if ann is not None else None, pose[b] if pose is not None else None)
        if self.first_stamp is None:
            self.first_stamp = ts[0]
        self.last_stamp = ts[-1]
        self.frames_seen += len(ts)

    def _per_frame(self, values: torch.Tensor | None, n: int, dim: int, what: str) -> torch.Tensor | None:
        if values is None or dim == 0:
            return None
        v = torch.as_tensor(values, dtype=torch.float32)
        if v.numel() != n * dim:
            raise ValueError(f"{what} must be [{n}, {dim}], got {tuple(v.shape)}")
        return v.reshape(n, dim).to(self.device)

    def _check_stamps(self, stamps: Stamps, n: int) -> list[float]:
        if isinstance(stamps, torch.Tensor):
            stamps = stamps.detach().to("cpu", torch.float64).reshape(-1).tolist()
        elif isinstance(stamps, (int, float)):
            stamps = [stamps]
        ts = [float(s) for s in stamps]
        if len(ts) != n:
            raise ValueError(f"{n} frames but {len(ts)} stamps")
        if not all(math.isfinite(s) for s in ts):
            raise ValueError(f"stamps must be finite, got {ts}")
        prev = self.last_stamp if self.last_stamp is not None else -math.inf
        for s in ts:
            if s < prev:
                raise ValueError(f"stamp {s:.9f} s goes back before {prev:.9f} s; "
                                 "reset the memory to start a new stream")
            prev = s
        return ts

    def _track_interval(self, previous: float | None, stamp: float) -> None:
        """The typical gap between frames: a slow average, pulled down at once by a shorter gap."""
        if previous is None or stamp <= previous:
            return
        gap = stamp - previous
        prev = self.frame_interval
        self.frame_interval = gap if prev is None else min(gap, 0.9 * prev + 0.1 * gap)

    @property
    def adjacency(self) -> float:
        """Frames at most this many seconds apart belong to one run."""
        return math.inf if self.frame_interval is None else ADJACENT * self.frame_interval

    def _insert(self, vec: torch.Tensor, synopsis: torch.Tensor, full: torch.Tensor, stamp: float,
                ann: torch.Tensor | None, pose: torch.Tensor | None) -> None:
        """One frame becomes a slot of weight 1 (a free one, or the scratch row and then a merge)."""
        t, K = self._t, self.config.temporal_slots
        n = self._filled
        row = n if n < K else K
        t["centroid"][row].copy_(vec)
        t["weight"][row] = 1.0
        for name in ("stamp_mean", "stamp_min", "stamp_max", "rep_stamp"):
            t[name][row] = stamp
        t["rep_synopsis"][row].copy_(synopsis)
        t["rep_full"][row].copy_(full)
        self._runs.set_frame(row, stamp, ann, pose)
        g = t["centroid"][: row + 1] @ vec
        t["gram"][row, : row + 1] = g
        t["gram"][: row + 1, row] = g
        if n < K:
            self._filled += 1
        else:
            self._merge_cheapest_pair()

    def _merge_cheapest_pair(self) -> None:
        """K+1 slots -> K by the merge of least Ward cost; indices never leave the device."""
        t = self._t
        G = t["gram"]
        i, j = cheapest_pair(G, t["weight"], self._lower)   # i < j <= K, both [1] on the device

        def pick(name: str) -> tuple[torch.Tensor, torch.Tensor]:
            return t[name].index_select(0, i), t[name].index_select(0, j)

        wi, wj = pick("weight")
        ci, cj = pick("centroid")
        merged = (wi[:, None] * ci + wj[:, None] * cj) / (wi + wj)[:, None]
        mi, mj = pick("stamp_mean")
        wi64, wj64 = wi.double(), wj.double()
        stamp_mean = (wi64 * mi + wj64 * mj) / (wi64 + wj64)
        lo_i, lo_j = pick("stamp_min")
        hi_i, hi_j = pick("stamp_max")
        # representative: whichever of the two frames is nearer the merged centroid
        si, sj = pick("rep_synopsis")
        origin = t["origin"][None]
        di = ((si.float().reshape(1, -1) - origin - merged) ** 2).sum(1)
        dj = ((sj.float().reshape(1, -1) - origin - merged) ** 2).sum(1)
        take_j = dj < di                                                     # [1] bool
        fi, fj = pick("rep_full")
        ri, rj = pick("rep_stamp")
        runs = self._runs.merge(i, j, self.adjacency)
        # the merged slot goes to i; the incoming frame (row K) moves into j (a no-op when j == K)
        for name, value in (
            ("centroid", merged), ("weight", wi + wj), ("stamp_mean", stamp_mean),
            ("stamp_min", torch.minimum(lo_i, lo_j)), ("stamp_max", torch.maximum(hi_i, hi_j)),
            ("rep_synopsis", torch.where(take_j[:, None, None], sj, si)),
            ("rep_full", torch.where(take_j[:, None, None], fj, fi)),
            ("rep_stamp", torch.where(take_j, rj, ri)),
        ):
            t[name].index_copy_(0, i, value)
            t[name].index_copy_(0, j, t[name].index_select(0, self._row_k))
        self._runs.write(i, runs)
        self._runs.move(j, self._row_k)
        G.index_copy_(0, j, G.index_select(0, self._row_k))
        G.index_copy_(1, j, G.index_select(1, self._row_k))
        gi = t["centroid"] @ merged[0]
        G.index_copy_(0, i, gi[None, :])
        G.index_copy_(1, i, gi[:, None])

    # ------------------------------------------------------------------- read
    def read(self, window: tuple[float, float] | None = None, include_abstract: bool | None = None,
             tokens: bool = True) -> MemoryRead:
        """A copy of the memory as tokens [N, D]: the DAM's full maps (heaviest slot first), then the CSM's
        synopsis maps (time order). Each group's tokens are its map in row-major order; `grid` gives the
        map's sides. `window=(t0, t1)` keeps the slots with a run that meets it and the key frames inside
        it. There is no abstract memory: `include_abstract` changes nothing. `tokens=False`: the groups and
        their runs only (no token copied, groups of length 0), for locate."""
        with_tokens = tokens                 # (the name `tokens` holds the blocks below)
        t = self._t
        lo, hi = (-math.inf, math.inf) if window is None else (float(window[0]), float(window[1]))
        if lo > hi:
            raise ValueError(f"window starts after it ends: {window}")
        tokens: list[torch.Tensor] = []
        groups: list[TokenGroup] = []
        offset = 0

        def add(kind: str, block: torch.Tensor, grid: tuple[int, int], start: float, end: float, stamp: float,
                weight: float, runs: tuple[Run, ...]) -> None:
            nonlocal offset
            if not with_tokens:
                groups.append(TokenGroup(kind, start, end, stamp, weight, 0, 0, runs=runs, grid=grid))
                return
            tokens.append(block.to(self.dtype))
            groups.append(TokenGroup(kind, start, end, stamp, weight, offset, block.shape[0], runs=runs, grid=grid))
            offset += block.shape[0]

        n = self._filled
        if n:
            mean = t["stamp_mean"][:n].cpu().tolist()
            smin, smax = t["stamp_min"][:n].cpu().tolist(), t["stamp_max"][:n].cpu().tolist()
            weight = t["weight"][:n].cpu().tolist()
            rep_stamp = t["rep_stamp"][:n].cpu().tolist()
            runs = self._host_runs(n, lo, hi)
            slots = [k for k in range(n) if runs[k]]                 # a run of the slot meets the window
            keyed = [k for k in slots if lo <= rep_stamp[k] <= hi]    # the key frame itself in the window
            for k in sorted(keyed, key=lambda k: (-weight[k], -rep_stamp[k], k))[: self.config.retrieved_frames]:
                s = rep_stamp[k]
                home = next((r for r in runs[k] if r.start <= s <= r.end), None)
                key = Run(s, s, 1, home.mean, home.peak, home.pose) if home else Run(s, s, 1)
                add("retrieved", t["rep_full"][k].clone() if with_tokens else None, self.full_map, s, s, s,
                    weight[k], (key,))
            centroids = t["centroid"][:n] + t["origin"] if with_tokens else None
            for k in sorted(slots, key=lambda k: (mean[k], k)):
                add("temporal", centroids[k].view(self._ps, self.dim) if with_tokens else None, self.synopsis_map,
                    smin[k], smax[k], mean[k], weight[k], runs[k])
        out = torch.cat(tokens) if tokens else torch.zeros(0, self.dim, device=self.device, dtype=self.dtype)
        return MemoryRead(out, groups, self.frames_seen)

    def _host_runs(self, n: int, lo: float, hi: float) -> list[tuple[Run, ...]]:
        """Per slot, its runs that meet [lo, hi], as host objects."""
        t = self._t
        start, end = t["run_start"][:n].cpu().tolist(), t["run_end"][:n].cpu().tolist()
        frames = t["run_frames"][:n].cpu().tolist()
        mean, peak = t["run_mean"][:n].cpu().numpy(), t["run_peak"][:n].cpu().numpy()
        pose = t["run_pose"][:n].cpu().numpy()
        a = self.annotation_dim
        return [tuple(Run(start[k][r], end[k][r], int(frames[k][r]), mean[k, r] if a else None,
                          peak[k, r] if a else None, pose[k, r, :7].copy() if pose[k, r, 7] > 0 else None)
                      for r in range(len(frames[k])) if frames[k][r] > 0 and end[k][r] >= lo and start[k][r] <= hi)
                for k in range(n)]

    # ------------------------------------------------------------ accounting
    def nbytes(self) -> dict[str, int]:
        """Bytes held by the memory's tensors: on the accelerator and in host RAM."""
        total = sum(t.numel() * t.element_size() for t in self._t.values())
        total += self._lower.numel() * self._lower.element_size() + self._row_k.numel() * 8
        on_device = self.device.type != "cpu"
        return {"device": total if on_device else 0, "host": 0 if on_device else total}

    def tokens_by_kind(self) -> dict[str, int]:
        """Rows a full (unwindowed) read returns now, per part, without reading."""
        return {"abstract": 0, "temporal": self._filled * self._ps,
                "retrieved": min(self._filled, self.config.retrieved_frames) * self._pf, "spatial": 0}

    def stamp_range(self) -> tuple[float, float] | None:
        return None if self.first_stamp is None else (self.first_stamp, self.last_stamp)

    # --------------------------------------------------------------- snapshot
    def _identity(self) -> dict:
        return {"memory": KIND, "config": self.config.to_dict(), "dim": self.dim, "encoder_id": self.encoder_id,
                "annotation_dim": self.annotation_dim}

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-able metadata): everything needed to continue exactly where this left off."""
        state = {"frames_seen": self.frames_seen, "first_stamp": self.first_stamp, "last_stamp": self.last_stamp,
                 "filled": self._filled, "frame_interval": self.frame_interval}
        meta = {**self._identity(), "grid": list(self.grid), "state": state, "stamp_range": self.stamp_range()}
        return {k: v.detach().clone() for k, v in self._t.items()}, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore a state_dict, taking its grid; refuses (SnapshotError, nothing changed) one of another
        memory, model or size."""
        mine = self._identity()
        for key in ("memory", "encoder_id", "config", "dim", "annotation_dim"):
            if meta.get(key) != mine[key]:
                raise SnapshotError(f"snapshot has {key}={meta.get(key)!r}, this memory has {mine[key]!r}")
        try:
            grid = (int(meta["grid"][0]), int(meta["grid"][1]))
            s = meta["state"]
            host = dict(frames_seen=int(s["frames_seen"]), first_stamp=s["first_stamp"], last_stamp=s["last_stamp"],
                        _filled=int(s["filled"]), frame_interval=s["frame_interval"])
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise SnapshotError(f"snapshot state is incomplete: {e}") from e
        if not 0 <= host["_filled"] <= self.config.temporal_slots:
            raise SnapshotError(f"snapshot fills {host['_filled']} of {self.config.temporal_slots} slots")
        try:
            probe = FlashMemory(self.config, self.dim, grid, "meta", self.dtype, self.encoder_id, self.annotation_dim)
        except ValueError as e:
            raise SnapshotError(f"snapshot grid {grid} is unusable: {e}") from e
        expected = {k: (tuple(v.shape), v.dtype) for k, v in probe._t.items()}
        missing = set(expected) - set(tensors)
        if missing:
            raise SnapshotError(f"snapshot lacks tensors {sorted(missing)}")
        for name, (shape, dtype) in expected.items():
            src = tensors[name]
            if tuple(src.shape) != shape or src.dtype != dtype:
                raise SnapshotError(f"snapshot tensor {name} is {src.dtype}{list(src.shape)}, "
                                    f"expected {dtype}{list(shape)}")
        if grid != self.grid:
            self._layout(grid)
        for name, dst in self._t.items():
            dst.copy_(tensors[name])
        self.__dict__.update(host)

    def save(self, path: str | os.PathLike) -> None:
        tensors, meta = self.state_dict()
        write_snapshot(path, tensors, {"format": FLASH_FORMAT, "version": FLASH_FORMAT_VERSION, **meta})

    def load(self, path: str | os.PathLike) -> None:
        """Restore from `save`'s file; SnapshotError (memory unchanged) if it cannot be used."""
        self.load_state_dict(*read_snapshot(path))
