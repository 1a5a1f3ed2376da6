"""The robot's pose: the buffer that interpolates it (linear + slerp), the memory that keeps it per run
and per slot (bounded, in the snapshot; version-1 snapshots still load), the engine that joins the two."""

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save

from vstream_ros.backends import load_backend
from vstream_ros.engine import EngineConfig, StreamEngine
from vstream_ros.engine.poses import JUMP_BACK_S, PoseBuffer
from vstream_ros.memory import MemoryConfig, MultiCameraMemory, STARMemory
from vstream_ros.ros.pose_msgs import ODOMETRY, POSE_STAMPED, POSE_WITH_COVARIANCE, pose_type, unpack


def yaw_q(yaw: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


def yaw_of(q) -> float:
    return 2 * math.atan2(q[2], q[3])


# ------------------------------------------------------------------ the buffer
def test_position_is_interpolated_linearly_between_neighbours():
    b = PoseBuffer(max_gap_s=0.5)
    assert b.add(10.0, (0.0, 0.0, 0.0), yaw_q(0), "odom") and b.add(10.8, (2.0, -4.0, 1.0), yaw_q(0))
    p = b.at(10.2)
    assert p is not None and p[7] == 1.0
    np.testing.assert_allclose(p[:3], [0.5, -1.0, 0.25], atol=1e-6)
    np.testing.assert_allclose(b.at(10.0)[:3], [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(b.at(10.8)[:3], [2, -4, 1], atol=1e-6)
    assert b.frame_id == "odom"        # kept from the first message that named it


@pytest.mark.parametrize("t", [0.1, 0.25, 0.6, 0.9])
def test_orientation_is_slerped_at_constant_angular_rate(t):
    """Between yaw 0 and yaw 160 degrees the heading at fraction t is 160 t degrees: slerp. A linear blend
    of the quaternions (normalised or not) is off by degrees here, or not a unit quaternion."""
    b = PoseBuffer(max_gap_s=0.5)
    b.add(1.0, (0, 0, 0), yaw_q(0.0))
    b.add(1.4, (0, 0, 0), yaw_q(math.radians(160)))
    q = b.at(1.0 + 0.4 * t)[3:7]
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-6)
    assert math.degrees(yaw_of(q)) == pytest.approx(160 * t, abs=0.05)


def test_slerp_takes_the_shorter_way_round():
    b = PoseBuffer(max_gap_s=0.5)
    b.add(1.0, (0, 0, 0), yaw_q(math.radians(170)))
    b.add(1.2, (0, 0, 0), yaw_q(math.radians(-170)))   # 20 degrees on, in the other hemisphere of quaternions
    q = b.at(1.1)[3:7]
    assert abs(math.degrees(yaw_of(q))) == pytest.approx(180, abs=0.05)   # through 180, not through 0


def test_no_pose_beyond_the_gap():
    b = PoseBuffer(max_gap_s=0.5)
    b.add(10.0, (1, 0, 0), yaw_q(0))
    b.add(11.0, (2, 0, 0), yaw_q(0))      # 1 s apart: still interpolated (2 x max_gap)
    b.add(20.0, (9, 0, 0), yaw_q(0))      # after a 9 s silence
    assert b.at(9.4) is None and b.at(20.6) is None               # before the first, after the last
    np.testing.assert_allclose(b.at(9.6)[:3], [1, 0, 0])          # nearest, within the gap
    np.testing.assert_allclose(b.at(20.4)[:3], [9, 0, 0])
    np.testing.assert_allclose(b.at(10.5)[:3], [1.5, 0, 0], atol=1e-6)
    assert b.at(15.0) is None                                      # the silence: no invented place
    np.testing.assert_allclose(b.at(11.3)[:3], [2, 0, 0])          # near one side of it: that pose
    np.testing.assert_allclose(b.at(19.6)[:3], [9, 0, 0])
    assert PoseBuffer().at(5.0) is None


def test_unusable_and_late_poses_are_refused_and_counted_a_new_stream_starts_over():
    b = PoseBuffer(max_gap_s=0.5)
    assert b.add(5.0, (0, 0, 0), (0, 0, 0, 2.0))                  # normalised on the way in
    np.testing.assert_allclose(b.at(5.0)[3:7], [0, 0, 0, 1])
    for bad in [(math.nan, (0, 0, 0), (0, 0, 0, 1)), (0.0, (0, 0, 0), (0, 0, 0, 1)),
                (6.0, (math.inf, 0, 0), (0, 0, 0, 1)), (6.0, (0, 0, 0), (0, 0, 0, 0)),
                (5.0 - JUMP_BACK_S / 2, (0, 0, 0), (0, 0, 0, 1))]:     # a little out of order
        assert not b.add(*bad)
    assert b.refused == 5 and len(b) == 1
    assert b.add(5.0 - 2 * JUMP_BACK_S, (7, 0, 0), (0, 0, 0, 1))   # a bag that looped: a new stream
    assert len(b) == 1 and b.at(5.0) is None
    np.testing.assert_allclose(b.at(5.0 - 2 * JUMP_BACK_S)[:3], [7, 0, 0])


def test_the_buffer_is_bounded():
    b = PoseBuffer(capacity=50, max_gap_s=0.5)
    for i in range(1000):
        b.add(1.0 + 0.05 * i, (0.05 * i, 0, 0), yaw_q(0))
    assert len(b) == 50
    assert b.at(1.0) is None
    np.testing.assert_allclose(b.at(1.0 + 0.05 * 999)[0], 0.05 * 999, rtol=1e-6)


def test_pose_messages_unpack_and_types_follow_the_graph_then_the_name():
    from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
    from nav_msgs.msg import Odometry

    odom = Odometry()
    odom.header.stamp.sec, odom.header.stamp.nanosec, odom.header.frame_id = 12, 500_000_000, "odom"
    odom.pose.pose.position.x, odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = 1.5, 1.0, 0.0
    assert unpack(odom) == (12.5, (1.5, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), "odom")
    amcl = PoseWithCovarianceStamped()
    amcl.header.frame_id, amcl.pose.pose.position.y = "map", -2.0
    assert unpack(amcl)[1:] == ((0.0, -2.0, 0.0), (0.0, 0.0, 0.0, 1.0), "map")
    ps = PoseStamped()
    ps.header.frame_id, ps.pose.position.z = "map", 0.25
    assert unpack(ps)[1][2] == 0.25
    assert pose_type("/odom", []) == ODOMETRY and pose_type("/robot/odometry/filtered", []) == ODOMETRY
    assert pose_type("/amcl_pose", []) == POSE_WITH_COVARIANCE and pose_type("/goal_pose", []) == POSE_STAMPED
    assert pose_type("/odom", [POSE_STAMPED]) == POSE_STAMPED          # the graph wins over the name


# ------------------------------------------------------------------ the memory
CONFIG = MemoryConfig(spatial_frames=1, spatial_size=2, temporal_slots=4, temporal_size=1, abstract_slots=2,
                      retrieved_frames=1)


def scene_frames(n_scenes=3, per_scene=5, seed=0):
    """Frames of distinct scenes, one a second from 1 s: features [N, 2, 2, 8] and stamps."""
    g = torch.Generator().manual_seed(seed)
    bases = 10 * torch.randn(n_scenes, 1, 1, 8, generator=g)
    feats = torch.cat([bases[s] + 0.1 * torch.randn(per_scene, 2, 2, 8, generator=g) for s in range(n_scenes)])
    return feats, [1.0 + i for i in range(n_scenes * per_scene)]


def pose_rows(stamps, valid=True):
    """The robot at x = stamp, y = -stamp: [B, 8] x y z qx qy qz qw valid."""
    return torch.tensor([[t, -t, 0, 0, 0, 0, 1, 1.0 if valid else 0.0] for t in stamps])


def test_every_run_keeps_the_pose_of_its_newest_frame_and_each_slot_the_box_of_its_poses():
    m = STARMemory(CONFIG, 8, (2, 2))
    feats, stamps = scene_frames()
    before = m.nbytes()
    m.update(feats, stamps, poses=pose_rows(stamps))
    assert m.nbytes() == before, "poses must not make the memory grow"
    n = m._filled
    runs = m._host_runs(n, -math.inf, math.inf)
    lo, hi = m._t["pose_lo"][:n], m._t["pose_hi"][:n]
    assert sum(r.frames for rs in runs for r in rs) == len(stamps) - CONFIG.spatial_frames
    for k in range(n):
        for r in runs[k]:
            np.testing.assert_allclose(r.pose[:2], [r.end, -r.end])      # its newest frame's pose
        covered = [t for r in runs[k] for t in stamps if r.start <= t <= r.end]
        np.testing.assert_allclose(lo[k, :2].numpy(), [min(covered), -max(covered)])
        np.testing.assert_allclose(hi[k, :2].numpy(), [max(covered), -min(covered)])
    read = m.read()
    (spatial,) = [g for g in read.groups if g.kind == "spatial"]
    np.testing.assert_allclose(spatial.runs[0].pose[:2], [stamps[-1], -stamps[-1]])
    retrieved = [g for g in read.groups if g.kind == "retrieved"]
    assert retrieved and all(g.runs[0].pose is not None for g in retrieved)


def test_a_read_without_tokens_has_the_same_groups_runs_and_poses():
    """What locate reads: every group but the abstract memory, with its runs and poses, and no features."""
    m = MultiCameraMemory(CONFIG, 8, (2, 2), annotation_dim=3)
    feats, stamps = scene_frames()
    for cam in ("a", "b"):
        m.update(cam, feats, stamps, torch.rand(len(stamps), 3), pose_rows(stamps))
    for window in (None, (4.0, 9.0)):
        full, bare = m.read(window=window), m.read(window=window, tokens=False)
        assert bare.num_tokens == 0 and bare.frames_seen == full.frames_seen
        strip = lambda g: (g.kind, g.camera, g.start, g.end, g.stamp, g.weight, g.runs)   # noqa: E731
        assert [strip(g) for g in bare.groups] == [strip(g) for g in full.groups if g.kind != "abstract"]


def test_the_flash_memory_reads_without_tokens_too():
    from vstream_ros.memory import FlashMemoryConfig
    from vstream_ros.memory.flash_config import pack_frame_maps

    cfg = FlashMemoryConfig(temporal_slots=3, retrieved_frames=2)
    m = MultiCameraMemory(cfg, 8, cfg.packed_grid((8, 8)))
    g = torch.Generator().manual_seed(0)
    full = torch.randn(3, 1, 8, 8, 8, generator=g).repeat_interleave(4, 0)[:, 0] + 0.05 * torch.randn(12, 8, 8, 8)
    synopsis = torch.nn.functional.avg_pool2d(full.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    stamps = [1.0 + i for i in range(12)]
    m.update("cam", pack_frame_maps(full, synopsis), stamps, poses=pose_rows(stamps))
    full_read, bare = m.read(), m.read(tokens=False)
    assert bare.num_tokens == 0 and bare.groups
    strip = lambda g: (g.kind, g.start, g.end, g.weight, g.runs, g.grid)   # noqa: E731
    assert [strip(g) for g in bare.groups] == [strip(g) for g in full_read.groups]
    assert all(r.pose is not None for g in bare.groups for r in g.runs)


def test_frames_without_a_pose_have_none_and_do_not_widen_the_box():
    m = STARMemory(CONFIG, 8, (2, 2))
    feats, stamps = scene_frames(n_scenes=2, per_scene=6)
    m.update(feats, stamps)                             # no pose source at all
    assert all(r.pose is None for g in m.read().groups for r in g.runs)
    assert torch.isinf(m._t["pose_lo"]).all()
    m2 = STARMemory(CONFIG, 8, (2, 2))
    rows = pose_rows(stamps)
    rows[1::2, 7] = 0.0                                 # every other frame: no pose near enough in time
    rows[1::2, :7] = 1e6                                # (whatever the row holds then)
    m2.update(feats, stamps, poses=rows)
    n = m2._filled
    assert (m2._t["pose_hi"][:n][torch.isfinite(m2._t["pose_hi"][:n])] < 1e5).all()
    for g in m2.read().groups:
        for r in g.runs:
            if r.pose is not None:
                assert r.pose[0] < 1e5


def test_engine_gives_each_encoded_frame_the_pose_at_its_stamp():
    """The encoder worker asks the pose buffer for each frame: interpolated from 20 Hz odometry,
    none for frames past the end of the poses."""
    engine = StreamEngine(load_backend("tiny", seed=0), EngineConfig(snapshot_path="", sample_rate_hz=2.0,
                                                                   pose_max_gap_s=0.5))
    engine.start()
    try:
        t0 = 1000.0
        for i in range(0, 201):                          # 0..10 s at 20 Hz: x = 0.3 t (moving), y = 1
            t = i * 0.05
            engine.poses.add(t0 + t, (0.3 * t, 1.0, 0.0), yaw_q(0.1 * t), "odom")
        rng = np.random.default_rng(0)
        for i in range(0, 57):                           # frames to 14 s, 4 Hz offered, 2 Hz kept
            frame = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            engine.offer("cam", t0 + 0.25 * i + 0.013, frame, wait=True)
        engine.flush()
        runs = [r for g in engine.read().groups if g.kind in ("temporal", "spatial") for r in g.runs]
        assert runs
        for r in runs:
            t = r.end - t0
            if t <= 10.0 + 0.5:
                assert r.pose is not None, r
                np.testing.assert_allclose(r.pose[:3], [0.3 * min(t, 10.0), 1.0, 0.0], atol=1e-4)
                assert yaw_of(r.pose[3:7]) == pytest.approx(0.1 * min(t, 10.0), abs=1e-4)
            else:
                assert r.pose is None, r
        assert any(r.pose is None for r in runs) and any(r.pose is not None for r in runs)
    finally:
        engine.stop()


# ------------------------------------------------------------ old snapshots
def write_v1_snapshot(path, config_v1: dict) -> None:
    """A two-camera snapshot exactly as version 1 wrote it: no run_*, spatial_annotation, spatial_pose,
    pose_lo or pose_hi tensors; no runs_per_slot in the config; no annotation_dim; version 1."""
    K, dim, ps, pt = config_v1["temporal_slots"], 8, 4, 1
    f32, f64 = torch.float32, torch.float64
    tensors, cams = {}, []
    for idx, (name, t0) in enumerate([("front", 100.0), ("rear", 200.0)]):
        g = torch.Generator().manual_seed(idx)
        weight = torch.tensor([3.0, 2.0, 4.0, 1.0, 0.0], dtype=f32)
        smin = torch.tensor([t0, t0 + 3, t0 + 5, t0 + 9, 0.0], dtype=f64)
        smax = torch.tensor([t0 + 2, t0 + 4, t0 + 8, t0 + 9, 0.0], dtype=f64)
        centroid = torch.randn(K + 1, pt * dim, generator=g)
        centroid[K] = 0
        t = {
            "origin": torch.randn(pt * dim, generator=g), "centroid": centroid,
            "gram": centroid @ centroid.T, "weight": weight,
            "stamp_mean": (smin + smax) / 2, "stamp_min": smin, "stamp_max": smax,
            "rep_map": torch.randn(K + 1, ps, dim, generator=g), "rep_vec": centroid.clone(),
            "rep_stamp": smin.clone(),
            "spatial": torch.randn(1, ps, dim, generator=g), "spatial_stamp": torch.tensor([t0 + 10], dtype=f64),
            "abstract": torch.randn(2, dim, generator=g), "abstract_pending": torch.zeros(2, dim),
        }
        tensors.update({f"{idx}.{k}": v.contiguous() for k, v in t.items()})
        cams.append({"name": name, "config": config_v1, "dim": dim, "grid": [2, 2], "encoder_id": "enc",
                     "state": {"frames_seen": 11, "first_stamp": t0, "last_stamp": t0 + 10, "filled": 4,
                               "spatial_head": 0, "abstract_filled": 2, "abstract_pending": 0,
                               "abstract_span": [t0, t0 + 9]},
                     "stamp_range": [t0, t0 + 10]})
    meta = {"format": "vstream_ros.star_memory", "version": 1, "config": config_v1, "dim": 8, "grid": [2, 2],
            "encoder_id": "enc", "frames_seen": 22, "cameras": cams}
    path.write_bytes(save(tensors, metadata={"vstream_ros": json.dumps(meta)}))


@pytest.mark.parametrize("annotation_dim", [0, 5])
def test_a_version_1_snapshot_still_loads_and_goes_on_with_poses(tmp_path, annotation_dim):
    config_v1 = {k: v for k, v in CONFIG.to_dict().items() if k != "runs_per_slot"}
    write_v1_snapshot(tmp_path / "v1.safetensors", config_v1)
    mem = MultiCameraMemory(CONFIG, 8, (2, 2), encoder_id="enc", annotation_dim=annotation_dim)
    mem.load(tmp_path / "v1.safetensors")
    assert mem.cameras == ["front", "rear"] and mem.frames_seen == 22
    read = mem.read(["front"])
    temporal = [g for g in read.groups if g.kind == "temporal"]
    # each slot: one run over its whole span (all that version 1 knew), no pose recorded
    assert [(r.start, r.end, r.frames) for g in temporal for r in g.runs] == [
        (100.0, 102.0, 3), (103.0, 104.0, 2), (105.0, 108.0, 4), (109.0, 109.0, 1)]
    assert all(r.pose is None for g in read.groups for r in g.runs)
    # it goes on: new frames with poses, saved as the current version and read back the same
    feats, _ = scene_frames(n_scenes=1, per_scene=3)
    stamps = [211.0, 212.0, 213.0]
    ann = torch.rand(3, annotation_dim) if annotation_dim else None
    mem.update("rear", feats, stamps, ann, pose_rows(stamps))
    newest = [r for g in mem.read(["rear"]).groups for r in g.runs if r.end >= 211.0]
    assert newest and all(r.pose is not None for r in newest)
    mem.save(tmp_path / "v2.safetensors")
    back = MultiCameraMemory(CONFIG, 8, (2, 2), encoder_id="enc", annotation_dim=annotation_dim)
    back.load(tmp_path / "v2.safetensors")
    assert back.read().groups == mem.read().groups
