"""STAR memory: the clustering is the optimum it claims, the memory stays bounded, reads cite time."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vstream_ros.memory import MemoryConfig, MultiCameraMemory, SnapshotError, STARMemory
from vstream_ros.memory.snapshot import write_snapshot

CLIP_GRID = (16, 16)


def temporal_points(m: STARMemory) -> tuple[torch.Tensor, torch.Tensor]:
    """The filled temporal slots as absolute vectors and their weights."""
    n = m.tokens_by_kind()["temporal"] // (m._th * m._tw)
    return (m._t["centroid"][:n] + m._t["origin"]).double(), m._t["weight"][:n].double()


def brute_force_sse(points, weights, k):
    """Least weighted SSE over every assignment of the points to k labels (k ** n of them)."""
    n = points.shape[0]
    labels = torch.tensor(list(itertools.product(range(k), repeat=n)))          # [A, n]
    onehot = torch.nn.functional.one_hot(labels, k).double() * weights[None, :, None]   # [A, n, k]
    w_c = onehot.sum(1)                                                            # [A, k]
    s_c = onehot.transpose(1, 2) @ points                                          # [A, k, d]
    explained = ((s_c ** 2).sum(-1) / w_c.clamp_min(1e-300)).sum(-1)
    return float((weights * (points ** 2).sum(1)).sum() - explained.max())


@pytest.mark.parametrize("seed", range(8))
def test_ward_merge_is_the_weighted_kmeans_optimum(seed):
    """K+1 weighted points into K clusters: the memory's result has the least possible weighted SSE,
    found here by brute force over every assignment of the points to K labels."""
    g = torch.Generator().manual_seed(seed)
    K = 4
    m = STARMemory(MemoryConfig(temporal_slots=K, temporal_size=1, spatial_size=1, abstract_slots=2,
                                retrieved_frames=1), dim=3, grid=(1, 1))
    stamp = 0.0
    for _ in range(6 + seed):   # build unequal weights first
        prev = torch.randn(1, 1, 3, generator=g) * 3
        m.update(prev, stamp)
        stamp += 1
    for _ in range(5):
        old_p, old_w = temporal_points(m)
        x = torch.randn(1, 1, 3, generator=g) * 3
        m.update(x, stamp)      # x takes the spatial memory; the frame it replaces joins T
        stamp += 1
        pts = torch.cat([old_p, prev.reshape(1, 3).double()])
        prev = x
        wts = torch.cat([old_w, torch.ones(1, dtype=torch.float64)])
        best = brute_force_sse(pts, wts, K)
        new_p, new_w = temporal_points(m)
        # SSE of the points around the memory's centroids (each point to its nearest centroid)
        d2 = ((pts[:, None] - new_p[None]) ** 2).sum(-1).min(1).values
        ours = float((wts * d2).sum())
        assert ours == pytest.approx(best, rel=1e-4, abs=1e-6)
        assert float(new_w.sum()) == float(wts.sum())


@pytest.mark.slow   # several seconds: the full tier only
def test_invariants_over_a_long_random_stream():
    cfg = MemoryConfig()
    m = STARMemory(cfg, dim=32, grid=CLIP_GRID)
    g = torch.Generator().manual_seed(1)
    bytes0 = m.nbytes()
    stamps_fed, t = [], 100.0
    full_tokens = None
    for step in range(120):
        b = 1 + step % 7
        ts = [t + 0.5 * i for i in range(b)]
        t = ts[-1] + 0.25
        stamps_fed += ts
        drift = torch.randn(1, 1, 1, 32, generator=g) * (step // 20)
        m.update(torch.randn(b, *CLIP_GRID, 32, generator=g) + drift, ts)
        assert m.nbytes() == bytes0
        w = m._t["weight"][: cfg.temporal_slots].sum()
        # every frame but the newest (it is in S only, as in training) is in T
        assert float(w) == m.frames_seen - 1 == len(stamps_fed) - 1
        r = m.read()
        if m.frames_seen > cfg.temporal_slots:
            full_tokens = full_tokens or r.num_tokens
            assert r.num_tokens == full_tokens == cfg.full_tokens(CLIP_GRID) == 681
        assert r.tokens_by_kind() == m.tokens_by_kind()
    r = m.read()
    kinds = [g.kind for g in r.groups]
    assert kinds == ["abstract"] + ["temporal"] * 25 + ["retrieved"] * 3 + ["spatial"]
    lo, hi = stamps_fed[0], stamps_fed[-1]
    temporal = [g for g in r.groups if g.kind == "temporal"]
    assert [g.stamp for g in temporal] == sorted(g.stamp for g in temporal)
    for g in r.groups:
        assert lo <= g.start <= g.stamp <= g.end <= hi
    for g in r.groups:
        if g.kind == "retrieved":
            assert g.start in stamps_fed      # a real frame, not an average
    assert sum(g.weight for g in temporal) == len(stamps_fed) - 1
    assert r.groups[-1].stamp == stamps_fed[-1]   # spatial memory is the newest frame
    assert max(g.end for g in r.groups if g.kind != "spatial") == stamps_fed[-2]
    assert r.tokens.shape == (681, 32) and torch.isfinite(r.tokens).all()
    offsets = [g.offset for g in r.groups]
    assert offsets == sorted(offsets) and r.groups[-1].offset + r.groups[-1].length == 681


def _scenes(lengths, dim=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(len(lengths), 4, 4, dim, generator=g) * 3
    t, bounds, chunks = 0.0, [], []
    for s, n in enumerate(lengths):
        bounds.append((t, t + n - 1))
        chunks.append((means[s] + 0.5 * torch.randn(n, 4, 4, dim, generator=g), [t + i for i in range(n)]))
        t += n
    return bounds, chunks


def _scene_of(bounds, stamp):
    return next(i for i, (a, b) in enumerate(bounds) if a <= stamp <= b)


@pytest.mark.slow   # several seconds: the full tier only
@pytest.mark.parametrize("lengths", [[300] * 6, [150, 300, 120, 450, 200, 600]])
def test_distinct_scenes_get_their_own_slots(lengths):
    bounds, chunks = _scenes(lengths)
    m = STARMemory(MemoryConfig(), dim=64, grid=(4, 4))
    for x, ts in chunks:
        for i in range(0, len(ts), 50):
            m.update(x[i: i + 50], ts[i: i + 50])
    r = m.read()
    temporal = [g for g in r.groups if g.kind == "temporal"]
    covered = set()
    for g in temporal:
        scene = _scene_of(bounds, g.start)
        assert _scene_of(bounds, g.end) == scene, f"slot {g} mixes scenes"
        covered.add(scene)
    assert covered == set(range(len(lengths))), "a scene was lost"
    if len(set(lengths)) > 1:
        # The first scene seeds all K slots and keeps its noise-level splits (every within-scene
        # merge costs about sigma^2 * d under Ward); the later long scenes end as whole, heavy slots,
        # and the key frames come from them.
        longest = sorted(range(1, len(lengths)), key=lambda s: -lengths[s])[:3]
        key = [_scene_of(bounds, g.start) for g in r.groups if g.kind == "retrieved"]
        assert sorted(key) == sorted(longest)


def test_stamps_going_back_are_refused_and_change_nothing():
    m = STARMemory(MemoryConfig(), dim=8, grid=(2, 2))
    m.update(torch.randn(3, 2, 2, 8), [1.0, 2.0, 3.0])
    before = m.state_dict()
    with pytest.raises(ValueError, match="goes back"):
        m.update(torch.randn(2, 2, 8), 2.5)
    with pytest.raises(ValueError, match="goes back"):
        m.update(torch.randn(2, 2, 2, 8), [4.0, 3.5])
    with pytest.raises(ValueError, match="finite"):
        m.update(torch.randn(2, 2, 8), math.nan)
    with pytest.raises(ValueError, match="features must be"):
        m.update(torch.randn(3, 3, 8), 5.0)
    after = m.state_dict()
    assert before[1] == after[1]
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    m.update(torch.randn(2, 2, 8), 3.0)   # equal stamps are fine
    m.reset()
    m.update(torch.randn(2, 2, 8), 0.5)   # after a reset the stream starts again
    assert m.frames_seen == 1 and m.stamp_range() == (0.5, 0.5)


def test_window_read_restricts_to_slots_meeting_the_window():
    bounds, chunks = _scenes([40, 40, 40])
    m = STARMemory(MemoryConfig(temporal_slots=6, retrieved_frames=2), dim=64, grid=(4, 4))
    for x, ts in chunks:
        m.update(x, ts)
    r = m.read(window=(45.0, 70.0))
    assert r.groups and all(g.kind != "abstract" for g in r.groups)
    for g in r.groups:
        assert g.end >= 45.0 and g.start <= 70.0
        assert _scene_of(bounds, g.start) == 1
    assert m.read(window=(45.0, 70.0), include_abstract=True).groups[0].kind == "abstract"
    assert m.read(window=(500.0, 600.0)).num_tokens == 0
    with pytest.raises(ValueError):
        m.read(window=(5.0, 1.0))


def test_abstract_memory_uses_projections_once_per_buffer():
    cfg = MemoryConfig(abstract_slots=4, abstract_update_ratio=0.5)
    g = torch.Generator().manual_seed(3)
    frames = torch.randn(12, 2, 2, 6, generator=g)
    q, k = nn.Linear(6, 3), nn.Linear(6, 3)
    m = STARMemory(cfg, dim=6, grid=(2, 2))
    m.set_abstract_projections(q, k)
    tokens = frames.mean(dim=(1, 2))

    def blend(A, E):
        with torch.no_grad():
            attn = torch.softmax(q(A) @ k(E).T / math.sqrt(3), dim=-1)
        return 0.5 * A + 0.5 * attn @ E

    for i in range(8):          # frames 0..6 reach A (the newest, 7, is in S only)
        m.update(frames[i], float(i))
    # 4 frames fill the slots; 3 more wait in the buffer: the committed A has not changed yet...
    assert torch.allclose(m._t["abstract"], tokens[:4])
    # ...and a read blends them into a copy, as the offline computation would (a partial chunk)
    assert torch.allclose(m.read().tokens[:4], blend(tokens[:4], tokens[4:7]), atol=1e-6)
    assert torch.allclose(m._t["abstract"], tokens[:4])
    m.update(frames[8], 8.0)    # frame 7 completes the buffer: one committed update
    A, E = tokens[:4], tokens[4:8]
    assert torch.allclose(m._t["abstract"], blend(A, E), atol=1e-6)
    assert torch.allclose(m.read().tokens[:4], blend(A, E), atol=1e-6)
    abstract = m.read().groups[0]
    assert (abstract.start, abstract.end, abstract.weight) == (0.0, 7.0, 8)
    with pytest.raises(ValueError):
        m.set_abstract_projections(nn.Linear(5, 3), nn.Linear(5, 3))


def test_efficientnet_grid_adapts_pool_sizes():
    m = STARMemory(MemoryConfig(), dim=16, grid=(7, 7))
    for i in range(30):
        m.update(torch.randn(7, 7, 16), float(i))
    kinds = m.read().tokens_by_kind()
    assert kinds == {"abstract": 25, "temporal": 25 * 16, "retrieved": 3 * 49, "spatial": 49}


def test_multi_camera_read_names_cameras_in_order():
    mc = MultiCameraMemory(MemoryConfig(temporal_slots=3, abstract_slots=2, retrieved_frames=1), 8, (2, 2))
    for i in range(5):
        mc.update("rear", torch.randn(2, 2, 8), float(i))
        mc.update("front", torch.randn(2, 2, 8), float(i) + 0.5)
    assert mc.cameras == ["front", "rear"] and mc.frames_seen == 10
    r = mc.read()
    cams = [g.camera for g in r.groups]
    assert cams == sorted(cams) and set(cams) == {"front", "rear"}
    r2 = mc.read(cameras=["rear"], window=(1.0, 2.0))
    assert {g.camera for g in r2.groups} == {"rear"}
    assert all(g.end >= 1.0 and g.start <= 2.0 for g in r2.groups)
    with pytest.raises(KeyError):
        mc.read(cameras=["left"])
    mc.reset("rear")
    assert mc.camera_frames("rear") == 0 and mc.camera_frames("front") == 5


# ---------------------------------------------------------------- snapshots
def _filled_memory(encoder_id="enc-a", seed=0):
    g = torch.Generator().manual_seed(seed)
    m = STARMemory(MemoryConfig(temporal_slots=5, abstract_slots=3), dim=8, grid=(4, 4), encoder_id=encoder_id)
    for i in range(23):
        m.update(torch.randn(4, 4, 8, generator=g), float(i))
    return m


def test_snapshot_round_trip_is_bit_exact_and_continues_identically(tmp_path):
    a = _filled_memory()
    path = tmp_path / "mem.safetensors"
    a.save(path)
    b = STARMemory(a.config, a.dim, a.grid, encoder_id="enc-a")
    b.load(path)
    ta, ma = a.state_dict()
    tb, mb = b.state_dict()
    assert ma == mb
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
    g = torch.Generator().manual_seed(9)
    more = torch.randn(9, 4, 4, 8, generator=g)
    a.update(more, [30.0 + i for i in range(9)])
    b.update(more, [30.0 + i for i in range(9)])
    ra, rb = a.read(), b.read()
    assert torch.equal(ra.tokens, rb.tokens) and ra.groups == rb.groups
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_multi_camera_snapshot_round_trip(tmp_path):
    mc = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e")
    for i in range(6):
        mc.update("cam/a", torch.randn(2, 2, 8), float(i))
        mc.update("b", torch.randn(2, 2, 8), float(i))
    mc.save(tmp_path / "m.safetensors")
    back = MultiCameraMemory(MemoryConfig(temporal_slots=3), 8, (2, 2), encoder_id="e")
    back.load(tmp_path / "m.safetensors")
    assert back.cameras == ["b", "cam/a"]
    assert torch.equal(back.read().tokens, mc.read().tokens)


def _refusals(tmp_path):
    good = _filled_memory()
    path = tmp_path / "good.safetensors"
    good.save(path)
    raw = path.read_bytes()

    def write(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        return p

    tensors, meta = good.state_dict()
    cases = {
        "truncated": write("trunc", raw[: len(raw) // 2]),
        "garbage": write("garbage", b"\x00" * 64),
        "flipped header": write("flip", raw[:8] + raw[8:40].replace(b"{", b"[") + raw[40:]),
        "missing": tmp_path / "absent.safetensors",
        "version": write_snapshot(tmp_path / "v", tensors, {**meta, "version": 99}),
        "not ours": write_snapshot(tmp_path / "other", tensors, {**meta, "format": "something"}),
        "missing tensor": write_snapshot(tmp_path / "mt", {k: v for k, v in tensors.items() if k != "gram"}, meta),
        "bad shape": write_snapshot(tmp_path / "bs", {**tensors, "gram": torch.zeros(2, 2)}, meta),
        "no state": write_snapshot(tmp_path / "ns", tensors, {k: v for k, v in meta.items() if k != "state"}),
    }
    return good, cases


@pytest.mark.parametrize("case", ["truncated", "garbage", "flipped header", "missing", "version", "not ours",
                                  "missing tensor", "bad shape", "no state"])
def test_unusable_snapshot_is_refused_and_memory_unchanged(tmp_path, case):
    _, cases = _refusals(tmp_path)
    m = _filled_memory(seed=5)
    before = m.read()
    with pytest.raises(SnapshotError):
        m.load(cases[case])
    after = m.read()
    assert torch.equal(before.tokens, after.tokens) and m.frames_seen == before.frames_seen


@pytest.mark.parametrize("other", [
    dict(encoder_id="enc-b"),
    dict(config=MemoryConfig(temporal_slots=6, abstract_slots=3)),
    dict(dim=16),
    dict(grid=(2, 2)),
])
def test_snapshot_of_another_encoder_or_config_is_refused(tmp_path, other):
    good = _filled_memory()
    good.save(tmp_path / "m")
    kw = dict(config=good.config, dim=8, grid=(4, 4), encoder_id="enc-a") | other
    m = STARMemory(kw["config"], kw["dim"], kw["grid"], encoder_id=kw["encoder_id"])
    with pytest.raises(SnapshotError, match=next(iter(other))):
        m.load(tmp_path / "m")
    assert m.frames_seen == 0


def test_no_pickle_in_snapshot(tmp_path):
    _filled_memory().save(tmp_path / "m")
    data = (tmp_path / "m").read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    assert data[8:9] == b"{" and b"\x80\x04" not in data[: 8 + header_len]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_update_matches_cpu():
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(60, *CLIP_GRID, 64, generator=g)
    cpu, gpu = (STARMemory(MemoryConfig(), 64, CLIP_GRID, device=d) for d in ("cpu", "cuda"))
    on_gpu = frames.cuda()
    for i in range(60):
        cpu.update(frames[i], float(i))
        torch.cuda.set_sync_debug_mode("error")    # any host-device sync inside update() raises
        try:
            gpu.update(on_gpu[i], float(i))
        finally:
            torch.cuda.set_sync_debug_mode("default")
    rc, rg = cpu.read(), gpu.read()
    assert [g.start for g in rc.groups] == [g.start for g in rg.groups]
    assert torch.allclose(rc.tokens, rg.tokens.cpu(), atol=1e-4)


# -------------------------------------------------------------------- runs
def _runs_stream(order, runs_per_slot=8, slots=3):
    """Scenes by index, one frame a second; each frame's annotation is its scene as a one-hot vector."""
    g = torch.Generator().manual_seed(3)
    scenes = [torch.randn(2, 2, 8, generator=g) * 4 for _ in range(max(order) + 1)]
    m = STARMemory(MemoryConfig(temporal_slots=slots, abstract_slots=2, retrieved_frames=1,
                                runs_per_slot=runs_per_slot), 8, (2, 2), annotation_dim=max(order) + 1)
    for t, k in enumerate(order):
        ann = torch.zeros(1, max(order) + 1)
        ann[0, k] = 1.0
        m.update(scenes[k] + 0.01 * torch.randn(2, 2, 8, generator=g), float(t), ann)
    return m


def test_runs_keep_a_slots_visits_apart_and_say_what_was_seen():
    m = _runs_stream([0] * 5 + [1] * 5 + [0] * 5 + [2] * 5)
    temporal = [g for g in m.read().groups if g.kind == "temporal"]
    scene0 = [g for g in temporal if g.runs and g.runs[0].mean.argmax() == 0]
    assert len(scene0) == 1
    runs = [(r.start, r.end, r.frames) for r in scene0[0].runs]
    assert runs == [(0.0, 4.0, 5), (10.0, 14.0, 5)], runs          # two visits, not one span 0-14
    for g in temporal:
        for r in g.runs:
            assert np.allclose(r.mean, r.peak) and r.mean.sum() == pytest.approx(1.0)


def test_runs_over_capacity_drop_the_smallest_inner_visit_never_the_first_or_last():
    # scene 0 visited four times (2, 1, 3, 2 frames) between other scenes; room for 3 runs
    order = [0, 0, 1, 1, 0, 2, 2, 0, 0, 0, 1, 1, 0, 0]
    m = _runs_stream(order, runs_per_slot=3, slots=3)
    (g0,) = [g for g in m.read().groups if g.kind == "temporal" and g.runs[0].mean.argmax() == 0]
    runs = [(r.start, r.end) for r in g0.runs]
    assert runs == [(0.0, 1.0), (7.0, 9.0), (12.0, 12.0)], runs       # the one-frame visit at 4 s went
    assert g0.weight == 7                                              # the slot still counts every frame


# ------------------------------------------------- R as upstream indexes it
def upstream_key_memory(img_feature, long_memory, weight, key_length=3):
    """Flash-VStream-LLaVA/flash_vstream/model/vstream_arch.py L261-268 (IVGSZ/Flash-VStream 8f6bde2),
    transcribed: the cluster weights' argsort used as indices into the *frames* (argsort made stable, as
    CUDA's is for these sizes). Returns (key_memory, min_indices)."""
    sorted_indices = torch.argsort(weight, descending=True, stable=True)  # [L_long]
    key_centroids = long_memory[sorted_indices]  # [L_long, P'*P', D]
    if key_centroids.shape[0] > key_length:
        key_centroids = key_centroids[:key_length]
    dists = ((long_memory.unsqueeze(1) - key_centroids.unsqueeze(0)) ** 2).sum(dim=3).sum(dim=2).sqrt()
    min_indices = torch.argmin(dists, dim=0)  # [k_L]
    return img_feature[min_indices], min_indices


def _cluster_stream(n, seed=3):
    """n frames of 8x8 maps in scenes of unequal length (so that slot weights differ)."""
    lengths = [7, 2, 11, 3, 9, 5, 14, 4][: max(1, n // 6)]
    g = torch.Generator().manual_seed(seed)
    scene = torch.tensor([s for s, k in enumerate(lengths) for _ in range(k)] * n)[:n]
    return torch.randn(len(lengths), 8, 8, 16, generator=g)[scene] + 0.3 * torch.randn(n, 8, 8, 16, generator=g)


def test_cluster_id_retrieval_is_upstreams_indexing_of_frames_by_cluster_id(tmp_path):
    """retrieval="cluster_id": R is what upstream's code computes from our T read as its clusters (T in read
    order, their weights): the frames at the heaviest clusters' ids, so always among the first K that joined
    T; the default keeps the heaviest slots' representatives. Up to K frames in T both are frames 0, 1, 2."""
    K, n = 6, 40
    x = _cluster_stream(n)
    cfg = MemoryConfig(temporal_slots=K, retrieved_frames=3, retrieval="cluster_id")
    m = STARMemory(cfg, 16, (8, 8))
    m.update(x, [float(i) for i in range(n)])
    read = m.read()
    weight = torch.tensor([g.weight for g in read.groups if g.kind == "temporal"])
    long = F.avg_pool2d(x[:-1].permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).reshape(n - 1, 16, 16)  # S = 1 apart
    key, idx = upstream_key_memory(x.reshape(n, 64, 16), long, weight)
    keys = [g for g in read.groups if g.kind == "retrieved"]
    assert [int(g.stamp) for g in keys] == idx.tolist() and max(idx.tolist()) < K
    assert torch.equal(torch.stack([read.group_tokens(g) for g in keys]), key)
    heaviest = STARMemory(MemoryConfig(temporal_slots=K, retrieved_frames=3), 16, (8, 8))
    heaviest.update(x, [float(i) for i in range(n)])
    ours = [int(g.stamp) for g in heaviest.read().groups if g.kind == "retrieved"]
    assert ours != idx.tolist() and max(ours) >= K
    for few in (2, 5):                            # no merge yet: the modes agree
        a, b = STARMemory(cfg, 16, (8, 8)), STARMemory(MemoryConfig(temporal_slots=K, retrieved_frames=3), 16, (8, 8))
        for mem in (a, b):
            mem.update(x[:few], [float(i) for i in range(few)])
        assert a.read().groups == b.read().groups
    # its snapshot keeps the first K frames' maps; the default's config is written as before the setting
    m.save(tmp_path / "cluster.safetensors")
    again = STARMemory(cfg, 16, (8, 8))
    again.load(tmp_path / "cluster.safetensors")
    assert again.read().groups == read.groups and torch.equal(again.read().tokens, read.tokens)
    assert "retrieval" not in heaviest.state_dict()[1]["config"]
    heaviest.save(tmp_path / "heaviest.safetensors")
    with pytest.raises(SnapshotError, match="config"):
        again.load(tmp_path / "heaviest.safetensors")
    with pytest.raises(ValueError, match="retrieval"):
        MemoryConfig(retrieval="nearest")
