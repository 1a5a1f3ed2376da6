"""STAR memory of one camera: spatial, temporal, abstract and retrieved parts, bounded for ever.

Design notes (what differs from upstream Flash-VStream, and why):
- Temporal memory is a count-weighted online clustering. With K slots full, the new frame (weight 1)
  joins and the pair whose merge least increases the weighted sum of squares is merged (Ward's
  criterion w_i w_j / (w_i + w_j) * |x_i - x_j|^2). For K+1 weighted points into K clusters that is
  the exact optimum of weighted k-means, found without iterations or random restarts. Upstream
  re-runs unweighted k-means with random init, so old slots weigh as much as one new frame.
- Distances come from a Gram matrix of the slots, kept in fp32 relative to the first frame seen (which
  keeps the |a|^2 + |b|^2 - 2ab cancellation small). Per frame two rows are recomputed (the new frame
  and the merged slot): O(K*d) work, independent of how many frames were seen.
- Retrieved memory keeps, per slot, one representative frame (the member nearest the centroid; on a
  merge the nearer of the two representatives). Key frames are the representatives of the heaviest
  slots. Upstream keeps every frame's 8x8 map for ever (about 128 KiB a frame) and picks key frames
  by cluster id; here nothing else of past frames is kept.
- Abstract memory buffers new 1x1 tokens and commits one update per N_A of them, as in training; a
  read blends the pending partial chunk into a copy of A (nothing committed), which is what upstream's
  offline computation (the one the model was trained on) gives for the same frames. Upstream's
  per-frame streaming update degenerates into an EMA that ignores the learned projections.
- A frame joins T, A and R when it leaves the spatial FIFO (N_S frames later), as in training, where
  the newest frame is only in S: one frame read gives S alone (64 tokens for CLIP), 26 frames 681.

All state is preallocated on the memory's device. `update` runs no host-device synchronisation: merge
indices stay on the device and move data with index_select / index_copy_. Stamps are plain Python
floats kept on the host where bookkeeping needs them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.read import MemoryRead, Run, TokenGroup
from vstream_ros.memory.runs import ADJACENT, POSE_DIM, POSITION, Runs
from vstream_ros.memory.snapshot import SnapshotError, read_snapshot, write_snapshot
from vstream_ros.memory.validate import check_star_state
from vstream_ros.memory.ward import cheapest_pair

Stamps = float | Sequence[float] | torch.Tensor


class STARMemory:
    """Bounded video memory of one camera. Not thread-safe: one writer; readers take `read()` copies."""

    def __init__(
        self,
        config: MemoryConfig,
        dim: int,
        grid: tuple[int, int],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        encoder_id: str = "",
        annotation_dim: int = 0,
    ) -> None:
        self.config = config
        self.annotation_dim = int(annotation_dim)
        self.dim = int(dim)
        self.grid = (int(grid[0]), int(grid[1]))
        self.device = torch.device(device)
        self.dtype = dtype
        self.encoder_id = encoder_id
        (self._sh, self._sw), (self._th, self._tw) = config.map_sizes(self.grid)
        self._ps = self._sh * self._sw            # tokens of a spatial / retrieved map
        self._pt = self._th * self._tw            # tokens of a temporal slot
        self._dt = self._pt * self.dim            # length of a temporal slot as a vector
        self._q: nn.Module | None = None
        self._k: nn.Module | None = None
        self._alloc()
        self.reset()

    # ------------------------------------------------------------------ state
    def _alloc(self) -> None:
        c, dev, K = self.config, self.device, self.config.temporal_slots
        f32, f64 = dict(device=dev, dtype=torch.float32), dict(device=dev, dtype=torch.float64)
        # Row K of the temporal tensors is a scratch row for the incoming frame.
        self._t = {
            "origin": torch.zeros(self._dt, **f32),
            "centroid": torch.zeros(K + 1, self._dt, **f32),
            "gram": torch.zeros(K + 1, K + 1, **f32),
            "weight": torch.zeros(K + 1, **f32),
            "stamp_mean": torch.zeros(K + 1, **f64),
            "stamp_min": torch.zeros(K + 1, **f64),
            "stamp_max": torch.zeros(K + 1, **f64),
            "rep_map": torch.zeros(K + 1, self._ps, self.dim, device=dev, dtype=self.dtype),
            "rep_vec": torch.zeros(K + 1, self._dt, **f32),
            "rep_stamp": torch.zeros(K + 1, **f64),
            "spatial": torch.zeros(c.spatial_frames, self._ps, self.dim, device=dev, dtype=self.dtype),
            "spatial_stamp": torch.zeros(c.spatial_frames, **f64),
            "abstract": torch.zeros(c.abstract_slots, self.dim, **f32),
            "abstract_pending": torch.zeros(c.abstract_slots, self.dim, **f32),
            # what was seen in the spatial frames, and the robot's pose then (see runs.py)
            "spatial_annotation": torch.zeros(c.spatial_frames, self.annotation_dim, **f32),
            "spatial_pose": torch.zeros(c.spatial_frames, POSE_DIM, **f32),
            # where a slot's frames were taken: the box around the recorded positions
            "pose_lo": torch.full((K + 1, 3), math.inf, **f32),
            "pose_hi": torch.full((K + 1, 3), -math.inf, **f32),
        }
        self._runs = Runs(K + 1, c.runs_per_slot, self.annotation_dim, dev)
        self._t.update(self._runs.t)
        # pairs (i, j) with i >= j are never candidates for a merge
        idx = torch.arange(K + 1, device=dev)
        self._lower = idx[:, None] >= idx[None, :]
        self._row_k = torch.tensor([K], device=dev)

    def reset(self) -> None:
        """Forget everything (a camera restarted, a bag looped). Buffers stay allocated."""
        for t in self._t.values():
            t.zero_()
        self._t["pose_lo"].fill_(math.inf)
        self._t["pose_hi"].fill_(-math.inf)
        self.frames_seen = 0
        self.frame_interval: float | None = None   # typical seconds between frames (for run adjacency)
        self.first_stamp: float | None = None
        self.last_stamp: float | None = None
        self._filled = 0                 # temporal slots in use
        self._spatial_head = 0           # next ring position of the spatial FIFO
        self._abstract_filled = 0
        self._abstract_pending = 0
        self._abstract_span: tuple[float, float] | None = None   # stamps admitted to A so far
        self._spatial_stamps = [0.0] * self.config.spatial_frames   # host copy of spatial_stamp

    def set_abstract_projections(self, q: nn.Module | None, k: nn.Module | None) -> None:
        """Use the model's q/k projections (nn.Linear D -> h) in the abstract-memory update.

        Without them q and k are the identity and h = D: slots attend to new tokens by raw
        similarity, which keeps the update meaningful for encoders that come with no trained module.
        """
        if (q is None) != (k is None):
            raise ValueError("set both projections or neither")
        if q is not None:
            for name, m in (("q", q), ("k", k)):
                if getattr(m, "in_features", self.dim) != self.dim:
                    raise ValueError(f"{name} projection takes {m.in_features} features, memory has {self.dim}")
            if getattr(q, "out_features", None) != getattr(k, "out_features", None):
                raise ValueError("q and k projections must have the same width")
        self._q, self._k = q, k

    # ----------------------------------------------------------------- update
    def update(self, features: torch.Tensor, stamps: Stamps, annotations: torch.Tensor | None = None,
               poses: torch.Tensor | None = None) -> None:
        """Add frames: features [h, w, D] or [B, h, w, D] in time order, stamps in seconds, and per frame
        optionally what the encoder saw in it (annotations [B, annotation_dim]) and the robot's pose
        ([B, 8]: x y z qx qy qz qw valid).

        Raises ValueError, changing nothing, for a wrong shape or for stamps that go backwards
        (within the batch or before the last frame seen): the caller decides whether to reset.
        """
        x = features if features.dim() == 4 else features.unsqueeze(0)
        if x.dim() != 4 or tuple(x.shape[1:]) != (*self.grid, self.dim):
            raise ValueError(
                f"features must be [B, {self.grid[0]}, {self.grid[1]}, {self.dim}], got {tuple(features.shape)}"
            )
        ts = self._check_stamps(stamps, x.shape[0])
        if not ts:
            return
        ann = self._per_frame(annotations, len(ts), self.annotation_dim, "annotations")
        pose = self._per_frame(poses, len(ts), POSE_DIM, "poses")
        with torch.no_grad():
            xs = self._pool(x.to(self.device))
            if self.first_stamp is None:
                self._t["origin"].copy_(self._summaries(xs[0])[0])
            for b, stamp in enumerate(ts):
                self._track_interval(self.last_stamp if b == 0 else ts[b - 1], stamp)
                if self.frames_seen + b >= self.config.spatial_frames:   # the oldest frame leaves S
                    self._admit(self._spatial_head)
                self._update_spatial(xs[b], stamp, ann[b] if ann is not None else None,
                                     pose[b] if pose is not None else None)
        if self.first_stamp is None:
            self.first_stamp = ts[0]
        self.last_stamp = ts[-1]
        self.frames_seen += len(ts)

    def _per_frame(self, values: torch.Tensor | None, n: int, dim: int, what: str) -> torch.Tensor | None:
        if values is None or dim == 0:
            return None
        v = torch.as_tensor(values, dtype=torch.float32).reshape(-1, dim) if values.numel() == n * dim else None
        if v is None or v.shape[0] != n:
            raise ValueError(f"{what} must be [{n}, {dim}], got {tuple(values.shape)}")
        return v.to(self.device)

    def _track_interval(self, previous: float | None, stamp: float) -> None:
        """The typical gap between this camera's frames: a slow average of gaps, pulled down at once by
        a shorter one, so a few dropped frames do not make gaps look adjacent."""
        if previous is None or stamp <= previous:
            return
        gap = stamp - previous
        prev = self.frame_interval
        self.frame_interval = gap if prev is None else min(gap, 0.9 * prev + 0.1 * gap)

    @property
    def adjacency(self) -> float:
        """Frames at most this many seconds apart belong to one run."""
        return math.inf if self.frame_interval is None else ADJACENT * self.frame_interval

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
                raise ValueError(
                    f"stamp {s:.9f} s goes back before {prev:.9f} s; reset the memory to start a new stream"
                )
            prev = s
        return ts

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        """[B, h, w, D] -> spatial maps [B, sh*sw, D] in the memory's dtype, tokens in row-major (h, w)
        order. Adaptive average pooling; for CLIP's 16x16 -> 8x8 it is upstream's avg_pool2d, kernel 2."""
        s = F.adaptive_avg_pool2d(x.float().permute(0, 3, 1, 2), (self._sh, self._sw))   # [B, D, sh, sw]
        return s.flatten(2).transpose(1, 2).to(self.dtype)

    def _summaries(self, smap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A spatial map [sh*sw, D] -> its temporal vector [th*tw*D] (token-major) and abstract token [D],
        in fp32: the 8x8 map pooled again to 4x4 and to 1x1, as upstream pools the 8x8 features."""
        s = smap.float().T.reshape(1, self.dim, self._sh, self._sw)
        t = F.adaptive_avg_pool2d(s, (self._th, self._tw))
        return t.flatten(2).transpose(1, 2).reshape(-1), s.mean(dim=(2, 3))[0]

    def _admit(self, i: int) -> None:
        """The spatial frame in ring slot i (about to be overwritten) joins T, A and R, with what was seen
        in it and where."""
        t = self._t
        smap, stamp = t["spatial"][i], self._spatial_stamps[i]
        vec, token = self._summaries(smap)
        ann = t["spatial_annotation"][i] if self.annotation_dim else None
        self._update_temporal(vec - t["origin"], smap, stamp, ann, t["spatial_pose"][i])
        self._update_abstract(token, stamp)

    def _update_spatial(self, xs: torch.Tensor, stamp: float, ann: torch.Tensor | None,
                        pose: torch.Tensor | None) -> None:
        i = self._spatial_head
        self._t["spatial"][i].copy_(xs)
        self._t["spatial_stamp"][i] = stamp
        self._spatial_stamps[i] = stamp
        self._t["spatial_annotation"][i].zero_()
        self._t["spatial_pose"][i].zero_()
        if ann is not None:
            self._t["spatial_annotation"][i].copy_(ann)
        if pose is not None:
            self._t["spatial_pose"][i].copy_(pose)
        self._spatial_head = (i + 1) % self.config.spatial_frames

    def _update_temporal(self, vec: torch.Tensor, smap: torch.Tensor, stamp: float, ann: torch.Tensor | None,
                         pose: torch.Tensor | None) -> None:
        t, K = self._t, self.config.temporal_slots
        n = self._filled
        row = n if n < K else K          # a free slot, or the scratch row
        t["centroid"][row].copy_(vec)
        t["weight"][row] = 1.0
        t["stamp_mean"][row] = stamp
        t["stamp_min"][row] = stamp
        t["stamp_max"][row] = stamp
        t["rep_map"][row].copy_(smap)
        t["rep_vec"][row].copy_(vec)
        t["rep_stamp"][row] = stamp
        self._runs.set_frame(row, stamp, ann, pose)
        t["pose_lo"][row].fill_(math.inf)
        t["pose_hi"][row].fill_(-math.inf)
        if pose is not None:                 # a position only counts where it was recorded (valid = 1)
            known = pose[POSITION].masked_fill(pose[POSE_DIM - 1] <= 0, math.nan)
            t["pose_lo"][row].copy_(torch.nan_to_num(known, nan=math.inf))
            t["pose_hi"][row].copy_(torch.nan_to_num(known, nan=-math.inf))
        g = t["centroid"][: row + 1] @ vec
        t["gram"][row, : row + 1] = g
        t["gram"][: row + 1, row] = g
        if n < K:
            self._filled += 1
            return
        self._merge_cheapest_pair()

    def _merge_cheapest_pair(self) -> None:
        """K+1 points -> K slots by the merge of least Ward cost; indices never leave the device."""
        t = self._t
        G = t["gram"]
        i, j = cheapest_pair(G, t["weight"], self._lower)   # i < j <= K, both [1] on the device

        def pick(name: str) -> tuple[torch.Tensor, torch.Tensor]:
            return t[name].index_select(0, i), t[name].index_select(0, j)

        wi, wj = pick("weight")
        wsum = wi + wj
        ci, cj = pick("centroid")
        merged = (wi[:, None] * ci + wj[:, None] * cj) / wsum[:, None]
        mi, mj = pick("stamp_mean")
        wi64, wj64 = wi.double(), wj.double()
        stamp_mean = (wi64 * mi + wj64 * mj) / (wi64 + wj64)
        lo_i, lo_j = pick("stamp_min")
        hi_i, hi_j = pick("stamp_max")
        # representative: whichever of the two is nearer the merged centroid
        vi, vj = pick("rep_vec")
        take_j = ((vj - merged) ** 2).sum(1) < ((vi - merged) ** 2).sum(1)       # [1] bool
        rep_vec = torch.where(take_j[:, None], vj, vi)
        mapi, mapj = pick("rep_map")
        rep_map = torch.where(take_j[:, None, None], mapj, mapi)
        si, sj = pick("rep_stamp")
        rep_stamp = torch.where(take_j, sj, si)
        runs = self._runs.merge(i, j, self.adjacency)
        lo_pi, lo_pj = pick("pose_lo")
        hi_pi, hi_pj = pick("pose_hi")

        # the merged slot goes to i; the incoming frame (row K) moves into j (a no-op when j == K)
        for name, value in (
            ("centroid", merged), ("weight", wsum), ("stamp_mean", stamp_mean),
            ("stamp_min", torch.minimum(lo_i, lo_j)), ("stamp_max", torch.maximum(hi_i, hi_j)),
            ("rep_vec", rep_vec), ("rep_map", rep_map), ("rep_stamp", rep_stamp),
            ("pose_lo", torch.minimum(lo_pi, lo_pj)), ("pose_hi", torch.maximum(hi_pi, hi_pj)),
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

    def _update_abstract(self, token: torch.Tensor, stamp: float) -> None:
        c, t = self.config, self._t
        lo = self._abstract_span[0] if self._abstract_span else stamp
        self._abstract_span = (lo, stamp)
        if self._abstract_filled < c.abstract_slots:
            t["abstract"][self._abstract_filled].copy_(token)
            self._abstract_filled += 1
            return
        t["abstract_pending"][self._abstract_pending].copy_(token)
        self._abstract_pending += 1
        if self._abstract_pending == c.abstract_slots:
            t["abstract"].copy_(self._blend_abstract(t["abstract"], t["abstract_pending"]))
            self._abstract_pending = 0

    @torch.no_grad()
    def _blend_abstract(self, A: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
        """(1 - alpha) A + alpha softmax(q(A) k(E)^T / sqrt(h)) E: A's slots attend to the chunk E."""
        if self._q is None:
            qa, ke, h = A, E, self.dim
        else:
            p = next(self._q.parameters())
            qa = self._q(A.to(p.device, p.dtype)).float().to(A.device)
            ke = self._k(E.to(p.device, p.dtype)).float().to(A.device)
            h = qa.shape[-1]
        attn = torch.softmax(qa @ ke.T / math.sqrt(h), dim=-1)
        alpha = self.config.abstract_update_ratio
        return (1.0 - alpha) * A + alpha * (attn @ E)

    # ------------------------------------------------------------------- read
    def read(self, window: tuple[float, float] | None = None, include_abstract: bool | None = None,
             tokens: bool = True) -> MemoryRead:
        """A copy of the memory as tokens [N, D] in the order A | T (time order) | R | S. A includes the
        pending partial chunk, blended into a copy (the committed state is unchanged).

        `window=(t0, t1)` keeps the temporal slots whose stamp span meets it, the key frames of those
        slots that lie inside it, and spatial frames inside it. The abstract memory blends the whole stream and cannot
        be cut to a window, so a windowed read leaves it out unless include_abstract=True.
        `tokens=False`: the groups and their runs only (no token copied, groups of length 0, no abstract
        memory), for readers of what was seen and where rather than of features (locate).
        """
        c, t = self.config, self._t
        if include_abstract is None:
            include_abstract = window is None and tokens
        lo, hi = (-math.inf, math.inf) if window is None else (float(window[0]), float(window[1]))
        if lo > hi:
            raise ValueError(f"window starts after it ends: {window}")
        with_tokens = tokens                 # (the name `tokens` holds the blocks below)
        tokens: list[torch.Tensor] = []
        groups: list[TokenGroup] = []

        def add(kind: str, block: torch.Tensor, start: float, end: float, stamp: float, weight: float,
                runs: tuple[Run, ...] = ()) -> None:
            if not with_tokens:
                groups.append(TokenGroup(kind, start, end, stamp, weight, 0, 0, runs=runs))
                return
            offset = sum(x.shape[0] for x in tokens)
            tokens.append(block.to(self.dtype))
            groups.append(TokenGroup(kind, start, end, stamp, weight, offset, block.shape[0], runs=runs))

        n = self._filled
        if include_abstract and self._abstract_filled:
            a0, a1 = self._abstract_span
            abstract = t["abstract"][: self._abstract_filled]
            if self._abstract_pending:
                abstract = self._blend_abstract(abstract, t["abstract_pending"][: self._abstract_pending])
            admitted = self.frames_seen - min(self.frames_seen, c.spatial_frames)
            add("abstract", abstract.clone(), a0, a1, (a0 + a1) / 2, admitted)

        if n:
            mean = t["stamp_mean"][:n].cpu().tolist()
            smin = t["stamp_min"][:n].cpu().tolist()
            smax = t["stamp_max"][:n].cpu().tolist()
            weight = t["weight"][:n].cpu().tolist()
            rep_stamp = t["rep_stamp"][:n].cpu().tolist()
            runs = self._host_runs(n, lo, hi)
            slots = [k for k in range(n) if runs[k]]                  # a run of the slot meets the window
            centroids = t["centroid"][:n] + t["origin"] if with_tokens else None
            for k in sorted(slots, key=lambda k: (mean[k], k)):
                add("temporal", centroids[k].view(self._pt, self.dim) if with_tokens else None, smin[k], smax[k],
                    mean[k], weight[k], runs[k])
            keyed = [k for k in slots if lo <= rep_stamp[k] <= hi]   # the key frame itself in the window
            heaviest = sorted(keyed, key=lambda k: (-weight[k], mean[k]))[: c.retrieved_frames]
            for k in heaviest:
                s = rep_stamp[k]
                home = next((r for r in runs[k] if r.start <= s <= r.end), None)
                key = Run(s, s, 1, home.mean, home.peak, home.pose) if home else Run(s, s, 1)
                add("retrieved", t["rep_map"][k].clone() if with_tokens else None, s, s, s, weight[k], (key,))

        filled = min(self.frames_seen, c.spatial_frames)
        stamps = t["spatial_stamp"].cpu().tolist()
        s_ann = t["spatial_annotation"].cpu().numpy()
        s_pose = t["spatial_pose"].cpu().numpy()
        for r in range(filled):   # oldest first
            i = (self._spatial_head - filled + r) % c.spatial_frames
            if lo <= stamps[i] <= hi:
                a = s_ann[i] if self.annotation_dim else None
                run = Run(stamps[i], stamps[i], 1, a, a, s_pose[i, :7].copy() if s_pose[i, 7] > 0 else None)
                add("spatial", t["spatial"][i].clone() if with_tokens else None, stamps[i], stamps[i], stamps[i], 1.0,
                    (run,))

        out = torch.cat(tokens) if tokens else torch.zeros(0, self.dim, device=self.device, dtype=self.dtype)
        return MemoryRead(out, groups, self.frames_seen)

    def _host_runs(self, n: int, lo: float, hi: float) -> list[tuple[Run, ...]]:
        """Per temporal slot, its runs that meet [lo, hi], as host objects."""
        t = self._t
        start, end = t["run_start"][:n].cpu().tolist(), t["run_end"][:n].cpu().tolist()
        frames = t["run_frames"][:n].cpu().tolist()
        mean, peak = t["run_mean"][:n].cpu().numpy(), t["run_peak"][:n].cpu().numpy()
        pose = t["run_pose"][:n].cpu().numpy()
        out = []
        for k in range(n):
            out.append(tuple(
                Run(start[k][r], end[k][r], int(frames[k][r]),
                    mean[k, r] if self.annotation_dim else None, peak[k, r] if self.annotation_dim else None,
                    pose[k, r, :7].copy() if pose[k, r, 7] > 0 else None)
                for r in range(len(frames[k])) if frames[k][r] > 0 and end[k][r] >= lo and start[k][r] <= hi))
        return out

    # ------------------------------------------------------------ accounting
    def nbytes(self) -> dict[str, int]:
        """Bytes held by the memory's tensors: on the accelerator and in host RAM."""
        total = sum(t.numel() * t.element_size() for t in self._t.values())
        total += self._lower.numel() * self._lower.element_size() + self._row_k.numel() * 8
        on_device = self.device.type != "cpu"
        return {"device": total if on_device else 0, "host": 0 if on_device else total}

    def tokens_by_kind(self) -> dict[str, int]:
        """Tokens a full (unwindowed) read returns now, per memory part, without reading."""
        c = self.config
        return {
            "abstract": self._abstract_filled,
            "temporal": self._filled * self._pt,
            "retrieved": min(self._filled, c.retrieved_frames) * self._ps,
            "spatial": min(self.frames_seen, c.spatial_frames) * self._ps,
        }

    def stamp_range(self) -> tuple[float, float] | None:
        return None if self.first_stamp is None else (self.first_stamp, self.last_stamp)

    # --------------------------------------------------------------- snapshot
    def _host_state(self) -> dict:
        return {
            "frames_seen": self.frames_seen, "first_stamp": self.first_stamp, "last_stamp": self.last_stamp,
            "filled": self._filled, "spatial_head": self._spatial_head,
            "abstract_filled": self._abstract_filled, "abstract_pending": self._abstract_pending,
            "abstract_span": list(self._abstract_span) if self._abstract_span else None,
            "frame_interval": self.frame_interval,
        }

    def _identity(self) -> dict:
        return {"config": self.config.to_dict(), "dim": self.dim, "grid": list(self.grid),
                "encoder_id": self.encoder_id, "annotation_dim": self.annotation_dim}

    # tensors that snapshots written before runs and poses existed lack (format version 1)
    _ADDED_IN_V2 = ("spatial_annotation", "spatial_pose", "pose_lo", "pose_hi", *Runs.NAMES)

    def _upgrade(self, tensors: dict[str, torch.Tensor], meta: dict) -> tuple[dict[str, torch.Tensor], dict]:
        """An older snapshot as this version writes it: each slot one run over its whole span (all that
        it knew), nothing annotated, no pose recorded."""
        if all(k in tensors for k in self._ADDED_IN_V2):
            return tensors, meta
        meta = {**meta, "annotation_dim": meta.get("annotation_dim", self.annotation_dim),
                "config": {**MemoryConfig().to_dict(), "runs_per_slot": self.config.runs_per_slot,
                           **meta.get("config", {})}}
        fresh = {k: torch.zeros_like(v, device="cpu") for k, v in self._t.items() if k in self._ADDED_IN_V2}
        fresh["pose_lo"].fill_(math.inf)
        fresh["pose_hi"].fill_(-math.inf)
        try:
            fresh["run_start"][:, 0] = tensors["stamp_min"]
            fresh["run_end"][:, 0] = tensors["stamp_max"]
            fresh["run_frames"][:, 0] = tensors["weight"]
        except (KeyError, RuntimeError) as e:
            raise SnapshotError(f"snapshot of an older version is incomplete: {e}") from e
        return {**fresh, **tensors}, meta

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-able metadata): everything needed to continue exactly where this left off."""
        meta = {**self._identity(), "state": self._host_state(), "stamp_range": self.stamp_range()}
        return {k: v.detach().clone() for k, v in self._t.items()}, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore a state_dict; refuses (SnapshotError, nothing changed) one of another memory."""
        tensors, meta = self._upgrade(tensors, meta)
        mine = self._identity()
        for key in ("encoder_id", "config", "dim", "grid", "annotation_dim"):
            if meta.get(key) != mine[key]:
                raise SnapshotError(f"snapshot has {key}={meta.get(key)!r}, this memory has {mine[key]!r}")
        missing = set(self._t) - set(tensors)
        if missing:
            raise SnapshotError(f"snapshot lacks tensors {sorted(missing)}")
        for name, dst in self._t.items():
            src = tensors[name]
            if src.shape != dst.shape or src.dtype != dst.dtype:
                raise SnapshotError(
                    f"snapshot tensor {name} is {src.dtype}{list(src.shape)}, expected {dst.dtype}{list(dst.shape)}"
                )
        try:
            s = meta["state"]
            host = dict(
                frames_seen=int(s["frames_seen"]), first_stamp=s["first_stamp"], last_stamp=s["last_stamp"],
                _filled=int(s["filled"]), _spatial_head=int(s["spatial_head"]),
                _abstract_filled=int(s["abstract_filled"]), _abstract_pending=int(s["abstract_pending"]),
                _abstract_span=tuple(s["abstract_span"]) if s["abstract_span"] else None,
                frame_interval=s.get("frame_interval"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SnapshotError(f"snapshot state is incomplete: {e}") from e
        check_star_state(self.config, tensors, host)
        for name, dst in self._t.items():
            dst.copy_(tensors[name])
        self.__dict__.update(host)
        self._spatial_stamps = self._t["spatial_stamp"].cpu().tolist()

    def save(self, path: str | os.PathLike) -> None:
        write_snapshot(path, *self.state_dict())

    def load(self, path: str | os.PathLike) -> None:
        """Restore from `save`'s file; SnapshotError (memory unchanged) if it cannot be used."""
        tensors, meta = read_snapshot(path)
        self.load_state_dict(tensors, meta)
