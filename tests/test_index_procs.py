"""The sightings index across processes, on the real engine: acknowledged rows survive a SIGKILL of
the writer; a server on loopback (`milvus-lite server`: the Milvus gRPC protocol, the same client code
as a Milvus cluster) takes a backlog once it comes up, and serves a fleet of two robot processes."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vstream_ros.index import FLEET, IndexOptions, Sighting, SightingsIndex

pytestmark = pytest.mark.slow   # starts processes (writers, a milvus-lite server)

WRITER = str(Path(__file__).parent / "procs" / "index_writer.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "milvus-lite server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)                       # polling for the port to open, with a deadline
    proc.kill()
    raise AssertionError("milvus-lite server did not open its port")


@pytest.fixture
def server(tmp_path):
    port = free_port()
    proc = start_server(tmp_path / "fleet.db", port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(30)


def test_sigkill_during_writes_keeps_every_acknowledged_row(tmp_path):
    uri = str(tmp_path / "ix.db")
    child = subprocess.Popen([sys.executable, WRITER, uri, "robot_a", "0"], stdout=subprocess.PIPE, text=True)
    acked = []
    for line in child.stdout:
        if line.startswith("ACK "):
            acked.append(line.split()[1])
        if len(acked) >= 300:
            break
    os.kill(child.pid, signal.SIGKILL)            # mid-stream: the writer is still inserting
    for line in child.stdout:                     # acks printed before the kill landed
        if line.startswith("ACK "):
            acked.append(line.split()[1])
    child.wait(30)
    assert child.returncode == -signal.SIGKILL
    ix = SightingsIndex(uri, "robot_a", options=IndexOptions(backlog_path=str(tmp_path / "b.jsonl")))
    found = ix.get(acked)
    assert len(acked) >= 300 and {s.id for s in found} == set(acked)
    ix.find(label="thing")                        # the reader loads the catalogue's journal
    cat, store = ix.catalogue, ix._reader()
    assert cat.exact                              # its journal was written before each row: it covers them
    docs = {d.key: d for _, d in cat.ranked(np.ones(ix.embedder.dim), -2.0)}
    for s in found:
        row = {"labels": " | ".join(s.labels), "colours": " | ".join(s.colours), "text": s.text}
        assert store.bucket(s.start) in docs[(row["labels"], row["colours"], row["text"])].buckets
    ix.close()


def test_backlog_is_replayed_when_the_server_comes_up(tmp_path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    ix = SightingsIndex(uri, "robot_a", options=IndexOptions(backlog_path=str(tmp_path / "b.jsonl"),
                                                             retry_s=(0.2, 0.5)))
    ids = []
    for i in range(10):
        s = Sighting(("red toolbox",), "front", "robot_a", float(i), i + 0.5)
        ids.append(s.id)
        ix.add(s)
    assert ix.flush() and ix.writer.stats.backlogged == 10 and ix.writer.backlog.rows == 10
    proc = start_server(tmp_path / "srv.db", port)
    try:
        deadline = time.monotonic() + 60
        while ix.writer.stats.replayed < 10 and time.monotonic() < deadline:
            time.sleep(0.1)                       # the writer retries on its own back-off
        assert ix.writer.stats.replayed == 10 and ix.writer.backlog.rows == 0
        assert not (tmp_path / "b.jsonl").exists()
        assert {s.id for s in ix.get(ids)} == set(ids)
        ix.close()
    finally:
        proc.terminate()
        proc.wait(30)


def test_fleet_of_two_robot_processes_on_one_server(server, tmp_path):
    kids = [subprocess.Popen([sys.executable, WRITER, server, robot, "40"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for robot in ("robot_a", "robot_b")]
    outs = [k.communicate(timeout=240) for k in kids]
    assert all(k.returncode == 0 for k in kids)
    assert all(o.count("ACK ") == 40 for o, _ in outs), [e[-2000:] for _, e in outs]
    ix_a = SightingsIndex(server, "robot_a", options=IndexOptions(backlog_path=str(tmp_path / "a.jsonl")))
    assert ix_a.find("red toolbox") == []                       # robot_a never saw one ...
    hits = ix_a.find("red toolbox", robot=FLEET)                # ... robot_b did, and the fleet knows
    assert [h.sighting.robot for h in hits] == ["robot_b"] and hits[0].sighting.start == 100.0
    assert ix_a.stats(FLEET)["rows"] == 80 and ix_a.stats()["rows"] == 40
    ix_a.close()
