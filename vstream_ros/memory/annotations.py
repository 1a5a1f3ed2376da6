"""A snapshot's annotations moved to the layout the encoder gives now.

An encoder that annotates frames (lite's vision.py) grows new parts between releases; a memory of weeks should
not be set aside because of it. A snapshot records the names of its annotation's columns
(`annotation_names`, written by MultiCameraMemory); on restore, each column moves to its name's place in the
encoder's layout, a name the snapshot lacks is zero (nothing of it was recognised when those frames were seen),
and a name the encoder no longer gives is dropped, which the caller says and archives. The memory knows the
names only as strings: what they mean is the encoder's."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vstream_ros.memory.snapshot import SnapshotError

# the memories' tensors whose last axis is one frame's annotation (star.py, runs.py; the flash memory keeps
# its runs too): tests/test_relayout.py checks that every memory kind has no other
ANNOTATION_TENSORS = frozenset({"spatial_annotation", "run_mean", "run_peak"})


@dataclass(frozen=True)
class Relayout:
    """What moving a snapshot's annotations did: the names it lacked (zero now) and the ones dropped."""

    added: tuple[str, ...]
    dropped: tuple[str, ...]


def relayout(tensors: dict[str, torch.Tensor], meta: dict, names: Sequence[str],
             history: Sequence[Sequence[str]] = ()) -> tuple[dict[str, torch.Tensor], dict, Relayout | None]:
    """The snapshot (tensors, meta) laid out by `names`, and what changed; unchanged with None where the
    snapshot has the same names. A snapshot that records no names (written before they were) takes the one
    earlier layout of `history` of its size; with none of its size, or its size today's, it is left as it is
    (the memory's own check refuses one of another size). SnapshotError where an annotation tensor does not fit
    its names."""
    old = meta.get("annotation_names")
    if old is None and meta.get("annotation_dim") not in (None, len(names)):
        sized = [list(h) for h in history if len(h) == meta["annotation_dim"]]
        old = sized[0] if len(sized) == 1 else None
    if not names or old is None or list(old) == list(names):
        return tensors, meta, None
    if not isinstance(old, list) or not all(isinstance(n, str) for n in old):
        raise SnapshotError("the snapshot's annotation names are not a list of names")
    if len(set(old)) != len(old) or len(set(names)) != len(names):
        raise SnapshotError("annotation names repeat: the columns cannot be matched by name")
    where = {n: i for i, n in enumerate(old)}
    src = torch.tensor([where.get(n, -1) for n in names], dtype=torch.long)
    kept = src >= 0
    moved = {}
    for key, t in tensors.items():
        if key.rsplit(".", 1)[-1] not in ANNOTATION_TENSORS:
            moved[key] = t
            continue
        if t.shape[-1] != len(old):
            raise SnapshotError(f"snapshot tensor {key} has {t.shape[-1]} annotation columns, its names {len(old)}")
        out = t.new_zeros(*t.shape[:-1], len(names))
        out[..., kept] = t[..., src[kept]]
        moved[key] = out
    meta = copy.deepcopy(meta)
    meta["annotation_names"], meta["annotation_dim"] = list(names), len(names)
    for cam in meta.get("cameras", ()):
        cam["annotation_dim"] = len(names)
    now = set(names)
    return moved, meta, Relayout(tuple(n for n in names if n not in where), tuple(n for n in old if n not in now))
