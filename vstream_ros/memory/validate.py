"""The invariants of a STAR memory's state, checked before a snapshot is restored into it.

A snapshot that parses can still be wrong: bytes changed on disk (the checksum catches those), or a
state no sequence of updates can produce (a ring index out of range, weights that do not add up to
the frames seen, NaN features). Restoring such a state would fail later, on a worker thread, or answer
from garbage; refusing it here sends it down the same move-aside path as an unreadable file.
"""

from __future__ import annotations

import math

import torch

from vstream_ros.memory.config import MemoryConfig
from vstream_ros.memory.runs import Runs
from vstream_ros.memory.snapshot import SnapshotError

STAMP_SLACK = 1e-6      # seconds: float64 means of stamps may round just outside their span
UNBOUNDED = ("pose_lo", "pose_hi")   # +-inf where no position was recorded; NaN is still refused


def check_star_state(config: MemoryConfig, tensors: dict[str, torch.Tensor], host: dict) -> None:
    """Raise SnapshotError naming the first broken invariant of a state (tensors as `_t`, host counters
    as in `STARMemory._host_state`, already converted to their Python types)."""
    errors = _broken(config, tensors, host)
    if errors:
        raise SnapshotError("snapshot state is inconsistent: " + "; ".join(errors[:3]))


def _broken(c: MemoryConfig, t: dict[str, torch.Tensor], h: dict) -> list[str]:
    K, S, A = c.temporal_slots, c.spatial_frames, c.abstract_slots
    n = h["frames_seen"]
    filled, head = h["_filled"], h["_spatial_head"]
    a_filled, a_pending = h["_abstract_filled"], h["_abstract_pending"]
    if n < 0:
        return [f"frames_seen is {n}"]
    # counters follow from the number of frames: a frame joins T and A when it leaves S (the newest S
    # frames are only in S), and fills a slot until all are used
    admitted = n - min(n, S)
    expect = {"filled": (filled, min(admitted, K)), "spatial_head": (head, n % S),
              "abstract_filled": (a_filled, min(admitted, A)),
              "abstract_pending": (a_pending, max(0, admitted - A) % A)}
    errors = [f"{k} is {got}, {n} frames give {want}" for k, (got, want) in expect.items() if got != want]
    if errors:
        return errors
    for name, x in t.items():
        bad = torch.isnan(x) if name in UNBOUNDED else ~torch.isfinite(x)
        if x.is_floating_point() and bool(bad.any()):
            errors.append(f"tensor {name} holds NaN or infinite values")
    if errors:
        return errors
    first, last = h["first_stamp"], h["last_stamp"]
    if n == 0:
        if first is not None or last is not None or h["_abstract_span"] is not None:
            errors.append("an empty memory has stamps")
        return errors
    if not (_finite(first) and _finite(last) and first <= last):
        return [f"stamps {first!r} .. {last!r} are not a finite span"]
    lo, hi = first - STAMP_SLACK, last + STAMP_SLACK
    w = t["weight"][:filled].double()
    if bool((w < 1).any()) or bool((w != w.round()).any()):
        errors.append("a temporal slot's weight is not a whole number of frames")
    elif abs(float(w.sum()) - admitted) > max(0.5, 1e-6 * n):
        errors.append(f"temporal weights add up to {float(w.sum()):.0f}, not the {admitted} frames admitted")
    smin, smax = t["stamp_min"][:filled], t["stamp_max"][:filled]
    smean, srep = t["stamp_mean"][:filled], t["rep_stamp"][:filled]
    if bool((smin < lo).any() | (smax > hi).any() | (smin > smax).any()):
        errors.append("a temporal slot's span lies outside the memory's stamps")
    if bool((smean < smin - STAMP_SLACK).any() | (smean > smax + STAMP_SLACK).any()
            | (srep < smin - STAMP_SLACK).any() | (srep > smax + STAMP_SLACK).any()):
        errors.append("a temporal slot's mean or key-frame stamp lies outside its span")
    kept = min(n, S)
    ring = [(head - 1 - r) % S for r in range(kept)]
    sstamps = t["spatial_stamp"][ring]
    if bool((sstamps < lo).any() | (sstamps > hi).any()):
        errors.append("a spatial frame's stamp lies outside the memory's stamps")
    span = h["_abstract_span"]
    if admitted == 0:
        if span is not None:
            errors.append("the abstract memory has a span before any frame joined it")
    elif span is None or len(span) != 2 or not all(_finite(x) for x in span) \
            or not lo <= span[0] <= span[1] <= hi:
        errors.append(f"the abstract memory's span {span!r} is not within the memory's stamps")
    if filled:
        cent = t["centroid"][:filled].float()
        gram = t["gram"][:filled, :filled].float()
        scale = float(gram.diagonal().abs().max()) + 1e-12
        if float((gram - cent @ cent.T).abs().max()) > 2e-2 * scale:
            errors.append("the temporal Gram matrix does not match the slots' centroids")
    return errors


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# tensors that snapshots written before runs and poses existed lack (format version 1)
ADDED_IN_V2 = ("spatial_annotation", "spatial_pose", "pose_lo", "pose_hi", *Runs.NAMES)


def upgrade_v1(tensors: dict[str, torch.Tensor], meta: dict, current: dict[str, torch.Tensor], config: MemoryConfig,
               annotation_dim: int) -> tuple[dict[str, torch.Tensor], dict]:
    """An older snapshot as this version writes it: each slot one run over its whole span (all that it
    knew), nothing annotated, no pose recorded. `current`: the memory's own tensors (for shapes)."""
    if all(k in tensors for k in ADDED_IN_V2):
        return tensors, meta
    meta = {**meta, "annotation_dim": meta.get("annotation_dim", annotation_dim),
            "config": {**MemoryConfig().to_dict(), "runs_per_slot": config.runs_per_slot, **meta.get("config", {})}}
    fresh = {k: torch.zeros_like(v, device="cpu") for k, v in current.items() if k in ADDED_IN_V2}
    fresh["pose_lo"].fill_(math.inf)
    fresh["pose_hi"].fill_(-math.inf)
    try:
        fresh["run_start"][:, 0] = tensors["stamp_min"]
        fresh["run_end"][:, 0] = tensors["stamp_max"]
        fresh["run_frames"][:, 0] = tensors["weight"]
    except (KeyError, RuntimeError) as e:
        raise SnapshotError(f"snapshot of an older version is incomplete: {e}") from e
    return {**fresh, **tensors}, meta
