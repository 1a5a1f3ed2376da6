"""A memory saved under an older annotation layout is restored under the encoder's new one (issue #20's lite grew
`any_box_colour`, and every snapshot from before was set aside): columns move by name, a part the snapshot lacks
is zero, a part the encoder no longer gives is dropped with a warning and the file kept as an archive; two
layouts with the same number of columns are never read as one."""

import json
import logging
from pathlib import Path

import pytest
import torch
from enginekit import engine_with, feed
from toybackend import LABEL, toy_backend

from vstream_ros.backends.lite.layout import LAYOUT
from vstream_ros.backends.lite.vocabulary import BOXED
from vstream_ros.backends.shared.imagenet import imagenet_classes
from vstream_ros.engine import EngineConfig, StreamEngine
from vstream_ros.memory import MemoryConfig, MultiCameraMemory, SnapshotError
from vstream_ros.memory.annotations import ANNOTATION_TENSORS, relayout
from vstream_ros.memory.kinds import KINDS
from vstream_ros.memory.snapshot import read_snapshot, write_snapshot

OLD = ("a", "b", "c")
NEW = ("c", "x", "a")


def filled(names: tuple[str, ...]) -> MultiCameraMemory:
    """Six frames of one camera; frame i's annotation column j holds 10 * (j + 1) + i."""
    mc = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e", annotation_names=names)
    g = torch.Generator().manual_seed(0)
    for i in range(6):
        ann = torch.tensor([[10.0 * (j + 1) + i for j in range(len(names))]])
        mc.update("cam", torch.randn(2, 2, 8, generator=g), float(i), ann)
    return mc


def runs_by_name(mc: MultiCameraMemory) -> list[dict[str, float]]:
    return [dict(zip(mc.annotation_names, r.mean.tolist(), strict=True)) for g in mc.read().groups for r in g.runs]


@pytest.mark.parametrize("config, grid", [(cls(), (10, 4)) for cls in KINDS])
def test_every_annotation_tensor_of_every_memory_kind_is_known(config, grid):
    """A memory kind that kept annotations in a tensor relayout does not know would restore them unmoved."""
    memory = KINDS[type(config)].memory(config, 8, grid, "cpu", torch.float32, "e", 7)
    holding = {k for k, t in memory.state_dict()[0].items() if t.dim() and t.shape[-1] == 7}
    assert holding and holding <= ANNOTATION_TENSORS, holding


def test_columns_move_by_name_a_new_part_is_zero_and_a_gone_one_is_said():
    old = filled(OLD)
    tensors, meta, moved = relayout(*old.state_dict(), NEW)
    assert moved.added == ("x",) and moved.dropped == ("b",)
    assert meta["annotation_names"] == list(NEW) and meta["annotation_dim"] == 3
    assert all(cam["annotation_dim"] == 3 for cam in meta["cameras"])
    back = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e", annotation_names=NEW)
    back.load_state_dict(tensors, meta)
    before, after = runs_by_name(old), runs_by_name(back)
    assert len(before) == len(after) > 1
    for b, a in zip(before, after, strict=True):
        assert a["a"] == b["a"] and a["c"] == b["c"] and a["x"] == 0.0, (b, a)
    assert torch.equal(back.read().tokens, old.read().tokens)


def test_the_same_names_or_none_recorded_leave_the_snapshot_as_it_is():
    tensors, meta = filled(OLD).state_dict()
    assert relayout(tensors, meta, OLD)[2] is None
    del meta["annotation_names"]             # written before snapshots named their columns
    assert relayout(tensors, meta, NEW) == (tensors, meta, None)


def test_other_names_of_the_same_size_are_refused_unmoved(tmp_path):
    """Three columns are three columns: only the names tell "a b c" from "c x a"."""
    path = tmp_path / "m.safetensors"
    filled(OLD).save(path)
    other = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e", annotation_names=NEW)
    with pytest.raises(SnapshotError, match="laid out by other names"):
        other.load(path)
    assert other.frames_seen == 0


def older_snapshot(tmp_path, backend, named: bool = True) -> tuple[StreamEngine, Path]:
    """An engine fed three toolbox frames, and its memory saved as if its encoder had also given a column
    "retired" before "red toolbox" (`named`: the snapshot says so; else it names no columns)."""
    e = engine_with(backend)
    feed(e, "cam", [1.0, 2.0, 3.0], value=250)      # bright: a toolbox, so the column is not all zero
    assert e.flush()
    e.stop()
    tensors, meta = e.memory.state_dict()
    (name,) = e.memory.annotation_names
    wider = {k: torch.cat([torch.full_like(t[..., :1], 7.0), t], -1) if k.rsplit(".", 1)[-1] in ANNOTATION_TENSORS
             else t for k, t in tensors.items()}
    meta = json.loads(json.dumps(meta))
    meta["annotation_names"], meta["annotation_dim"] = ["retired", name], 2
    for cam in meta["cameras"]:
        cam["annotation_dim"] = 2
    if not named:
        del meta["annotation_names"]
    return e, write_snapshot(tmp_path / "memory.safetensors", wider, meta)


def test_the_engine_restores_an_older_layout_keeping_the_file_where_a_part_is_dropped(tmp_path, caplog):
    """The toy encoder gives one column ("red toolbox"); a snapshot of an encoder that also gave "retired" before it
    is restored with its toolbox column where the encoder has it now, a warning, and the file as it was archived."""
    backend = toy_backend()
    e, path = older_snapshot(tmp_path, backend)
    name = e.memory.annotation_names[0]
    e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(path)))
    with caplog.at_level(logging.WARNING, logger="vstream_ros.engine.persistence"):
        status = e2.restore()
    assert status.startswith("restored 3 frames") and "1 parts this encoder no longer gives were dropped" in status
    assert any("laid out by an older encoder" in r.getMessage() for r in caplog.records)
    (kept,) = tmp_path.glob("memory.archive-*-relayout.safetensors")
    assert read_snapshot(kept)[1]["annotation_names"] == ["retired", name]
    mine = e.memory.state_dict()[0]
    restored = e2.memory.state_dict()[0]
    for k in mine:
        assert torch.equal(restored[k], mine[k]), k
    assert any(float(t.sum()) > 0 for k, t in restored.items() if k.endswith("run_mean"))   # toolboxes moved
    e2.save()
    assert read_snapshot(path)[1]["annotation_names"] == [name]


def test_a_part_is_never_dropped_without_a_copy_kept(tmp_path, monkeypatch):
    """No copy can be written (a full disk): the snapshot is set aside whole, as an unusable one is, not restored
    with a column lost."""
    backend = toy_backend()
    _, path = older_snapshot(tmp_path, backend)

    def full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vstream_ros.engine.persistence.shutil.copy2", full)
    e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(path)))
    status = e2.restore()
    assert status.startswith("ERROR") and "no copy could be kept" in status, status
    assert e2.memory.frames_seen == 0 and list(tmp_path.glob("memory.safetensors.rejected-*"))


def test_a_snapshot_without_names_takes_the_earlier_layout_of_its_size():
    """Written before snapshots named their columns: the encoder's earlier layout of the snapshot's size lays it
    out; with none of that size, or two, it is left as it is (and refused for its size, as before)."""
    tensors, meta = filled(OLD).state_dict()
    del meta["annotation_names"]
    wider = (*NEW, "w")
    moved_tensors, moved_meta, moved = relayout(tensors, meta, wider, history=[("z", "y"), OLD])
    assert moved.added == ("x", "w") and moved_meta["annotation_names"] == list(wider)
    assert relayout(tensors, meta, wider, history=[("z", "y")])[2] is None
    assert relayout(tensors, meta, wider, history=[OLD, ("p", "q", "r")])[2] is None
    assert relayout(tensors, meta, NEW, history=[OLD])[2] is None      # today's size: no layout is guessed


def test_lite_restores_a_memory_of_the_layout_before_any_box_colour():
    """lite's annotation before the twelfth session on issue #20 (commit 3825170): the same blocks, 2154 columns,
    without `any_box_colour`. Its snapshots named no columns; they restore with every column where it was and
    the new block zero."""
    classes = imagenet_classes()
    names, (before, *_) = LAYOUT.names(classes), LAYOUT.earlier(classes)
    assert len(before) == 2154 and len(names) == LAYOUT.size
    mc = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e", annotation_dim=len(before))
    mc.update("cam", torch.randn(2, 2, 8), 1.0, torch.arange(1.0, len(before) + 1)[None])   # column i holds i + 1
    tensors, meta = mc.state_dict()
    tensors, meta, moved = relayout(tensors, meta, names, LAYOUT.earlier(classes))
    assert moved.dropped == () and len(moved.added) == LAYOUT.size - len(before)
    back = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e", annotation_names=names)
    back.load_state_dict(tensors, meta)
    (run,) = [r for g in back.read().groups for r in g.runs]
    car = LAYOUT.coco_score.start + BOXED.index("car")
    assert run.mean[car] == car + 1 and run.mean[LAYOUT.band_colour.stop - 1] == LAYOUT.band_colour.stop
    assert not run.mean[LAYOUT.any_box_colour].any()


def test_the_engine_takes_the_encoders_earlier_layout_for_a_snapshot_that_names_no_columns(tmp_path):
    """The encoder's `annotation_history` (lite: its layout before any_box_colour) reaches the restore: without it
    the unnamed two-column snapshot is set aside for its size, with it restored."""
    backend = toy_backend()
    _, path = older_snapshot(tmp_path, backend, named=False)
    status = StreamEngine(backend, EngineConfig(snapshot_path=str(path))).restore()
    assert status.startswith("ERROR") and "annotation_dim" in status, status
    (aside,) = tmp_path.glob("memory.safetensors.rejected-*")
    aside.rename(path)
    backend.encoder.annotation_history = (("retired", LABEL),)
    e2 = StreamEngine(backend, EngineConfig(snapshot_path=str(path)))
    assert e2.restore().startswith("restored 3 frames") and e2.memory.frames_seen == 3
