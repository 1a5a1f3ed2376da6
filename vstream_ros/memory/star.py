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
  by cluster id; here nothing else of past frames is kept. `retrieval="cluster_id"` (fidelity runs)
  picks them as upstream's code does, and keeps the maps of the first K frames that joined T for it.
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

import torch
import torch.nn.functional as F
from torch import nn

from vstream_ros.memory.abstract import blend, check_projections
from vstream_ros.memory.read import MemoryRead, Run
from vstream_ros.memory.runs import POSE_DIM, POSITION
from vstream_ros.memory.snapshot import SnapshotError, read_snapshot, write_snapshot
from vstream_ros.memory.temporal import ReadBuilder, Stamps, TemporalSlots, key_run, slot_shapes
from vstream_ros.memory.validate import check_star_state, upgrade_v1

__all__ = ["STARMemory", "Stamps"]


class STARMemory(TemporalSlots):
    """Bounded video memory of one camera. Not thread-safe: one writer; readers take `read()` copies."""

    def _layout(self, grid: tuple[int, int]) -> None:
        self.grid = (int(grid[0]), int(grid[1]))
        (self._sh, self._sw), (self._th, self._tw) = self.config.map_sizes(self.grid)
        self._ps = self._sh * self._sw            # tokens of a spatial / retrieved map
        self._pt = self._th * self._tw            # tokens of a temporal slot
        self._dt = self._pt * self.dim            # length of a temporal slot as a vector
        self._q: nn.Module | None = None
        self._k: nn.Module | None = None
        self._alloc()

    # ------------------------------------------------------------------ state
    def _alloc(self) -> None:
        c, dev, K = self.config, self.device, self.config.temporal_slots
        f32, f64 = dict(device=dev, dtype=torch.float32), dict(device=dev, dtype=torch.float64)
        # Row K of the temporal tensors is a scratch row for the incoming frame.
        self._t = {name: torch.zeros(shape, device=dev, dtype=dtype) for name, (shape, dtype) in
                   slot_shapes(K, self._dt).items()}
        self._t |= {
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
        if c.retrieval == "cluster_id":      # the first K frames that joined T: upstream's R indexes them
            self._t |= {"early_map": torch.zeros(K, self._ps, self.dim, device=dev, dtype=self.dtype),
                        "early_stamp": torch.zeros(K, **f64)}
        self._alloc_slots()

    def reset(self) -> None:
        """Forget everything (a camera restarted, a bag looped). Buffers stay allocated."""
        self._reset_slots()
        self._t["pose_lo"].fill_(math.inf)
        self._t["pose_hi"].fill_(-math.inf)
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
        check_projections(q, k, self.dim)
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
                    self._admit(self._spatial_head, self.frames_seen + b - self.config.spatial_frames)
                self._update_spatial(xs[b], stamp, ann[b] if ann is not None else None,
                                     pose[b] if pose is not None else None)
        self._stamped(ts)

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

    def _admit(self, i: int, index: int) -> None:
        """The spatial frame in ring slot i (about to be overwritten), the `index`-th to leave S, joins T, A
        and R, with what was seen in it and where."""
        t = self._t
        smap, stamp = t["spatial"][i], self._spatial_stamps[i]
        if "early_map" in t and index < self.config.temporal_slots:
            t["early_map"][index].copy_(smap)
            t["early_stamp"][index] = stamp
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
        self._add_slot(vec, stamp, ann, pose, {"rep_map": smap, "rep_vec": vec})

    REPRESENTATIVES = ("rep_vec", "rep_map")

    def _slot_written(self, row: int, pose: torch.Tensor | None) -> None:
        t = self._t
        t["pose_lo"][row].fill_(math.inf)
        t["pose_hi"][row].fill_(-math.inf)
        if pose is not None:                 # a position only counts where it was recorded (valid = 1)
            known = pose[POSITION].masked_fill(pose[POSE_DIM - 1] <= 0, math.nan)
            t["pose_lo"][row].copy_(torch.nan_to_num(known, nan=math.inf))
            t["pose_hi"][row].copy_(torch.nan_to_num(known, nan=-math.inf))

    def _representative_vectors(self, pick) -> tuple[torch.Tensor, torch.Tensor]:
        return pick("rep_vec")

    def _merged_extras(self, pick) -> list[tuple[str, torch.Tensor]]:
        (lo_i, lo_j), (hi_i, hi_j) = pick("pose_lo"), pick("pose_hi")
        return [("pose_lo", torch.minimum(lo_i, lo_j)), ("pose_hi", torch.maximum(hi_i, hi_j))]

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

    def _blend_abstract(self, A: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
        return blend(A, E, self._q, self._k, self.config.abstract_update_ratio)

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
        out = ReadBuilder(tokens, self.dtype)
        if include_abstract and self._abstract_filled:
            a0, a1 = self._abstract_span
            abstract = t["abstract"][: self._abstract_filled]
            if self._abstract_pending:
                abstract = self._blend_abstract(abstract, t["abstract_pending"][: self._abstract_pending])
            admitted = self.frames_seen - min(self.frames_seen, c.spatial_frames)
            out.add("abstract", abstract.clone, a0, a1, (a0 + a1) / 2, admitted)

        if self._filled:
            s = self._slots(lo, hi)
            mean, weight, runs = s["stamp_mean"], s["weight"], s["runs"]
            centroids = t["centroid"][: self._filled] + t["origin"] if tokens else None
            for k in sorted(s["slots"], key=lambda k: (mean[k], k)):
                out.add("temporal", lambda k=k: centroids[k].view(self._pt, self.dim), s["stamp_min"][k],
                        s["stamp_max"][k], mean[k], weight[k], runs[k])
            if c.retrieval == "cluster_id":
                read_by_cluster_id(self._t, self.config.retrieved_frames, out, s, lo, hi)
            else:
                for k in sorted(s["keyed"], key=lambda k: (-weight[k], mean[k]))[: c.retrieved_frames]:
                    r = s["rep_stamp"][k]
                    out.add("retrieved", t["rep_map"][k].clone, r, r, r, weight[k], (key_run(runs[k], r),))

        filled = min(self.frames_seen, c.spatial_frames)
        stamps = t["spatial_stamp"].cpu().tolist()
        s_ann = t["spatial_annotation"].cpu().numpy()
        s_pose = t["spatial_pose"].cpu().numpy()
        for r in range(filled):   # oldest first
            i = (self._spatial_head - filled + r) % c.spatial_frames
            if lo <= stamps[i] <= hi:
                a = s_ann[i] if self.annotation_dim else None
                run = Run(stamps[i], stamps[i], 1, a, a, s_pose[i, :7].copy() if s_pose[i, 7] > 0 else None)
                out.add("spatial", t["spatial"][i].clone, stamps[i], stamps[i], stamps[i], 1.0, (run,))
        return MemoryRead(out.tokens(self.dim, self.device), out.groups, self.frames_seen)

    # ------------------------------------------------------------ accounting
    def tokens_by_kind(self) -> dict[str, int]:
        """Tokens a full (unwindowed) read returns now, per memory part, without reading."""
        c = self.config
        return {
            "abstract": self._abstract_filled,
            "temporal": self._filled * self._pt,
            "retrieved": min(self._filled, c.retrieved_frames) * self._ps,
            "spatial": min(self.frames_seen, c.spatial_frames) * self._ps,
        }

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

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-able metadata): everything needed to continue exactly where this left off."""
        meta = {**self._identity(), "state": self._host_state(), "stamp_range": self.stamp_range()}
        return {k: v.detach().clone() for k, v in self._t.items()}, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore a state_dict; refuses (SnapshotError, nothing changed) one of another memory."""
        tensors, meta = upgrade_v1(tensors, meta, self._t, self.config, self.annotation_dim)
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


def read_by_cluster_id(t: dict, retrieved: int, out: ReadBuilder, s: dict, lo: float, hi: float) -> None:
    """R as upstream's code computes it (vstream_arch.py L261-268): the clusters sorted by weight, heaviest
    first, and for each of the N_R heaviest the frame whose index is the cluster's id: its place in T as
    the model reads it (upstream's T is in cluster-id order, ours in time order; ties in weight go to the
    earlier place, a stable sort). So always one of the first K frames that joined T (frames 0-24 at the
    released size), whatever the slot holds. Key frames outside the window are left out."""
    order = sorted(s["slots"], key=lambda k: (s["stamp_mean"][k], k))
    heavy = sorted(range(len(order)), key=lambda p: (-s["weight"][order[p]], p))[:retrieved]
    stamps = t["early_stamp"].cpu().tolist()
    every_run = tuple(r for runs in s["runs"] for r in runs)
    for p in heavy:
        r = stamps[p]
        if lo <= r <= hi:
            out.add("retrieved", t["early_map"][p].clone, r, r, r, s["weight"][order[p]], (key_run(every_run, r),))
