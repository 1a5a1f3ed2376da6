"""Flash Memory of one camera (Flash-VStream-Qwen, arXiv 2506.23825), bounded for ever.

What it clusters are temporal tokens, Qwen2-VL's unit of two frames: the stream's first 2K frames
(upstream's first clip: 120 frames for the released K = 60) two consecutive frames a token, as training
and upstream's processor made them, and each frame after them a token of its own (tiled), as upstream's
streaming server feeds them. A lone frame among the first ones is a token of its own, open to pairing,
until the next frame replaces it with the pair's token (`pair_last`); a clip given at once comes as its
pairs (`update(firsts=)`). The first 2K frames' K tokens fill the CSM without a merge.

Two parts, read in upstream's order (DAM then CSM):
- CSM, the context synopsis memory ("temporal" groups): K weighted clusters of the tokens' synopsis
  maps (the frames at 1/2 resolution through the vision tower), each with its weight (tokens, as
  upstream's k-means weights), its mean stamp, its stamp span and its runs of adjacent frames; read in
  time order.
- DAM, the detail augmentation memory ("retrieved" groups): the full-resolution maps of the tokens
  nearest the R heaviest clusters; read heaviest first (equal weights in time order), as upstream feeds
  them: up to R slots every token in time order, up to K the R oldest (upstream's stable sort of equal
  weights), then per heavy centroid the nearest kept token. A key token of two frames spans both.

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
  centroid (on a merge, the nearer of the two representatives), and the DAM takes, for each heavy
  centroid, the nearest of those kept frames (upstream: the nearest of every frame seen). Until the
  first merge every frame is kept, so the DAM is upstream's exactly; nothing else of past frames is kept.
- Ties in weight (every slot weighs 1 until the memory is full) go to the older frame: upstream's
  argsort over its time-sorted centroids, taken as stable (the CUDA sort it ran on; torch's CPU sort
  of equal values is not stable and would pick a scrambled set).
- Distances are in fp32 (upstream: bf16 with an unclamped sqrt).

The grid is per camera: a frame encoder with native-resolution input gives each camera's aspect its
own grid. The memory takes the grid of its first frame and refuses frames of another size until
reset. All state is preallocated on the memory's device; `update` moves merge indices with
index_select / index_copy_ and never waits for the device.
"""

from __future__ import annotations

import math
import os

import torch

from vstream_ros.memory.flash_config import unpack_frame_maps
from vstream_ros.memory.read import MemoryRead
from vstream_ros.memory.runs import POSE_DIM
from vstream_ros.memory.snapshot import FLASH_FORMAT, FLASH_FORMAT_VERSION, SnapshotError, read_snapshot, write_snapshot
from vstream_ros.memory.temporal import ReadBuilder, Stamps, TemporalSlots, key_run, slot_shapes

KIND = "flash"


class FlashMemory(TemporalSlots):
    """Bounded Flash Memory of one camera. Not thread-safe: one writer; readers take `read()` copies."""

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
        self._alloc_slots()

    def _shapes(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Every feature buffer's shape and dtype (row K of the slot tensors is a scratch row for the
        incoming frame). The run tables come from runs.Runs."""
        k1 = self.config.temporal_slots + 1
        return {
            **slot_shapes(self.config.temporal_slots, self._ds),
            "rep_synopsis": ((k1, self._ps, self.dim), self.dtype),
            "rep_full": ((k1, self._pf, self.dim), self.dtype),
            "rep_stamp": ((k1,), torch.float64),
            "rep_first": ((k1,), torch.float64),       # the key token's first frame (its stamp: its last)
        }

    def reset(self) -> None:
        """Forget everything (a camera restarted, a bag looped). Buffers and grid stay."""
        self._reset_slots()
        self._open: tuple[int, float] | None = None    # (row, stamp) of a lone frame open to pairing

    def set_abstract_projections(self, q, k) -> None:
        """The Flash Memory has no abstract part: there is nothing to project (kept for the common API)."""

    # ----------------------------------------------------------------- update
    def update(self, features: torch.Tensor, stamps: Stamps, annotations: torch.Tensor | None = None,
               poses: torch.Tensor | None = None, firsts: Stamps | None = None) -> None:
        """Add temporal tokens: packed features [rows, cols, D] or [B, rows, cols, D] in time order (see
        flash_config.pack_frame_maps), stamps in seconds, optionally per token what the encoder saw in it
        ([B, annotation_dim]) and the robot's pose ([B, 8]: x y z qx qy qz qw valid). A token is one frame
        at its stamp, or with `firsts` (per token the stamp of its first frame) two frames from first to
        stamp, as a clip's pairs (the encoder's encode_clip).

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
        fs = ts if firsts is None else self._firsts(firsts, ts)
        ann = self._per_frame(annotations, len(ts), self.annotation_dim, "annotations")
        pose = self._per_frame(poses, len(ts), POSE_DIM, "poses")
        if grid != self.grid:
            self._layout(grid)
            self.reset()
        with torch.no_grad():
            full, synopsis = self._maps(x)
            vecs = synopsis.float().reshape(len(ts), self._ds)
            if self.first_stamp is None:
                self._t["origin"].copy_(vecs[0])
            seen = self.frames_seen
            for b, (first, stamp) in enumerate(zip(fs, ts, strict=True)):
                self._track_interval(self.last_stamp if b == 0 else ts[b - 1], first)
                self._track_interval(first, stamp)
                self._insert(vecs[b] - self._t["origin"], synopsis[b], full[b], first, stamp,
                             ann[b] if ann is not None else None, pose[b] if pose is not None else None, seen)
                seen += 1 if first == stamp else 2
        self._stamped(ts)
        self.frames_seen, self.first_stamp = seen, min(self.first_stamp, fs[0])

    def _firsts(self, firsts: Stamps, ts: list[float]) -> list[float]:
        fs = self._check_stamps(firsts, len(ts))       # after the last stamp, in order
        if any(f > t or (b and f < ts[b - 1]) for b, (f, t) in enumerate(zip(fs, ts, strict=True))):
            raise ValueError(f"a token's first frame must lie between the token before and its own stamp: "
                             f"firsts {fs}, stamps {ts}")
        return fs

    def _maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full, synopsis = unpack_frame_maps(x.to(self.device), self.config)
        n = x.shape[0]
        return (full.reshape(n, self._pf, self.dim).to(self.dtype),
                synopsis.reshape(n, self._ps, self.dim).to(self.dtype))

    def _insert(self, vec: torch.Tensor, synopsis: torch.Tensor, full: torch.Tensor, first: float, stamp: float,
                ann: torch.Tensor | None, pose: torch.Tensor | None, seen: int) -> None:
        """One token becomes a slot of weight 1 (a free one, or the scratch row and then a merge). A lone frame
        in a free slot among the stream's first `paired_frames` frames (`seen` frames before it) stays open
        to pairing, while its partner would still be one of them."""
        row = self._add_slot(vec, stamp, ann, pose, {"rep_synopsis": synopsis, "rep_full": full, "rep_first": first},
                             first)
        lone = row is not None and first == stamp and seen + 1 < self.paired_frames
        self._open = (row, stamp) if lone else None

    @property
    def paired_frames(self) -> int:
        """The stream's first frames that are paired into temporal tokens (two a token): upstream's first clip,
        flash_memory_temporal_length (120) frames, the CSM's slots twice; their tokens fill the CSM and no
        merge is needed until they are all in."""
        return 2 * self.config.temporal_slots

    @property
    def pair_open(self) -> bool:
        """Whether the last token is a lone frame that the next frame may join (`pair_last`)."""
        return self._open is not None

    def pair_last(self, features: torch.Tensor, stamp: float, annotation: torch.Tensor | None = None,
                  pose: torch.Tensor | None = None) -> None:
        """The frame at `stamp` joins the lone frame open to pairing: that token becomes the pair's, `features`
        ([rows, cols, D] or [1, rows, cols, D]: both frames in one temporal token, the encoder's encode_pairs),
        spanning both stamps, with this frame's annotation and pose. Until then the lone frame is in the
        memory as its own (tiled) token, so a read at any time holds every frame seen: what upstream's
        processor makes of the frames so far (it pads an odd count with a copy of the last frame).

        Raises ValueError, changing nothing, when no frame is open to pairing, for a wrong shape or grid,
        or a stamp before the last one."""
        if self._open is None:
            raise ValueError("no lone frame is open to pairing: add this frame with update")
        x = features if features.dim() == 4 else features.unsqueeze(0)
        if x.shape[0] != 1 or tuple(x.shape[1:3]) != self.grid or x.shape[-1] != self.dim:
            raise ValueError(f"a pair is one token [rows, cols, D] of this camera's grid {self.grid}, got "
                             f"{tuple(features.shape)}")
        ts = self._check_stamps(stamp, 1)
        ann = self._per_frame(annotation, 1, self.annotation_dim, "annotations")
        pos = self._per_frame(pose, 1, POSE_DIM, "poses")
        row, first = self._open
        t, n, s = self._t, self._filled, ts[0]
        with torch.no_grad():
            full, synopsis = self._maps(x)
            vec = synopsis[0].float().reshape(-1) - t["origin"]
            t["centroid"][row].copy_(vec)
            g = t["centroid"][:n] @ vec                 # the open row is the newest slot: no later row saw it
            t["gram"][row, :n] = g
            t["gram"][:n, row] = g
            t["rep_synopsis"][row].copy_(synopsis[0])
            t["rep_full"][row].copy_(full[0])
            t["stamp_mean"][row] = (first + s) / 2
            t["stamp_max"][row] = s
            t["rep_stamp"][row] = s
            self._runs.set_frame(row, s, None if ann is None else ann[0], None if pos is None else pos[0], first, 2)
        self._track_interval(self.last_stamp, s)
        self._stamped(ts)
        self._open = None

    REPRESENTATIVES = ("rep_synopsis", "rep_full", "rep_first")

    def _representative_vectors(self, pick) -> tuple[torch.Tensor, torch.Tensor]:
        si, sj = pick("rep_synopsis")
        origin = self._t["origin"][None]
        return si.float().reshape(1, -1) - origin, sj.float().reshape(1, -1) - origin

    # ------------------------------------------------------------------- read
    def read(self, window: tuple[float, float] | None = None, include_abstract: bool | None = None,
             tokens: bool = True) -> MemoryRead:
        """A copy of the memory as tokens [N, D]: the DAM's full maps (heaviest slot first), then the CSM's
        synopsis maps (time order). Each group's tokens are its map in row-major order; `grid` gives the
        map's sides; a key token of two frames spans both. `window=(t0, t1)` keeps the slots with a run that
        meets it and the key tokens that meet it. There is no abstract memory: `include_abstract` changes
        nothing. `tokens=False`: the groups and their runs only (no token copied, groups of length 0), for
        locate."""
        t = self._t
        lo, hi = (-math.inf, math.inf) if window is None else (float(window[0]), float(window[1]))
        if lo > hi:
            raise ValueError(f"window starts after it ends: {window}")
        out = ReadBuilder(tokens, self.dtype)
        if self._filled:
            s = self._slots(lo, hi)
            weight, runs, rep_stamp = s["weight"], s["runs"], s["rep_stamp"]
            rep_first = t["rep_first"][: self._filled].cpu().tolist()
            s["keyed"] = [k for k in s["slots"] if rep_first[k] <= hi and rep_stamp[k] >= lo]
            for k, j in self._detail(s):
                r, f = rep_stamp[j], rep_first[j]
                out.add("retrieved", t["rep_full"][j].clone, f, r, (f + r) / 2, weight[k], (key_run(runs[j], r, f),),
                        self.full_map)
            centroids = t["centroid"][: self._filled] + t["origin"] if tokens else None
            mean = s["stamp_mean"]
            for k in sorted(s["slots"], key=lambda k: (mean[k], k)):
                out.add("temporal", lambda k=k: centroids[k].view(self._ps, self.dim), s["stamp_min"][k],
                        s["stamp_max"][k], mean[k], weight[k], runs[k], self.synopsis_map)
        return MemoryRead(out.tokens(self.dim, self.device), out.groups, self.frames_seen)

    def _detail(self, s: dict) -> list[tuple[int, int]]:
        """The DAM as upstream's spatial_enhance (klarge_retrieve) picks it: the R heaviest slots (ties in
        time order, as a stable sort of upstream's time-sorted centroids gives), each with the kept frame
        nearest its centroid (synopsis maps, Euclidean, fp32; ties to the earliest frame). Pairs (slot,
        frame's slot) in that order; a frame may serve several slots, as upstream's may. Up to R slots
        that is every frame in time order; up to K slots (no merge yet) the R oldest."""
        cands = sorted(s["keyed"], key=lambda k: (s["rep_stamp"][k], k))
        if not cands:
            return []
        heavy = sorted(s["slots"], key=lambda k: (-s["weight"][k], s["stamp_mean"][k], k))
        heavy = heavy[: self.config.retrieved_frames]
        t = self._t
        idx = torch.tensor(cands, device=self.device)
        reps = t["rep_synopsis"].index_select(0, idx).float().reshape(len(cands), -1) - t["origin"]
        cents = t["centroid"].index_select(0, torch.tensor(heavy, device=self.device))
        dist = torch.cdist(cents[None], reps[None], compute_mode="donot_use_mm_for_euclid_dist")[0]
        return [(k, cands[j]) for k, j in zip(heavy, dist.argmin(1).tolist(), strict=True)]

    # ------------------------------------------------------------ accounting
    def tokens_by_kind(self) -> dict[str, int]:
        """Rows a full (unwindowed) read returns now, per part, without reading."""
        return {"abstract": 0, "temporal": self._filled * self._ps,
                "retrieved": min(self._filled, self.config.retrieved_frames) * self._pf, "spatial": 0}

    # --------------------------------------------------------------- snapshot
    def _identity(self) -> dict:
        return {"memory": KIND, "config": self.config.to_dict(), "dim": self.dim, "encoder_id": self.encoder_id,
                "annotation_dim": self.annotation_dim}

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-able metadata): everything needed to continue exactly where this left off."""
        state = {"frames_seen": self.frames_seen, "first_stamp": self.first_stamp, "last_stamp": self.last_stamp,
                 "filled": self._filled, "frame_interval": self.frame_interval,
                 "open": None if self._open is None else list(self._open)}
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
            opened = s.get("open")          # version 1 snapshots: none open
            host["_open"] = None if opened is None else (int(opened[0]), float(opened[1]))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise SnapshotError(f"snapshot state is incomplete: {e}") from e
        if not 0 <= host["_filled"] <= self.config.temporal_slots:
            raise SnapshotError(f"snapshot fills {host['_filled']} of {self.config.temporal_slots} slots")
        if host["_open"] is not None and not 0 <= host["_open"][0] < host["_filled"]:
            raise SnapshotError(f"snapshot opens slot {host['_open'][0]} of {host['_filled']} to pairing")
        if "rep_first" not in tensors and "rep_stamp" in tensors:
            # version 1 (before frame pairs): every token was one frame, so a key token's first frame is itself
            tensors = {**tensors, "rep_first": tensors["rep_stamp"]}
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
