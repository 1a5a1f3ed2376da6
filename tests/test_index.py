"""The sightings index on the real embedded engine (Milvus Lite in this process, no mock): write and
query, robot filter, window, retention by count and age, queue drops, the backlog of an unreachable
server. Processes (SIGKILL, a server, a fleet) are in test_index_procs.py."""

import socket
import threading

import numpy as np
import pytest

from vstream_ros.index import FLEET, HashEmbedder, IndexOptions, IndexUnavailableError, Pose, Sighting, SightingsIndex


def opts(tmp_path, **kw) -> IndexOptions:
    return IndexOptions(backlog_path=str(tmp_path / "backlog.jsonl"), **kw)


@pytest.fixture
def index(tmp_path):
    ix = SightingsIndex(str(tmp_path / "ix.db"), "robot_a", options=opts(tmp_path, bucket_s=10.0))
    yield ix
    ix.close()


def sight(label, start, robot="robot_a", **kw) -> Sighting:
    return Sighting((label,), kw.pop("camera", "front"), robot, start, start + kw.pop("dur", 1.0), **kw)


def test_write_then_find_by_meaning_label_and_window(index):
    index.add(sight("red toolbox", 5.0, colours=("red",), pose=Pose(1.0, 2.0, frame="map"), track=7))
    index.add(sight("person", 25.0))
    index.add(sight("red toolbox", 42.0, text="ACME"))
    assert index.flush()
    hits = index.find("red toolbox")
    assert [h.sighting.start for h in hits] == [42.0, 5.0]                  # newest first, no person
    first = hits[1].sighting
    assert first.pose == Pose(1.0, 2.0, frame="map") and first.track == 7 and first.colours == ("red",)
    assert hits[0].sighting.text == "ACME" and hits[0].source == "index"
    ev = hits[1].evidence_fields()
    assert ev["stamp"] == 5.0 and ev["stamp_end"] == 6.0 and ev["kind"] == "index" and ev["has_pose"]
    assert [h.sighting.labels for h in index.find(label="person")] == [("person",)]
    assert [h.sighting.start for h in index.find("red toolbox", t0=0.0, t1=20.0)] == [5.0]
    assert [h.sighting.start for h in index.find(t0=5.5, t1=25.0)] == [25.0, 5.0]   # overlap, not containment
    assert index.find(t0=6.5, t1=24.0) == []


def test_robot_filter_defaults_to_this_robot(index):
    index.add(sight("red toolbox", 5.0))
    index.add(sight("red toolbox", 6.0, robot="robot_b"))
    assert index.flush()
    assert {h.sighting.robot for h in index.find("red toolbox")} == {"robot_a"}
    assert {h.sighting.robot for h in index.find("red toolbox", robot="robot_b")} == {"robot_b"}
    assert {h.sighting.robot for h in index.find("red toolbox", robot=FLEET)} == {"robot_a", "robot_b"}
    assert index.stats()["rows"] == 1 and index.stats(FLEET)["rows"] == 2


def test_retention_by_count_keeps_the_newest(tmp_path):
    ix = SightingsIndex(str(tmp_path / "ix.db"), "robot_a", options=opts(tmp_path, bucket_s=10.0, max_rows=20, batch=8))
    for i in range(50):
        ix.add(sight(f"thing {i}", float(i)))
    assert ix.flush()
    rows = ix.find(limit=100)
    assert 0 < len(rows) <= 20
    assert min(h.sighting.start for h in rows) >= 30.0 and max(h.sighting.start for h in rows) == 49.0
    st = ix.stats()
    assert st["rows"] == len(rows) and st["oldest_stamp"] == min(h.sighting.start for h in rows)
    assert st["retention_expired_count"] == 50 - len(rows)
    ix.close()


def test_retention_by_age_from_the_newest_stamp(tmp_path):
    ix = SightingsIndex(str(tmp_path / "ix.db"), "robot_a", options=opts(tmp_path, bucket_s=10.0, max_age_s=15.0))
    for i in range(50):
        ix.add(sight(f"thing {i}", float(i), dur=0.5))
    assert ix.flush()
    starts = sorted(h.sighting.start for h in ix.find(limit=100))
    assert starts == [float(i) for i in range(35, 50)]           # newest end 49.5: cutoff 34.5
    assert ix.stats()["retention_partitions_dropped"] >= 3       # buckets 0-9, 10-19, 20-29 went whole
    ix.close()


def test_queue_full_drops_and_counts_never_blocks(tmp_path):
    gate, inside = threading.Event(), threading.Event()

    class GatedEmbedder(HashEmbedder):            # a real embedder that waits at a gate: the writer is busy
        def embed(self, texts):
            inside.set()
            gate.wait(30)
            return super().embed(texts)

    ix = SightingsIndex(str(tmp_path / "ix.db"), "robot_a", embedder=GatedEmbedder(),
                        options=opts(tmp_path, queue_size=3, batch=1))
    assert ix.add(sight("a", 1.0))
    assert inside.wait(30)                        # the writer holds the first one
    assert all(ix.add(sight("b", 2.0 + i)) for i in range(3))
    assert not ix.add(sight("c", 9.0))            # queue full: refused at once
    assert ix.writer.stats.dropped == 1
    gate.set()
    assert ix.flush()
    assert ix.stats()["rows"] == 4 and ix.writer.stats.written == 4
    ix.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_goes_to_a_bounded_backlog(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"       # closed loopback port: nothing listens
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path, backlog_rows=5, batch=2))
    ids = []
    for i in range(8):
        s = sight("thing", float(i))
        ids.append(s.id)
        assert ix.add(s)                          # never blocks, never raises
    assert ix.flush()
    st = ix.writer.stats
    assert st.written == 0 and st.backlogged == 8 and st.failures >= 1 and not st.connected
    kept = ix.writer.backlog.read()
    assert [r["id"] for r in kept] == ids[3:] and ix.writer.backlog.dropped == 3
    ix.close()
    other = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    try:
        with pytest.raises(IndexUnavailableError, match="unreachable"):    # a query says so, clearly
            other.find("thing")
    finally:
        other.close()                             # its writer would retry the closed port until the run ends
    assert not other.writer._thread.is_alive()


def test_bad_sightings_are_refused_at_the_caller():
    with pytest.raises(ValueError, match="before start"):
        Sighting(("cup",), "front", "r", 5.0, 4.0)
    with pytest.raises(ValueError, match="finite"):
        Sighting(("cup",), "front", "r", float("nan"), 4.0)
    with pytest.raises(ValueError, match="robot"):
        Sighting(("cup",), "front", "", 1.0, 2.0)
    with pytest.raises(ValueError, match="'\\|'"):
        Sighting(("a|b",), "front", "r", 1.0, 2.0)


def test_hash_embedder_is_deterministic_and_word_based():
    e = HashEmbedder(64)
    a, b, c = e.embed(["red toolbox", "red toolbox", "blue car"])
    assert np.allclose(a, b) and abs(np.linalg.norm(a) - 1) < 1e-6 and float(a @ c) < 0.5
