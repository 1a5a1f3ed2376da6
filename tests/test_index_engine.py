"""The sightings index inside the engine, on a real embedded Milvus Lite: runs the encoder writes into the
memory become sightings; locate answers from the index what the memory no longer holds and says so;
a robot filter reaches the fleet's rows; a reset keeps the index. The backend is a small real one
(quadrant means; a frame is a "red toolbox" when it is bright)."""

import numpy as np
import pytest
from toybackend import bright, toy_backend

from vstream_ros.engine import EngineConfig, StreamEngine
from vstream_ros.engine.sightings import index_uri, robot_name
from vstream_ros.index import FLEET, Sighting

pytestmark = pytest.mark.slow          # Milvus Lite in the process: a few seconds per engine


def engine(tmp_path, robot="robot_a", uri=None, **cfg) -> StreamEngine:
    backend = toy_backend(bright)
    e = StreamEngine(backend, EngineConfig(snapshot_path="", index_uri=str(tmp_path / "ix.db") if uri is None else uri,
                                           robot_name=robot, index_embedder="hash", index_run_s=5.0, **cfg))
    e.start()
    return e


def feed(e, stamps, bright):
    for t in stamps:
        e.offer("front", float(t), np.full((24, 32, 3), 230 if bright else 40, np.uint8), wait=True)
    assert e.flush(30)


def test_settings_resolve_uri_and_robot():
    assert index_uri("auto", "/data/vs/memory.safetensors") == "/data/vs/sightings.db"
    assert index_uri("auto", "") == ""                 # no snapshot: no index unless asked for
    assert index_uri("http://fleet:19530", "") == "http://fleet:19530"
    assert robot_name("/warehouse/robot_7") == "warehouse_robot_7" and robot_name("") == "robot"


def test_closed_runs_become_sightings_and_locate_says_the_index_answered(tmp_path):
    e = engine(tmp_path)
    try:
        feed(e, range(100, 104), bright=True)            # a red toolbox, 100..103 s
        feed(e, range(120, 124), bright=False)           # a gap closes the run; nothing recognised here
        e.sightings.index.flush()
        assert e.sightings.queued == 1 and e.sightings.unnamed == 0
        assert e.locate("red toolbox").source == "memory"            # the memory still holds it
        text = e.reset()                                              # the memory forgets ...
        assert "sightings index" in text and "kept" in text
        e.sightings.index.flush()
        res = e.locate("red toolbox")                                 # ... the index does not
        assert res.success and res.source == "index"
        [g] = res.evidence
        assert (g.kind, g.label, g.camera, g.start, g.end) == ("index", "red toolbox", "front", 100.0, 103.0)
        assert e.locate("red toolbox", window=(110.0, 130.0)).evidence == []    # the window is kept
    finally:
        e.stop()


def test_window_before_the_memory_is_answered_by_the_index(tmp_path):
    e = engine(tmp_path)
    try:
        feed(e, range(100, 103), bright=True)
        e.reset()                                                     # memory restarts at 200 s
        e.sightings.index.flush()
        feed(e, range(200, 203), bright=True)
        res = e.locate("red toolbox", window=(0.0, 1000.0))
        assert res.source == "memory+index"
        assert [(g.kind, g.start) for g in res.evidence][0] == ("index", 100.0)
        assert {g.kind for g in res.evidence[1:]} == {"temporal"}
    finally:
        e.stop()


def test_robot_filter_reaches_other_robots_only_when_asked(tmp_path):
    e = engine(tmp_path)
    try:
        other = Sighting(("red toolbox",), "rear", "robot_b", 50.0, 52.0)
        assert e.sightings.index.add(other) and e.sightings.index.flush()
        assert e.locate("red toolbox").evidence == []                 # default: this robot only
        fleet = e.locate("red toolbox", robot=FLEET)
        assert [(g.camera, g.start) for g in fleet.evidence] == [("robot_b/rear", 50.0)]
        assert fleet.source == "index"
        assert [g.camera for g in e.locate("red toolbox", robot="robot_b").evidence] == ["robot_b/rear"]
    finally:
        e.stop()


def test_index_off_keeps_locate_as_it_was(tmp_path):
    e = engine(tmp_path, uri="")
    try:
        assert e.sightings is None
        feed(e, range(100, 103), bright=True)
        assert e.locate("red toolbox").source == "memory"
        res = e.locate("red toolbox", robot=FLEET)
        assert not res.success and "index is off" in res.error
    finally:
        e.stop()
