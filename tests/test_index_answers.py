"""Where / when / first / last-seen answers reach the sightings index when the STAR memory no longer
holds the sighting: a memory of one temporal slot and two runs forgets a short run between longer ones,
or merges it into a long run of other frames; a reset forgets everything; the answer then comes from the
index's rows and says so. Real Milvus Lite in the process, the small real backend of test_index_engine
(a bright frame is a "red toolbox")."""

import pytest
from test_index_engine import feed
from toybackend import Answerer, Encoder, bright

from vstream_ros.backends.contract import Backend
from vstream_ros.engine import EngineConfig, StreamEngine
from vstream_ros.engine.recall import FROM_INDEX, _coarse
from vstream_ros.index import Pose, Sighting
from vstream_ros.memory import MemoryConfig, TokenGroup

pytestmark = pytest.mark.slow          # Milvus Lite in the process

TINY = MemoryConfig(spatial_frames=1, temporal_slots=1, runs_per_slot=2, abstract_slots=2, retrieved_frames=1)


@pytest.fixture
def forgetful(tmp_path):
    """An engine that saw a red toolbox at 100..101 s and forgot it: its one slot keeps two runs, the first
    (dark, 90 s) and the longest, and drops the short bright run between five dark ones."""
    backend = Backend("toy", Encoder(bright), Answerer(), TINY)
    e = StreamEngine(backend, EngineConfig(snapshot_path="", index_uri=str(tmp_path / "ix.db"), robot_name="robot_a",
                                           index_embedder="hash", index_run_s=5.0))
    e.start()
    feed(e, range(90, 93), bright=False)
    feed(e, range(100, 102), bright=True)
    for s in range(110, 160, 10):
        feed(e, range(s, s + 3), bright=False)
    e.sightings.index.flush()
    assert e.locate_memory("red toolbox").evidence == []          # the memory forgot it ...
    yield e
    e.stop()


def ask(e, question, **kw):
    res = e.ask(question, **kw).wait(60)
    assert res is not None and res.success, res
    return res


@pytest.mark.parametrize("question, said", [
    ("When did you see the red toolbox?", "I saw the red toolbox from 10.0 s to 11.0 s on camera front"),
    ("When did you first see the red toolbox?", "I first saw the red toolbox from 10.0 s to 11.0 s"),
    ("When did you last see the red toolbox?", "I last saw the red toolbox from 10.0 s to 11.0 s"),
    ("Where did you see the red toolbox?", "I saw the red toolbox from 10.0 s to 11.0 s on camera front"),
])
def test_a_forgotten_sighting_is_answered_from_the_index(forgetful, question, said):
    res = ask(forgetful, question)                                 # ... the index did not
    assert res.source == "index" and FROM_INDEX in res.answer and res.answer.startswith(said), res.answer
    assert [(g.kind, g.camera, g.start, g.end) for g in res.evidence] == [("index", "front", 100.0, 101.0)]
    assert res.time_origin == 90.0


def test_the_memory_answers_what_it_holds_and_other_questions_are_untouched(forgetful):
    feed(forgetful, range(170, 173), bright=True)                 # seen again: the memory holds this one
    last = ask(forgetful, "When did you last see the red toolbox?")
    assert last.source == "memory" and FROM_INDEX not in last.answer   # the memory's newest is the last
    first = ask(forgetful, "When did you first see the red toolbox?")     # the memory's first is at 170 s ...
    assert first.source == "memory+index"                                 # ... the index's, 100 s, is earlier
    assert first.answer.startswith("I first saw the red toolbox from 10.0 s to 11.0 s on camera front " + FROM_INDEX)
    when = ask(forgetful, "When did you see the red toolbox?")
    assert when.source == "memory+index" and [g.kind for g in when.evidence] == ["index", "temporal"]
    assert "first from 10.0 s to 11.0 s on camera front " + FROM_INDEX in when.answer
    assert "last from 80.0 s to 81.0 s on camera front (from the memory)" in when.answer
    assert ask(forgetful, "What did you see?").source == "memory"
    assert ask(forgetful, "When did you see a blue kettle?").source == "memory"   # the index has none


def test_a_window_before_the_memory_is_answered_by_the_index(tmp_path):
    backend = Backend("toy", Encoder(bright), Answerer(), MemoryConfig())
    e = StreamEngine(backend, EngineConfig(snapshot_path="", index_uri=str(tmp_path / "ix.db"), robot_name="robot_a",
                                           index_embedder="hash", index_run_s=5.0))
    e.start()
    try:
        e.sightings.index.add(Sighting(("red toolbox",), "front", "robot_a", 40.0, 44.0, pose=Pose(1.5, -2.0, 0.0)))
        e.sightings.index.flush()
        feed(e, range(200, 203), bright=False)                     # the memory holds 200..202 s only
        res = ask(e, "Where did you see the red toolbox?", window=(0.0, 100.0))
        assert res.source == "index" and FROM_INDEX in res.answer
        assert "the robot was at x=1.50, y=-2.00, z=0.00" in res.answer
        assert "160.0 s before the memory's first frame" in res.answer        # never clamped to 0
        assert [(g.kind, g.start) for g in res.evidence] == [("index", 40.0)]
        refused = e.ask("What did you see?", window=(0.0, 100.0)).wait(30)   # the index answers where/when only
        assert not refused.success and "nothing in memory between" in refused.error
        missing = e.ask("When did you see a blue kettle?", window=(0.0, 100.0)).wait(30)
        assert not missing.success and "nothing in memory between" in missing.error
        e.reset()                                                   # an empty memory: the index still answers
        e.sightings.index.flush()
        assert ask(e, "When did you see the red toolbox?").source == "index"
    finally:
        e.stop()


def test_a_sighting_merged_into_a_long_run_is_answered_from_the_index(tmp_path):
    backend = Backend("toy", Encoder(bright), Answerer(), TINY)
    e = StreamEngine(backend, EngineConfig(snapshot_path="", index_uri=str(tmp_path / "ix.db"), robot_name="robot_a",
                                           index_embedder="hash", index_run_s=5.0))
    e.start()
    try:
        feed(e, range(100, 102), bright=True)
        feed(e, range(102, 120), bright=False)          # adjacent: the memory's one run holds the toolbox ...
        e.sightings.index.flush()
        [held] = e.locate_memory("red toolbox").evidence
        assert held.start == 100.0 and held.end >= 115.0     # ... over 15 s or more; the index's row is 100..104
        res = ask(e, "Where did you see the red toolbox?")
        assert res.source == "index" and FROM_INDEX in res.answer, res.answer
        assert [(g.kind, g.start, g.end) for g in res.evidence] == [("index", 100.0, 104.0)]
    finally:
        e.stop()


def test_a_long_sighting_the_index_cut_in_pieces_is_not_coarse():
    def group(kind, start, end):
        return TokenGroup(kind, start, end, end, 1.0, 0, 0, "front")

    memory = group("temporal", 0.0, 59.0)                       # in view a whole minute, one frame a second
    rows = [group("index", s, s + 9.0) for s in range(0, 60, 10)]
    assert not _coarse(memory, rows, 1.0)
    assert _coarse(memory, rows[:2], 1.0)                        # 20 s of it: the rest was something else
    assert not _coarse(memory, [], 1.0)                          # the index has nothing to say finer
    assert not _coarse(memory, [group("index", 1.0, 59.0)], 1.0)  # a frame of jitter at one end
    # the merged memory of the demo: a person 20-50 s, the index's 10 s rows of it 23-32 and 33-42 s
    assert _coarse(group("temporal", 20.0, 50.0), [group("index", 23.0, 32.0), group("index", 33.0, 42.0)], 1.0)
