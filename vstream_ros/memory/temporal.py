"""The temporal-cluster skeleton both memories share (STAR's temporal part, Flash's CSM + DAM).

K weighted slots plus a scratch row K for the incoming frame; each slot keeps a centroid (relative to
the first frame, the `origin`), its weight (frames), its frame-weighted mean stamp and span, a
representative frame and its runs of adjacent frames (runs.py). With K slots full a new frame joins
and the pair of least Ward cost is merged (ward.py): the exact weighted k-means optimum of K+1 points
into K. Two Gram rows are recomputed per frame, and merge indices never leave the device.

What differs between the memories is declared, not copied: the names of the representative tensors
(`REPRESENTATIVES`), how a representative compares with a centroid (`_representative_vectors`), and what
else a slot keeps (`_slot_written`, `_merged_extras`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from vstream_ros.memory.read import Run, TokenGroup
from vstream_ros.memory.runs import ADJACENT, Runs
from vstream_ros.memory.ward import cheapest_pair

Stamps = float | Sequence[float] | torch.Tensor
Pick = Callable[[str], tuple[torch.Tensor, torch.Tensor]]


def slot_shapes(slots: int, vec_dim: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """The slot tensors every clustered memory keeps (row `slots` is the scratch row), in snapshot order."""
    k1, f32, f64 = slots + 1, torch.float32, torch.float64
    return {"origin": ((vec_dim,), f32), "centroid": ((k1, vec_dim), f32), "gram": ((k1, k1), f32),
            "weight": ((k1,), f32), "stamp_mean": ((k1,), f64), "stamp_min": ((k1,), f64), "stamp_max": ((k1,), f64)}


def key_run(runs: tuple[Run, ...], stamp: float, first: float | None = None) -> Run:
    """The run of a slot's key frame (one frame at `stamp`, or the two of a pair from `first`), carrying what
    its home run saw and where."""
    start, n = (stamp, 1) if first is None or first >= stamp else (first, 2)
    home = next((r for r in runs if r.start <= stamp <= r.end), None)
    return Run(start, stamp, n, home.mean, home.peak, home.pose) if home else Run(start, stamp, n)


class ReadBuilder:
    """Groups and their token blocks, appended in read order; `tokens=False` keeps the groups only."""

    def __init__(self, with_tokens: bool, dtype: torch.dtype) -> None:
        self.with_tokens, self.dtype = with_tokens, dtype
        self.blocks: list[torch.Tensor] = []
        self.groups: list[TokenGroup] = []
        self._offset = 0

    def add(self, kind: str, block: Callable[[], torch.Tensor], start: float, end: float, stamp: float,
            weight: float, runs: tuple[Run, ...] = (), grid: tuple[int, int] | None = None) -> None:
        if not self.with_tokens:
            self.groups.append(TokenGroup(kind, start, end, stamp, weight, 0, 0, runs=runs, grid=grid))
            return
        b = block().to(self.dtype)
        self.blocks.append(b)
        self.groups.append(TokenGroup(kind, start, end, stamp, weight, self._offset, b.shape[0], runs=runs, grid=grid))
        self._offset += b.shape[0]

    def tokens(self, dim: int, device: torch.device) -> torch.Tensor:
        return torch.cat(self.blocks) if self.blocks else torch.zeros(0, dim, device=device, dtype=self.dtype)


class TemporalSlots:
    """Base of a one-camera clustered memory. A subclass's `_layout(grid)` sets `_t` (from `slot_shapes`
    plus its own tensors) and calls `_alloc_slots`; its `reset` calls `_reset_slots`. `config` has
    `temporal_slots` and `runs_per_slot`."""

    REPRESENTATIVES: tuple[str, ...] = ()     # per-slot tensors of the representative frame, besides rep_stamp

    def __init__(
        self,
        config,
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

    def _layout(self, grid: tuple[int, int]) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def _alloc_slots(self) -> None:
        k1 = self.config.temporal_slots + 1
        self._runs = Runs(k1, self.config.runs_per_slot, self.annotation_dim, self.device)
        self._t.update(self._runs.t)
        idx = torch.arange(k1, device=self.device)
        self._lower = idx[:, None] >= idx[None, :]     # pairs (i, j), i >= j, are never merge candidates
        self._row_k = torch.tensor([k1 - 1], device=self.device)

    def _reset_slots(self) -> None:
        for t in self._t.values():
            t.zero_()
        self.frames_seen = 0
        self.frame_interval: float | None = None   # typical seconds between frames (for run adjacency)
        self.first_stamp: float | None = None
        self.last_stamp: float | None = None
        self._filled = 0                           # slots in use

    # -------------------------------------------------------------- checks
    def _per_frame(self, values: torch.Tensor | None, n: int, dim: int, what: str) -> torch.Tensor | None:
        if values is None or dim == 0:
            return None
        v = torch.as_tensor(values, dtype=torch.float32)
        if v.numel() != n * dim:
            raise ValueError(f"{what} must be [{n}, {dim}], got {tuple(v.shape)}")
        return v.reshape(n, dim).to(self.device)

    def _check_stamps(self, stamps: Stamps, n: int) -> list[float]:
        """The batch's stamps as floats; ValueError for a wrong count, a non-finite stamp or one going back."""
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
        """The typical gap between this camera's frames: a slow average of gaps, pulled down at once by
        a shorter one, so a few dropped frames do not make gaps look adjacent."""
        if previous is None or stamp <= previous:
            return
        gap = stamp - previous
        prev = self.frame_interval
        self.frame_interval = gap if prev is None else min(gap, 0.9 * prev + 0.1 * gap)

    def _stamped(self, ts: list[float]) -> None:
        """After a batch: the stream's first and last stamps and the frame count."""
        if self.first_stamp is None:
            self.first_stamp = ts[0]
        self.last_stamp = ts[-1]
        self.frames_seen += len(ts)

    @property
    def adjacency(self) -> float:
        """Frames at most this many seconds apart belong to one run."""
        return math.inf if self.frame_interval is None else ADJACENT * self.frame_interval

    # -------------------------------------------------------------- update
    def _add_slot(self, vec: torch.Tensor, stamp: float, ann: torch.Tensor | None, pose: torch.Tensor | None,
                  representative: dict[str, torch.Tensor | float], first: float | None = None) -> int | None:
        """One frame (its vector relative to the origin) becomes a slot of weight 1: a free one, or the
        scratch row and then the cheapest merge. With `first` before `stamp` the slot is one token of two
        frames (a pair: Flash Memory), stamped at their mean. Returns the new slot's row, None after a merge."""
        t, K = self._t, self.config.temporal_slots
        n = self._filled
        row = n if n < K else K
        first = stamp if first is None else min(first, stamp)
        t["centroid"][row].copy_(vec)
        t["weight"][row] = 1.0
        t["stamp_mean"][row] = (first + stamp) / 2
        t["stamp_min"][row] = first
        for name in ("stamp_max", "rep_stamp"):
            t[name][row] = stamp
        for name, value in representative.items():      # tensors, or numbers (filled on the device)
            t[name][row] = value
        self._runs.set_frame(row, stamp, ann, pose, first, 1 if first == stamp else 2)
        self._slot_written(row, pose)
        g = t["centroid"][: row + 1] @ vec
        t["gram"][row, : row + 1] = g
        t["gram"][: row + 1, row] = g
        if n < K:
            self._filled += 1
            return row
        self._merge_cheapest_pair()
        return None

    def _slot_written(self, row: int, pose: torch.Tensor | None) -> None:
        """What else a subclass keeps of a new slot (STAR: the box of its positions)."""

    def _representative_vectors(self, pick: Pick) -> tuple[torch.Tensor, torch.Tensor]:
        """The two representatives as [1, vec_dim] vectors relative to the origin, like the centroids."""
        raise NotImplementedError

    def _merged_extras(self, pick: Pick) -> list[tuple[str, torch.Tensor]]:
        """Further per-slot tensors of the merged slot (STAR: the pose box)."""
        return []

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
        lo_i, lo_j = pick("stamp_min")
        hi_i, hi_j = pick("stamp_max")
        values = [("centroid", merged), ("weight", wi + wj), ("stamp_mean", (wi64 * mi + wj64 * mj) / (wi64 + wj64)),
                  ("stamp_min", torch.minimum(lo_i, lo_j)), ("stamp_max", torch.maximum(hi_i, hi_j))]
        # representative: whichever of the two frames is nearer the merged centroid
        vi, vj = self._representative_vectors(pick)
        take_j = ((vj - merged) ** 2).sum(1) < ((vi - merged) ** 2).sum(1)      # [1] bool
        for name in (*self.REPRESENTATIVES, "rep_stamp"):
            a, b = pick(name)
            values.append((name, torch.where(take_j.view(-1, *[1] * (a.dim() - 1)), b, a)))
        values += self._merged_extras(pick)
        runs = self._runs.merge(i, j, self.adjacency)
        # the merged slot goes to i; the incoming frame (row K) moves into j (a no-op when j == K)
        for name, value in values:
            t[name].index_copy_(0, i, value)
            t[name].index_copy_(0, j, t[name].index_select(0, self._row_k))
        self._runs.write(i, runs)
        self._runs.move(j, self._row_k)
        G.index_copy_(0, j, G.index_select(0, self._row_k))
        G.index_copy_(1, j, G.index_select(1, self._row_k))
        gi = t["centroid"] @ merged[0]
        G.index_copy_(0, i, gi[None, :])
        G.index_copy_(1, i, gi[:, None])

    # ---------------------------------------------------------------- read
    def _slots(self, lo: float, hi: float) -> dict:
        """The slots on the host: per slot its stamps, weight and runs meeting [lo, hi]; `slots` those with
        such a run, `keyed` those whose key frame itself lies in [lo, hi]."""
        t, n = self._t, self._filled
        out = {name: t[name][:n].cpu().tolist() for name in ("stamp_mean", "stamp_min", "stamp_max", "weight",
                                                               "rep_stamp")}
        out["runs"] = self._host_runs(n, lo, hi)
        out["slots"] = [k for k in range(n) if out["runs"][k]]
        out["keyed"] = [k for k in out["slots"] if lo <= out["rep_stamp"][k] <= hi]
        return out

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

    # ---------------------------------------------------------- accounting
    def nbytes(self) -> dict[str, int]:
        """Bytes held by the memory's tensors: on the accelerator and in host RAM."""
        total = sum(t.numel() * t.element_size() for t in self._t.values())
        total += self._lower.numel() * self._lower.element_size() + self._row_k.numel() * 8
        on_device = self.device.type != "cpu"
        return {"device": total if on_device else 0, "host": 0 if on_device else total}

    def stamp_range(self) -> tuple[float, float] | None:
        return None if self.first_stamp is None else (self.first_stamp, self.last_stamp)
