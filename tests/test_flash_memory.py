"""The Flash Memory (Flash-VStream-Qwen's CSM + DAM) without a model: bounded, exact per-frame weighted
k-means, time order, key frames, windows, per-camera grids and its own snapshot format."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from vstream_ros.memory import FlashMemory, FlashMemoryConfig, MemoryConfig, MultiCameraMemory, SnapshotError
from vstream_ros.memory.flash_config import pack_frame_maps, unpack_frame_maps
from vstream_ros.memory.snapshot import FLASH_FORMAT, read_snapshot, write_snapshot

D = 8


def maps(n, h=8, w=8, seed=0, scenes=None, noise=0.05):
    """n frames as (full [n,h,w,D], synopsis [n,h/2,w/2,D]); with `scenes` (a scene id per frame) the frames
    of a scene are near copies of one random map."""
    g = torch.Generator().manual_seed(seed)
    if scenes is None:
        full = torch.randn(n, h, w, D, generator=g)
    else:
        base = torch.randn(max(scenes) + 1, h, w, D, generator=g)
        full = base[torch.tensor(scenes)] + noise * torch.randn(n, h, w, D, generator=g)
    synopsis = F.avg_pool2d(full.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    return full, synopsis


def packed(n, **kw):
    return pack_frame_maps(*maps(n, **kw))


def memory(K=4, R=2, grid=(8, 8), **kw):
    cfg = FlashMemoryConfig(temporal_slots=K, retrieved_frames=R, **kw)
    return FlashMemory(cfg, D, cfg.packed_grid(grid))


def test_pack_and_unpack_are_inverse_and_bad_grids_are_named():
    full, syn = maps(3, h=12, w=8)
    x = pack_frame_maps(full, syn)
    cfg = FlashMemoryConfig()
    assert tuple(x.shape) == (3, 15, 8, D) and cfg.packed_grid((12, 8)) == (15, 8)
    f2, s2 = unpack_frame_maps(x, cfg)
    assert torch.equal(f2, full) and torch.equal(s2, syn)
    assert cfg.frame_maps((40, 32)) == ((32, 32), (16, 16))      # 448x448 in Qwen2-VL patches
    for bad in ((16, 16), (15, 7), (0, 8)):
        with pytest.raises(ValueError, match="synopsis"):
            cfg.frame_maps(bad)


def test_bounded_whatever_the_frames_seen():
    m = memory(K=5, R=3)
    m.update(packed(5, seed=1), [float(i) for i in range(5)])
    size = m.nbytes()
    for k in range(6):
        m.update(packed(40, seed=2 + k), [5.0 + 40 * k + i for i in range(40)])
        assert m.nbytes() == size
        r = m.read()
        assert r.num_tokens == 5 * 16 + 3 * 64                 # K synopsis maps + R full maps
        assert sum(g.weight for g in r.groups if g.kind == "temporal") == m.frames_seen
    assert m.tokens_by_kind() == {"abstract": 0, "temporal": 80, "retrieved": 192, "spatial": 0}


def test_each_frame_merges_the_pair_of_least_weighted_k_means_cost():
    """K+1 weighted points into K clusters: the memory's choice is the brute-force optimum of upstream's
    weighted k-means objective (the sum over clusters of weighted squared distances to the weighted mean)."""
    K = 4
    m = memory(K=K, R=1)
    full, syn = maps(12, seed=3)
    x = pack_frame_maps(full, syn)
    for f in range(12):
        before = m.read()
        pts = [(g.weight, before.group_tokens(g).double().reshape(-1)) for g in before.groups if g.kind == "temporal"]
        m.update(x[f], float(f))
        if len(pts) < K:
            continue
        pts.append((1.0, syn[f].double().reshape(-1)))

        def cost(pair, pts=pts):
            (wi, xi), (wj, xj) = pts[pair[0]], pts[pair[1]]
            return wi * wj / (wi + wj) * float(((xi - xj) ** 2).sum())
        i, j = min(itertools.combinations(range(K + 1), 2), key=cost)
        (wi, xi), (wj, xj) = pts[i], pts[j]
        merged = (wi + wj, (wi * xi + wj * xj) / (wi + wj))
        expected = sorted([p for k, p in enumerate(pts) if k not in (i, j)] + [merged], key=lambda p: p[0])
        after = m.read()
        got = sorted(((g.weight, after.group_tokens(g).double().reshape(-1)) for g in after.groups
                      if g.kind == "temporal"), key=lambda p: p[0])
        assert [w for w, _ in got] == [w for w, _ in expected]
        for (_, a), (_, b) in zip(sorted(got, key=lambda p: float(p[1].sum())),
                                  sorted(expected, key=lambda p: float(p[1].sum())), strict=True):
            assert torch.allclose(a, b, atol=1e-4)


def test_scenes_become_slots_in_time_order_with_weighted_stamps_and_runs():
    scenes = [0] * 6 + [1] * 4 + [2] * 5 + [0] * 3          # scene 0 comes back at the end
    stamps = [10.0 + i for i in range(len(scenes))]
    m = memory(K=3, R=3)
    m.update(packed(len(scenes), scenes=scenes, seed=4), stamps)
    temporal = [g for g in m.read().groups if g.kind == "temporal"]
    assert [g.stamp for g in temporal] == sorted(g.stamp for g in temporal)
    by_weight = {g.weight: g for g in temporal}
    assert set(by_weight) == {9.0, 4.0, 5.0}
    zero = by_weight[9.0]
    members = [s for s, c in zip(stamps, scenes, strict=True) if c == 0]
    assert zero.stamp == pytest.approx(sum(members) / len(members))       # frame-weighted mean stamp
    # two runs: no claim of presence over the gap between them
    assert [(r.start, r.end, r.frames) for r in zero.runs] == [(10.0, 15.0, 6), (25.0, 27.0, 3)]
    assert (zero.start, zero.end) == (10.0, 27.0)


def test_key_frames_are_real_full_maps_of_the_heaviest_slots_heaviest_first():
    scenes = [0] * 7 + [1] * 2 + [2] * 4
    full, syn = maps(len(scenes), scenes=scenes, seed=5)
    m = memory(K=3, R=2)
    m.update(pack_frame_maps(full, syn), [float(i) for i in range(len(scenes))])
    r = m.read()
    kinds = [g.kind for g in r.groups]
    assert kinds == ["retrieved"] * 2 + ["temporal"] * 3            # DAM then CSM, upstream's order
    keys = [g for g in r.groups if g.kind == "retrieved"]
    assert [g.weight for g in keys] == [7.0, 4.0]
    for g in keys:
        frame = int(g.stamp)
        assert g.grid == (8, 8) and g.length == 64
        assert torch.equal(r.group_tokens(g), full[frame].reshape(64, D))   # a real frame, untouched
        assert scenes[frame] == (0 if g.weight == 7.0 else 2)              # a member of its slot
    assert all(g.grid == (4, 4) for g in r.groups if g.kind == "temporal")


def test_ties_in_weight_go_to_the_oldest_frames_in_time_order():
    """Upstream's stable argsort of equal weights over time-sorted centroids (was: newest first)."""
    m = memory(K=6, R=2)
    m.update(packed(4, seed=6), [1.0, 2.0, 3.0, 4.0])
    assert [g.stamp for g in m.read().groups if g.kind == "retrieved"] == [1.0, 2.0]


def test_window_reads_keep_what_meets_the_window():
    scenes = [0] * 5 + [1] * 5 + [2] * 5
    m = memory(K=3, R=3)
    m.update(packed(15, scenes=scenes, seed=7), [float(i) for i in range(15)])
    r = m.read(window=(5.5, 8.0))
    temporal = [g for g in r.groups if g.kind == "temporal"]
    assert len(temporal) == 1 and (temporal[0].start, temporal[0].end) == (5.0, 9.0)
    assert all(5.5 <= g.stamp <= 8.0 for g in r.groups if g.kind == "retrieved")
    assert m.read(window=(100.0, 200.0)).num_tokens == 0
    with pytest.raises(ValueError):
        m.read(window=(2.0, 1.0))


def test_the_grid_is_the_cameras_and_a_new_size_is_refused_until_reset():
    m = memory(grid=(8, 8))
    m.update(packed(2, h=12, w=16), [1.0, 2.0])           # an empty memory takes its first frame's grid
    assert m.grid == (15, 16) and m.full_map == (12, 16) and m.synopsis_map == (6, 8)
    before = m.read()
    with pytest.raises(ValueError, match="changed resolution"):
        m.update(packed(1, h=8, w=8), 3.0)
    with pytest.raises(ValueError, match="goes back"):
        m.update(packed(1, h=12, w=16), 0.5)
    after = m.read()
    assert m.frames_seen == 2 and torch.equal(after.tokens, before.tokens)
    m.reset()
    m.update(packed(1, h=8, w=8), 3.0)
    assert m.grid == (10, 8)


def test_multi_camera_memory_builds_the_flash_memory_for_its_config():
    cfg = FlashMemoryConfig(temporal_slots=4, retrieved_frames=2)
    mm = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)))
    mm.update("front", packed(3), [1.0, 2.0, 3.0])
    assert mm.kind.name == "flash" and isinstance(mm._memories["front"], FlashMemory)
    assert MultiCameraMemory(MemoryConfig(), D, (8, 8)).kind.name == "star"
    with pytest.raises(TypeError, match="no memory takes"):
        MultiCameraMemory(object(), D, (8, 8))


def test_snapshot_round_trip_per_camera_grids_and_identical_continuation(tmp_path):
    cfg = FlashMemoryConfig(temporal_slots=4, retrieved_frames=2)
    a = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    a.update("wide", packed(9, h=8, w=16, seed=8), [float(i) for i in range(9)])
    a.update("square", packed(6, seed=9), [float(i) for i in range(6)])
    path = tmp_path / "flash.safetensors"
    a.save(path)
    assert read_snapshot(path)[1]["format"] == FLASH_FORMAT
    b = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    b.load(path)
    ra, rb = a.read(), b.read()
    assert torch.equal(ra.tokens, rb.tokens) and ra.groups == rb.groups
    more = packed(5, h=8, w=16, seed=10)
    for m in (a, b):
        m.update("wide", more, [10.0 + i for i in range(5)])
    assert torch.equal(a.read(["wide"]).tokens, b.read(["wide"]).tokens)
    assert b.summary("wide").frames_seen == 14 and b.frame_interval() == 1.0


def test_snapshots_of_another_memory_or_model_are_refused_and_nothing_changes(tmp_path):
    cfg = FlashMemoryConfig(temporal_slots=4, retrieved_frames=2)
    flash = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    flash.update("cam", packed(5), [float(i) for i in range(5)])
    flash.save(tmp_path / "flash.safetensors")
    star = MultiCameraMemory(MemoryConfig(), D, (8, 8), encoder_id="enc")
    star.update("cam", torch.randn(2, 8, 8, D), [1.0, 2.0])
    star.save(tmp_path / "star.safetensors")

    with pytest.raises(SnapshotError, match="flash_memory memory"):
        star.load(tmp_path / "flash.safetensors")
    assert star.frames_seen == 2
    before = flash.read()
    with pytest.raises(SnapshotError, match="star_memory"):
        flash.load(tmp_path / "star.safetensors")
    other = MultiCameraMemory(FlashMemoryConfig(temporal_slots=5, retrieved_frames=2), D, cfg.packed_grid((8, 8)),
                              encoder_id="enc")
    with pytest.raises(SnapshotError, match="config"):
        other.load(tmp_path / "flash.safetensors")
    tensors, meta = flash.state_dict()
    with pytest.raises(SnapshotError, match="rep_full"):
        flash.load_state_dict({k: v for k, v in tensors.items() if not k.endswith("rep_full")}, meta)
    with pytest.raises(SnapshotError, match="grid"):
        flash.load_state_dict(tensors, {**meta, "cameras": [{**meta["cameras"][0], "grid": [16, 16]}]})
    assert torch.equal(flash.read().tokens, before.tokens) and flash.frames_seen == 5
    single = FlashMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    single.load_state_dict(tensors={k[2:]: v for k, v in tensors.items()}, meta=meta["cameras"][0])
    assert single.frames_seen == 5 and not math.isnan(single.read().tokens.sum())


# ------------------------------------------------------------ frame pairs
def test_a_lone_frame_and_the_next_become_one_token_in_the_streams_first_frames():
    """The stream's first 2K frames (upstream's first clip: 120 frames for K = 60) are tokens of two frames: a
    lone frame is kept as its own token, open to pairing, until the next one replaces it with the pair's."""
    m = memory(K=4, R=2)
    assert m.paired_frames == 8
    x = packed(12, seed=11)
    m.update(x[0], 10.0)
    assert m.pair_open and m.read().num_tokens == 16 + 64
    m.pair_last(x[1], 10.5)
    assert not m.pair_open and m.frames_seen == 2 and m.frame_interval == 0.5
    r = m.read()
    (key,) = [g for g in r.groups if g.kind == "retrieved"]
    (slot,) = [g for g in r.groups if g.kind == "temporal"]
    assert (key.start, key.end, key.stamp, key.weight) == (10.0, 10.5, 10.25, 1.0)     # one token: weight 1
    assert (slot.start, slot.end, slot.stamp) == (10.0, 10.5, 10.25)
    assert [(u.start, u.end, u.frames) for u in slot.runs] == [(10.0, 10.5, 2)] == [
        (u.start, u.end, u.frames) for u in key.runs]
    assert torch.equal(r.group_tokens(key), unpack_frame_maps(x[1:2], m.config)[0].reshape(64, D))
    with pytest.raises(ValueError, match="open to pairing"):
        m.pair_last(x[2], 11.0)
    assert m.frames_seen == 2 and torch.equal(m.read().tokens, r.tokens)
    for f in range(2, 8, 2):                          # frames 2..7: three more pairs, the CSM's 4 slots full
        m.update(x[f], 10.0 + f / 2)
        m.pair_last(x[f + 1], 10.5 + f / 2)
    assert m._filled == 4 and m.frames_seen == 8
    m.update(x[8], 14.0)                              # frame 8 and after: each its own (tiled) token
    assert not m.pair_open and m.frames_seen == 9
    temporal = [g for g in m.read().groups if g.kind == "temporal"]
    assert sum(g.weight for g in temporal) == 5 and sum(u.frames for g in temporal for u in g.runs) == 9


def test_a_frame_merged_on_arrival_or_past_the_first_frames_is_never_open():
    m = memory(K=4, R=2)
    x = packed(10, seed=12)
    m.update(x[:6], [float(i) for i in range(6)])     # six single tokens: merges from the fifth on
    assert not m.pair_open
    m2 = memory(K=4, R=2)
    m2.update(x[:3], [1.0, 3.0, 4.0], firsts=[0.0, 2.0, 4.0])   # two pairs, then a lone frame: index 4 < 7
    assert m2.pair_open and m2.frames_seen == 5
    m2.update(x[3], 5.0)                              # frame 5 alone, not paired: 6 < 7 opens it instead
    assert m2.pair_open
    m2.update(x[4], 6.0)                              # frame 6: tokens 5 > K, merged on arrival
    assert not m2.pair_open
    m3 = memory(K=4, R=2)
    m3.update(x[:4], [1.0, 3.0, 5.0, 6.0], firsts=[0.0, 2.0, 4.0, 6.0])   # frame 6 alone, its partner the 8th
    assert m3.frames_seen == 7 and m3.pair_open
    m3.update(x[4], 7.0)                              # the 8th frame alone: a fifth token, merged on arrival
    assert m3.frames_seen == 8 and not m3.pair_open


def test_a_stream_paired_frame_by_frame_is_the_clip_encoded_at_once():
    x = packed(7, seed=13)
    clip = memory(K=4, R=4)
    clip.update(x[:4], [1.0, 3.0, 5.0, 6.0], firsts=[0.0, 2.0, 4.0, 6.0])
    stream = memory(K=4, R=4)
    for k in range(4):
        stream.update(x[k], 2.0 * k)
        if k < 3:
            stream.pair_last(x[k], 2.0 * k + 1)
    a, b = clip.read(), stream.read()
    assert a.groups == b.groups and torch.allclose(a.tokens, b.tokens)
    assert [(g.start, g.end) for g in a.groups if g.kind == "temporal"] == [(0, 1), (2, 3), (4, 5), (6, 6)]
    assert clip.frames_seen == stream.frames_seen == 7
    with pytest.raises(ValueError, match="first frame"):
        memory().update(x[:2], [1.0, 3.0], firsts=[0.0, 3.5])


def test_an_open_pair_survives_a_snapshot_and_a_version_1_snapshot_loads_as_single_frames(tmp_path):
    cfg = FlashMemoryConfig(temporal_slots=4, retrieved_frames=2)
    x = packed(6, seed=14)
    a = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    a.update("cam", x[0], 0.0)
    a.pair_last("cam", x[1], 1.0)
    a.update("cam", x[2], 2.0)
    assert a.pair_open("cam")
    a.save(tmp_path / "open.safetensors")
    b = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    b.load(tmp_path / "open.safetensors")
    assert b.pair_open("cam")
    for m in (a, b):
        m.pair_last("cam", x[3], 3.0)
    assert a.read().groups == b.read().groups and torch.equal(a.read().tokens, b.read().tokens)
    # a file written before pairs (format version 1): no rep_first, no open slot; every token one frame
    old = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    old.update("cam", x, [float(i) for i in range(6)])
    tensors, meta = old.state_dict()
    state = {k: v for k, v in meta["cameras"][0]["state"].items() if k != "open"}
    meta = {**meta, "version": 1, "cameras": [{**meta["cameras"][0], "state": state}]}
    write_snapshot(tmp_path / "v1.safetensors", {k: v for k, v in tensors.items() if "rep_first" not in k}, meta)
    assert read_snapshot(tmp_path / "v1.safetensors")[1]["version"] == 1
    new = MultiCameraMemory(cfg, D, cfg.packed_grid((8, 8)), encoder_id="enc")
    new.load(tmp_path / "v1.safetensors")
    assert new.read().groups == old.read().groups and torch.equal(new.read().tokens, old.read().tokens)
    assert not new.pair_open("cam")
