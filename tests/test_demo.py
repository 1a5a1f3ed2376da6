"""The README's demo, shortened: photos -> bag -> node (lite) -> replay over DDS -> questions -> PNG."""

import math
import re
import subprocess
import sys

import pytest

from vstream_ros.tools.photos import PHOTOS
from vstream_ros.tools.synth import DRIVE_FRACTION, LOOP_RADIUS_M
from vstream_ros.tools.trajectory import StationLoop

from conftest import REPO

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier


def test_demo_end_to_end(tmp_path):
    out = subprocess.run([sys.executable, "-m", "vstream_ros.tools.demo", "--short", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    # each answer block: question, answer, evidence lines naming what was on camera then
    blocks = {m.group(1): m.group(2) for m in re.finditer(r"Q: (.+?)\n(.*?)(?=\n\s*Q: |\n\[5/5\])", text, re.S)}
    cat = blocks["When did you see a cat?"]
    assert "A: I saw" in cat and re.findall(r"on camera then: .*cat", cat)
    # the rocket shows only to the image classifier, below its fitted threshold (calibration.json): said so
    rocket = blocks["Did you see a rocket?"]
    assert re.search(r"A: I cannot tell whether I saw a rocket: the image classifier gave rocket only", rocket), rocket
    from vstream_ros.backends.lite.detection import CocoDetector

    if CocoDetector.available():      # a giraffe is a COCO class: without the detector, lite says it cannot tell
        assert "No, I have not seen a giraffe" in blocks["Did you see a giraffe?"]
        assert re.search(r"A: Yes, I saw a person", blocks["Did you see a person?"])
        assert re.findall(r"on camera then: .*astronaut", blocks["Did you see a person?"])
    else:
        assert "I cannot tell" in blocks["Did you see a giraffe?"]
    # where: when the short memory merged the astronaut's frames with other photos' into one slot (which of
    # them share a slot depends on the frames sampled in this run), the sightings index kept the astronaut's
    # run, so it answers; when the memory kept the astronaut apart, its own answer stands. Either way: the
    # place in words and the evidence's pose, one the robot had while the person was on camera
    shown = {n for m in re.findall(r"on camera then: (.+?)\s+pose", blocks["Did you see a person?"])
             for n in m.split(", ")}
    where = blocks["Where did you see the person?"]
    if shown - {"astronaut"}:
        said = re.search(r"A: I saw the person .*\(from the long-term sightings index\): "
                         r"the robot was at x=(-?[\d.]+), y=(-?[\d.]+)", where)
    else:
        said = re.search(r"A: I last saw a person .*the robot was at x=(-?[\d.]+) m, y=(-?[\d.]+) m", where)
    posed = re.search(r"on camera then: astronaut\s+pose x=(-?[\d.]+) y=(-?[\d.]+) \(odom\)", where)
    assert said and posed, (shown, where)
    x, y = float(posed.group(1)), float(posed.group(2))
    assert (float(said.group(1)), float(said.group(2))) == pytest.approx((x, y), abs=0.01)
    loop = StationLoop(len(PHOTOS), 3.0, DRIVE_FRACTION * 3.0, LOOP_RADIUS_M)    # --short: 3 s per photo
    k = [p[0] for p in PHOTOS].index("astronaut")
    path = [loop.at(k * 3.0 + i / 100)[:2] for i in range(300)]
    assert min(math.hypot(x - px, y - py) for px, py in path) < 0.02, (x, y)
    assert re.search(r"camera front: received \d+, sampled \d+, encoded \d+", text)
    assert re.search(r"sightings index: \d+ sightings of this robot in .*sightings\.db", text)
    assert (tmp_path / "memory_timeline.png").stat().st_size > 10_000
    assert (tmp_path / "memory.safetensors").exists()


def test_the_demo_asks_again_when_a_response_is_lost(monkeypatch):
    """Fast DDS drops a response whose client reader the server has not yet matched: the demo sends the
    question again while none has come, takes the first answer, and gives up at its timeout saying so."""
    from vstream_ros.tools import calls, demo

    clock = [0.0]
    monkeypatch.setattr(calls.time, "monotonic", lambda: clock[0])
    client = demo.Client.__new__(demo.Client)            # no node: spinning is the fake clock's waiting

    def spin_until(pred, timeout):
        clock[0] += max(timeout, 0.0)
        return pred()

    client.spin_until = spin_until
    sent = []

    class Future:
        def __init__(self, answered):
            self.answered = answered

        def done(self):
            return self.answered

        def result(self):
            return "the answer"

    class Service:
        srv_name = "/vstream/query"

        def __init__(self, lost):
            self.lost = lost

        def call_async(self, request):
            sent.append(request)
            return Future(len(sent) > self.lost)

    assert client.call(Service(lost=1), "q", timeout=120, resend_after=20) == "the answer"
    assert sent == ["q", "q"] and clock[0] == 40
    sent.clear()
    with pytest.raises(TimeoutError, match=r"/vstream/query did not answer in 60 s \(3 sent\)"):
        client.call(Service(lost=99), "q", timeout=60, resend_after=20)
