"""The node as a process under the inputs that used to kill it or lose memory (issues 16 and 12):
real DDS on loopback, publishers and clients in other processes."""

import re
import time
from collections import Counter

import pytest
from std_srvs.srv import Trigger
from test_node import Observer, start_node

from vstream_ros.memory.snapshot import read_snapshot
from vstream_ros.srv import Query

from rosproc import PROCS, Proc, fresh_domain

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier


def reasons(cam) -> dict[str, int]:
    """Refusals by reason, as ~/memory_state carries them."""
    return dict(zip(cam.rejected_reasons, cam.rejected_counts, strict=True))


def logged_refusals(output: str, camera: str) -> tuple[Counter, int]:
    """The refusals the node's summary lines name for a camera, added up over the lines, and how many lines:
    a line per summary period, so frames refused across two periods are two lines."""
    lines = re.findall(rf"camera {camera}: \d+ frames? refused \(([^)]*)\)", output)
    total = Counter()
    for line in lines:
        for part in line.split(", "):
            reason, n = part.rsplit(": ", 1)
            total[reason] += int(n)
    return total, len(lines)


def test_frames_that_killed_the_node_are_counted_by_reason_and_it_lives(tmp_path):
    domain = fresh_domain()
    node = start_node(tmp_path, domain, qos_reliability="reliable", qos_depth=50)
    obs = Observer(domain)
    pub = None
    try:
        obs.wait_ready(node)
        pub = Proc([str(PROCS / "crash_frames_publisher.py"), str(time.time())], tmp_path / "crash.log", domain)
        expected = {"cam0": (5, {"stamp_jumped_ahead": 1}),
                    "cam1": (6, {"too_large": 3, "stamp_jumped_ahead": 1})}
        assert obs.spin_until(lambda: {c.camera: (c.frames_received, reasons(c)) for c in obs.cams().values()}
                              == expected and all(c.frames_encoded == c.frames_sampled
                                                  for c in obs.cams().values()), 60), \
            [(c.camera, c.frames_received, reasons(c)) for c in obs.cams().values()] + [node.output()[-2000:]]
        cams = obs.cams()
        assert cams["cam0"].frames_sampled + cams["cam0"].frames_dropped == 4   # both odd-width YUV frames decoded
        assert cams["cam0"].frames_rejected == 1 and cams["cam1"].frames_rejected == 4
        assert node.popen.poll() is None
        # summary lines per camera and period, not a line per frame (the 3 too large frames may fall in two periods)
        assert obs.spin_until(lambda: logged_refusals(node.output(), "cam1")[0] == Counter(
            too_large=3, stamp_jumped_ahead=1), 15), node.output()[-2000:]
        assert logged_refusals(node.output(), "cam1")[1] < 4, node.output()[-2000:]
        res = obs.ask_query(max_new_tokens=2)
        assert res.success, res.error
        # a request naming 20,000 cameras is refused in a short message
        bad = obs.call(obs.query, Query.Request(question="?", cameras=[f"camera_{i}" for i in range(20000)]))
        assert not bad.success and "limit is 64" in bad.error and len(bad.error) < 200
        assert obs.diagnostics["vstream: node callbacks"]["errors_total"] == "0"
    finally:
        obs.close()
        if pub:
            pub.stop()
        node.stop()


def test_memory_is_archived_before_a_new_stream_or_a_reset_clears_it(tmp_path):
    domain = fresh_domain()
    node = start_node(tmp_path, domain)
    obs = Observer(domain)
    try:
        obs.wait_ready(node)
        now = time.time()
        cam = Proc([str(PROCS / "camera_publisher.py"), "2", "10", str(now - 100)], tmp_path / "a.log", domain)
        assert obs.spin_until(lambda: cam.popen.poll() is not None, 30)
        obs.wait_settled()
        before = {c.camera: c.frames_encoded for c in obs.cams().values()}
        assert all(n >= 3 for n in before.values()) and len(before) == 2
        # the bag is played again: its stamps jump back 900 s, and once three frames agree it is a new stream
        cam = Proc([str(PROCS / "camera_publisher.py"), "2", "10", str(now - 1000)], tmp_path / "b.log", domain)
        assert obs.spin_until(lambda: cam.popen.poll() is not None, 30)
        obs.wait_settled()
        assert obs.spin_until(lambda: node.output().count("new stream: cleared") == 2, 10), node.output()[-3000:]
        archives = sorted(tmp_path.glob("memory.archive-*-new_stream.safetensors"))
        assert len(archives) == 2
        held = {}
        for a in archives:
            meta = read_snapshot(a)[1]
            [c] = meta["cameras"]
            held[c["name"]] = c["state"]["frames_seen"]
        assert held == before                                      # nothing lost without a trace
        # ~/reset_memory archives every camera first and says where
        res = obs.call(obs.reset, Trigger.Request(), resend_after=None)
        assert res.success and "archived to" in res.message, res.message
        [everything] = tmp_path.glob("memory.archive-*-reset.safetensors")
        assert {c["name"] for c in read_snapshot(everything)[1]["cameras"]} == {"cam0", "cam1"}
    finally:
        obs.close()
        node.stop()
