"""Where did you see it, end to end: the node (lite backend) in its own process, a synthetic bag of real
photographs whose robot drives a loop and stops at one station per photo (vstream-synth --photos),
replayed over DDS by vstream-replay with its /odom; ~/locate and ~/query asked from this process.

Truth: while a photo is on camera the robot stands at its station (tools/trajectory.py), so every
sighting's pose must be that station's, within POSE_TOL_M (interpolating 20 Hz odometry of a robot at
rest gives it exactly; the tolerance only absorbs float32 storage).
"""

import math

import pytest

from vstream_ros.msg import MemoryState
from vstream_ros.ros.stamps import to_seconds, to_time
from vstream_ros.srv import Locate, Query
from vstream_ros.tools.synth import DRIVE_FRACTION, LOOP_RADIUS_M, T0, synth
from vstream_ros.tools.trajectory import StationLoop

from rosproc import Client, Proc, fresh_domain, params_node

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier

POSE_TOL_M = 0.05
SCENE_S = 3.0
PHOTOS = ["cat", "coffee", "rocket", "astronaut", "temple", "flower"]    # synth's order, one per station
LOOP = StationLoop(len(PHOTOS), SCENE_S, DRIVE_FRACTION * SCENE_S, LOOP_RADIUS_M)
# what lite states it saw, and at which station. The cup, the rocket and the flower show to the ImageNet classifier
# alone, below its fitted threshold (calibration.json, issue #20); the astronaut is a person, but the detector
# also boxes a person in one frame of the cat's station (a known false sighting, said in issue #20's note).
FOUND = {"cat": 0}
ASTRONAUT = 3


class Asker(Client):
    def __init__(self, domain: int) -> None:
        super().__init__("asker", domain)
        self.state: MemoryState | None = None
        self.node.create_subscription(MemoryState, "/vstream/memory_state", self._on_state, 10)
        self.locate_client = self.node.create_client(Locate, "/vstream/locate")
        self.query_client = self.node.create_client(Query, "/vstream/query")

    def _on_state(self, msg: MemoryState) -> None:
        self.state = msg

    def locate(self, thing: str, **kw) -> Locate.Response:
        return self.call(self.locate_client, Locate.Request(object=thing, **kw), timeout=60)

    def query(self, question: str) -> Query.Response:
        return self.call(self.query_client, Query.Request(question=question), timeout=120)

    def settled(self, frames: int, cameras: int = 1) -> bool:
        """Every frame of the replay received on each camera, and every sampled one encoded."""
        return self.state is not None and len(self.state.cameras) == cameras and all(
            c.frames_received >= frames and c.frames_encoded == c.frames_sampled for c in self.state.cameras)


def replay(bag, domain, tmp_path, name) -> None:
    proc = Proc(["-m", "vstream_ros.tools.replay", str(bag), "--rate", "1"], tmp_path / f"{name}.log", domain)
    assert proc.popen.wait(120) == 0, proc.output()
    proc.stop()


def station_of(stamp_end: float) -> int:
    """The station the robot stood at when the frame at this stamp was taken (None: driving)."""
    t = stamp_end - T0
    k = min(int(t // SCENE_S), len(PHOTOS) - 1)
    lo, hi = LOOP.standing(k)
    return k if lo - 1e-6 <= t < hi else None


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("locate")
    domain = fresh_domain()
    proc = params_node(tmp, domain, backend="lite", camera_topics=["/cam0/image_raw"], qos_reliability="reliable",
                       qos_depth=50, sample_rate_hz=2.0, pose_topic="/odom", snapshot_path="",
                       memory_state_period_s=0.2)
    asker = Asker(domain)
    try:
        assert asker.spin_until(lambda: asker.locate_client.service_is_ready() and asker.state is not None
                                or proc.popen.poll() is not None, 300), proc.output()
        assert proc.popen.poll() is None, proc.output()
        yield proc, asker, domain, tmp
    finally:
        asker.close()
        proc.stop()


def test_without_poses_where_is_answered_honestly_then_with_poses_locate_gives_each_station(node):
    proc, asker, domain, tmp = node
    assert "robot pose: /odom (Odometry)" in proc.output()

    # 1. no pose source publishes: sightings come without a pose, and "where" says so
    bare, _ = synth(tmp / "bare", cameras=1, seconds=2 * SCENE_S, scene_seconds=SCENE_S, fps=5, photos=True,
                    odom_hz=0)
    replay(bare, domain, tmp, "replay_bare")
    assert asker.spin_until(lambda: asker.settled(30), 60), asker.state
    res = asker.locate("cat")
    assert res.success, res.error
    assert res.sightings and all(not s.has_pose and s.label == "cat" for s in res.sightings)
    res = asker.query("Where did you see the cat?")
    assert res.success and res.intent == "where", res.error
    assert "no pose was recorded" in res.answer and "x=" not in res.answer, res.answer
    assert res.evidence and not any(e.has_pose for e in res.evidence)

    # 2. the loop with its odometry (stamps start again: the camera's memory restarts)
    bag, _ = synth(tmp / "loop", cameras=1, seconds=len(PHOTOS) * SCENE_S, scene_seconds=SCENE_S, fps=5,
                   photos=True)
    replay(bag, domain, tmp, "replay_loop")
    assert asker.spin_until(lambda: asker.settled(30 + 90), 90), asker.state     # (counters since the start)
    for thing, k in FOUND.items():
        res = asker.locate(thing)
        assert res.success, (thing, res.error)
        assert res.frames_in_memory > 0 and res.sightings, thing
        x, y, _ = LOOP.station(k)
        for s in res.sightings:
            assert s.has_pose and s.pose.header.frame_id == "odom", s
            assert to_seconds(s.stamp) <= to_seconds(s.pose.header.stamp) <= to_seconds(s.stamp_end)
            assert station_of(to_seconds(s.stamp_end)) == k, (thing, to_seconds(s.stamp_end) - T0)
            p = s.pose.pose.position
            assert math.hypot(p.x - x, p.y - y) < POSE_TOL_M and abs(p.z) < POSE_TOL_M, (thing, p, (x, y))
            q = s.pose.pose.orientation
            yaw = math.atan2(2 * q.z * q.w, 1 - 2 * q.z ** 2)
            assert abs(math.remainder(yaw - LOOP.station(k)[2], 2 * math.pi)) < 1e-3
        stamps = [to_seconds(s.stamp) for s in res.sightings]
        assert stamps == sorted(stamps)
    # "where" in words, with the pose of the last sighting as evidence
    res = asker.query("Where was the cat last seen?")
    assert res.success and res.intent == "where", res.error
    x, y, _ = LOOP.station(FOUND["cat"])
    assert f"x={x:.2f} m, y={y:.2f} m" in res.answer, res.answer
    (ev,) = res.evidence
    assert ev.has_pose and math.hypot(ev.pose.pose.position.x - x, ev.pose.pose.position.y - y) < POSE_TOL_M


def test_locate_requests_are_checked_as_queries_are(node):
    proc, asker, domain, tmp = node
    assert asker.spin_until(lambda: asker.state is not None and asker.state.cameras
                            and asker.state.cameras[0].frames_encoded > 0, 60)
    last = to_seconds(asker.state.cameras[0].last_stamp)
    for kw, err in ((dict(thing="  "), "empty"), (dict(thing="x" * 2001), "limit"),
                    (dict(thing="cat", cameras=["left"]), "camera"),
                    (dict(thing="cat", start=to_time(last + 100), end=to_time(last + 200)), "nothing in memory"),
                    (dict(thing="cat", start=to_time(last), end=to_time(last - 5)), "after it ends"),
                    (dict(thing="temple"), "recognises")):
        thing = kw.pop("thing")
        res = asker.locate(thing, **kw)
        assert not res.success and err in res.error and not res.sightings, (thing, kw, res.error)
    # a window selects what lies in it; max_results keeps the newest; a camera list is honoured
    every = asker.locate("cat").sightings
    assert every
    res = asker.locate("cat", max_results=1, cameras=["cam0"])
    assert res.success and len(res.sightings) == 1
    assert to_seconds(res.sightings[0].stamp) == to_seconds(every[-1].stamp)
    after_cat = T0 + LOOP.standing(ASTRONAUT)[0]
    res = asker.locate("cat", start=to_time(after_cat))
    assert res.success and not res.sightings, res.sightings
    res = asker.locate("person", start=to_time(after_cat))
    assert res.success and res.sightings
    assert proc.popen.poll() is None
