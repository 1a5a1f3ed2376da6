"""One start-up for every front end (engine/startup.py), one evidence record (engine/evidence.py) and one
stamp rule (ros/stamps.py): the node, vstream-eval and the demo use these and nothing of their own."""

import dataclasses
import threading

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from enginekit import frame

from vstream_ros.config import BackendConfig
from vstream_ros.engine import EngineConfig, EngineSession, Outcome
from vstream_ros.engine.evidence import EvidenceRecord
from vstream_ros.memory import TokenGroup
from vstream_ros.memory.read import Run
from vstream_ros.ros.evidence import evidence_msg, evidence_record
from vstream_ros.ros.stamps import frame_stamp


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vstream-") and t.is_alive()]


def test_a_session_builds_warms_restores_starts_and_closes_saving_the_memory(tmp_path):
    path = tmp_path / "memory.safetensors"
    session = EngineSession(BackendConfig("tiny"), EngineConfig(snapshot_path=str(path), autosave_period_s=0.0))
    with session as engine:
        assert engine_threads() and session.started.warm_up_s > 0 and "tiny" in session.started.summary
        for t in (1.0, 2.0, 3.0):
            assert engine.offer("cam", t, frame(), wait=True).outcome is Outcome.SAMPLED
        engine.flush()
        assert engine.ask("What did you see?").wait().success
        closed = []
        engine.backend.close = lambda: closed.append(True)
    assert not engine_threads() and closed == [True] and session.engine is None and path.exists()
    assert session.close() is None                                    # a second close does nothing

    with EngineSession(BackendConfig("tiny"), EngineConfig(snapshot_path=str(path), autosave_period_s=0.0)) as again:
        assert again.memory.frames_seen == 3                          # restored on open


def test_a_failed_start_up_releases_the_models_and_leaves_nothing_running(backend):
    """A warm-up that fails (an out-of-memory GPU, a broken model) reaches the caller, with the backend
    released and no worker started."""
    closed = []

    class Broken:
        def __getattr__(self, name):
            return getattr(backend.answerer, name)

        def answer(self, *args, **kwargs):
            raise RuntimeError("out of memory")

    failing = dataclasses.replace(backend, answerer=Broken(), close=lambda: closed.append(True))
    session = EngineSession(failing, EngineConfig(snapshot_path=""))
    with pytest.raises(RuntimeError, match="out of memory"):
        session.open()
    assert session.engine is None and closed == [True] and not engine_threads()


def test_evidence_record_carries_the_newest_posed_run_and_survives_the_message():
    pose_a = np.array([1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    pose_b = np.array([3.0, -1.5, 0.25, 0.0, 0.0, 0.7071, 0.7071])
    g = TokenGroup("temporal", 10.0, 14.5, 12.0, 3.0, 0, 0, camera="front", label="cup",
                   runs=(Run(10.0, 11.0, 2, pose=pose_a), Run(12.0, 13.0, 2, pose=pose_b), Run(14.0, 14.5, 1)))
    r = EvidenceRecord.of(g)
    assert (r.camera, r.kind, r.label, r.start, r.end, r.weight) == ("front", "temporal", "cup", 10.0, 14.5, 3.0)
    assert r.pose == pytest.approx(tuple(pose_b)) and r.pose_stamp == 13.0
    assert r.as_dict(origin=10.0) == {"kind": "temporal", "camera": "front", "label": "cup", "start_s": 0.0,
                                      "end_s": 4.5, "weight": 3.0, "pose": [3.0, -1.5, 0.25]}
    msg = evidence_msg(g, "odom")
    assert msg.has_pose and msg.pose.header.frame_id == "odom"
    back = evidence_record(msg)
    assert back.pose == pytest.approx(r.pose) and back.pose_stamp == pytest.approx(13.0)
    assert (back.camera, back.kind, back.label, back.start, back.end, back.weight) == (r.camera, r.kind, r.label,
                                                                                       r.start, r.end, r.weight)
    unposed = EvidenceRecord.of(TokenGroup("spatial", 5.0, 5.0, 5.0, 1.0, 0, 0, runs=(Run(5.0, 5.0, 1),)))
    assert unposed.pose is None and unposed.as_dict()["pose"] is None and not evidence_msg(
        TokenGroup("spatial", 5.0, 5.0, 5.0, 1.0, 0, 0), "").has_pose


def test_a_never_stamped_frame_takes_the_receive_time_only_where_one_is_known():
    assert frame_stamp(Time(sec=12, nanosec=500_000_000)) == 12.5
    assert frame_stamp(Time(sec=12, nanosec=500_000_000), received_ns=99_000_000_000) == 12.5
    assert frame_stamp(Time(), received_ns=7_250_000_000) == pytest.approx(7.25)       # a recorded bag: the record time
    assert frame_stamp(Time()) == 0.0                                    # live: zero stays ...
    with EngineSession(BackendConfig("tiny"), EngineConfig(snapshot_path=""), warm_up=False) as engine:
        offered = engine.offer("cam", frame_stamp(Time()), frame())
        assert offered.outcome is Outcome.REJECTED and offered.reason == "bad_stamp"   # ... and is refused
