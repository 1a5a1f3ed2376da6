"""The catalogue of distinct documents (vstream_ros/index/catalogue.py) on the real embedded engine: a
search by meaning through it gives the brute-force search's hits; a label never seen reads no row; it
survives a reopen, is rebuilt when its journal is lost, follows retention, and steps aside when rows of
one description carry different vectors."""

import itertools
import threading

import numpy as np
import pytest

from vstream_ros.index import HashEmbedder, IndexOptions, Sighting, SightingsIndex
from vstream_ros.index.record import unit

LABELS = ["red toolbox", "forklift", "person", "ladder", "blue door"]
COLOURS = [(), ("red",), ("grey", "black")]
TEXTS = ["", "EXIT", 'say "hi" 100%']
DOCS = list(itertools.product(LABELS, COLOURS, TEXTS))


def opts(tmp_path, **kw) -> IndexOptions:
    kw.setdefault("bucket_s", 10.0)
    kw.setdefault("search_parts", 0)           # every search by meaning through the catalogue
    return IndexOptions(backlog_path=str(tmp_path / "backlog.jsonl"), batch=64, **kw)


def fill(ix: SightingsIndex, n: int = 600, seed: int = 3) -> list[Sighting]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label, colours, text = DOCS[int(rng.integers(len(DOCS)))]
        s = Sighting((label,), "front", ix.robot, i * 0.5, i * 0.5 + 1.0, colours=colours, text=text)
        ix.add(s)
        out.append(s)
    assert ix.flush()
    return out


def brute(sightings, vector, t0=None, t1=None, label=None, limit=10, min_score=0.3):
    """The answer by definition: every sighting scored, the best `limit`, equal scores newest first."""
    emb = HashEmbedder()
    q = np.asarray(unit(vector), np.float32)
    scored = []
    for s in sightings:
        if (t0 is not None and s.end < t0) or (t1 is not None and s.start > t1):
            continue
        if label is not None and label not in " | ".join(s.labels):
            continue
        score = float(np.asarray(unit(emb.embed([s.describe()])[0]), np.float32) @ q)
        if score >= min_score:
            scored.append((score, s.start, s.id))
    scored.sort(key=lambda t: (-t[0], -t[1]))
    return scored[:limit]


QUERIES = [dict(), dict(t0=100.0), dict(t0=40.0, t1=120.0), dict(label="door"), dict(t1=50.0, label="toolbox")]
PHRASES = ["red toolbox", "forklift EXIT", "grey black person", 'blue door say "hi"']


@pytest.fixture
def index(tmp_path):
    ix = SightingsIndex(str(tmp_path / "ix.db"), "robot_a", options=opts(tmp_path))
    yield ix
    ix.close()


def test_search_by_meaning_through_the_catalogue_is_the_brute_force_answer(index, monkeypatch):
    rows = fill(index)
    assert index.catalogue.exact and len(index.catalogue) == len({s.describe() for s in rows})
    store = index._reader()
    monkeypatch.setattr(store, "search", lambda *a, **k: pytest.fail("searched every row"))
    for phrase, kw in itertools.product(PHRASES, QUERIES):
        want = brute(rows, index.embedder.embed([phrase])[0], **kw)
        got = index.find(phrase, **kw)
        assert want and len(got) == len(want), (phrase, kw)
        assert np.allclose(sorted(h.score for h in got), sorted(s for s, _, _ in want), atol=1e-5)
        last = min(s for s, _, _ in want)               # rows above the last place's score: these exactly
        assert {h.sighting.id for h in got if h.score > last + 1e-5} == {i for s, _, i in want if s > last + 1e-5}


def test_brute_force_and_catalogue_give_the_same_scores(index):
    fill(index)
    answers = {}
    for enabled in (True, False):
        index.catalogue.enabled = enabled
        answers[enabled] = [sorted(round(h.score, 4) for h in index.find(p, **kw))
                            for p, kw in itertools.product(PHRASES, QUERIES)]
    assert answers[True] == answers[False]


def test_a_label_never_seen_reads_no_row(index, monkeypatch):
    fill(index, 200)
    store = index._reader()
    for name in ("probe", "query", "search"):
        monkeypatch.setattr(store, name, lambda *a, **k: pytest.fail("asked the collection"))
    assert index.find(label="giraffe") == [] and index.find(label="toolbox", t0=10_000.0) == []


def test_label_queries_name_only_partitions_that_hold_the_label(index, monkeypatch):
    index.add(Sighting(("giraffe",), "front", "robot_a", 5.0, 6.0))
    fill(index, 200)                                   # buckets 0..10, the giraffe in bucket 0 only
    store = index._reader()
    named = []
    real = store.probe
    monkeypatch.setattr(store, "probe", lambda parts, *a, **k: named.extend(parts) or real(parts, *a, **k))
    hits = index.find(label="giraffe")
    assert [h.sighting.labels for h in hits] == [("giraffe",)]
    assert set(named) == {n for n, b in store.partitions("robot_a") if b == 0}


def test_catalogue_survives_reopen_and_is_rebuilt_when_its_journal_is_lost(tmp_path):
    uri = str(tmp_path / "ix.db")
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    rows = fill(ix, 300)
    before = [[h.sighting.id for h in ix.find(p)] for p in PHRASES]
    scores = [sorted(round(h.score, 4) for h in ix.find(p)) for p in PHRASES]
    docs = len(ix.catalogue)
    journal = ix.catalogue.path
    ix.close()
    assert journal.exists()

    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))   # a reader loads the journal, no scan
    assert [[h.sighting.id for h in ix.find(p)] for p in PHRASES] == before
    assert ix.catalogue.exact and len(ix.catalogue) == docs
    ix.close()

    journal.unlink()                                   # lost: the writer's connection rebuilds it
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    assert [sorted(round(h.score, 4) for h in ix.find(p)) for p in PHRASES] == scores   # brute force meanwhile
    assert not ix.catalogue.ready                      # a reader does not rebuild
    extra = Sighting(("forklift",), "front", "robot_a", 1000.0, 1001.0)
    ix.add(extra)
    assert ix.flush() and ix.catalogue.exact and len(ix.catalogue) == docs
    assert [h.sighting.id for h in ix.find("forklift", limit=1)] == [extra.id]
    for p in PHRASES:
        want = brute(rows + [extra], ix.embedder.embed([p])[0])
        assert np.allclose(sorted(h.score for h in ix.find(p)), sorted(s for s, _, _ in want), atol=1e-5)
    ix.close()


def test_a_journal_that_missed_a_partition_is_completed_on_open(tmp_path):
    uri = str(tmp_path / "ix.db")
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    fill(ix, 100)
    journal = ix.catalogue.path
    kept = journal.read_text()
    ix.add(Sighting(("giraffe",), "front", "robot_a", 5000.0, 5001.0))   # a new bucket
    assert ix.flush()
    ix.close()
    journal.write_text(kept)                          # as if an older version wrote the giraffe
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    assert [h.sighting.labels for h in ix.find(label="giraffe")] == [("giraffe",)]
    assert [h.sighting.labels for h in ix.find("giraffe", limit=1)] == [("giraffe",)]
    ix.close()


def test_retention_drops_what_the_catalogue_claims(tmp_path):
    uri = str(tmp_path / "ix.db")
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path, max_age_s=50.0))
    ix.add(Sighting(("giraffe",), "front", "robot_a", 1.0, 2.0))
    fill(ix, 400)                                      # stamps to 200 s: the giraffe expires
    assert ix.stats()["retention_partitions_dropped"] > 0
    assert ix.find(label="giraffe") == [] and ix.find(label="giraffe", t0=0.0, t1=5.0) == []
    assert not ix.catalogue.label_buckets("giraffe", -1, None)
    assert all(h.sighting.start >= 150.0 for h in ix.find("red toolbox", limit=50))
    ix.close()
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path, max_age_s=50.0))
    ix.find(label="x")
    assert ix.catalogue.usable and not ix.catalogue.label_buckets("giraffe", -1, None)
    ix.close()


def test_rows_gone_from_a_claimed_bucket_give_no_hit(index):
    fill(index, 100)
    index.add(Sighting(("giraffe",), "front", "robot_a", 20.0, 21.0))
    assert index.flush()
    store = index._reader()
    for name, _ in store.partitions("robot_a"):
        store.delete(name, expr='labels like "%giraffe%"')          # as a trim inside a kept partition
    assert index.catalogue.label_buckets("giraffe", -1, None)
    assert index.find(label="giraffe") == [] and "giraffe" not in {h.sighting.labels[0] for h in index.find("giraffe")}


def test_rows_of_one_description_with_other_vectors_fall_back_to_brute_force(index, monkeypatch):
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((40, 64))
    for i in range(40):
        index.add(Sighting(("red toolbox",), "front", "robot_a", float(i), i + 0.5, embedding=tuple(vecs[i])))
    assert index.flush()
    assert index.catalogue.usable and not index.catalogue.exact
    q = vecs[7] + 0.5 * vecs[30]
    store = index._reader()
    called = []
    real = store.search
    monkeypatch.setattr(store, "search", lambda *a, **k: called.append(1) or real(*a, **k))
    got = index.find(vector=q, limit=40)
    assert called and got                              # the engine's search, over every row
    assert all(abs(h.score - float(np.dot(unit(q), unit(e)))) < 1e-4
               for h in got for e in [index_vectors(store)[h.sighting.id]])


def index_vectors(store) -> dict:
    names = [n for n, _ in store.partitions("robot_a")]
    return {r["id"]: r["vec"] for r in store.query(names, "start >= 0", ["id", "vec"])}


def test_queries_do_not_wait_for_a_catalogue_being_rebuilt(tmp_path):
    uri = str(tmp_path / "ix.db")
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    fill(ix, 100)
    ix.close()
    ix = SightingsIndex(uri, "robot_a", options=opts(tmp_path))
    ix.catalogue._opening.acquire()                    # as the writer's rebuild holds it
    try:
        out = []
        t = threading.Thread(target=lambda: out.append(ix.find("red toolbox")), daemon=True)
        t.start()
        t.join(60)                                     # a guard against a hang, not a timing
        assert not t.is_alive() and out[0] and not ix.catalogue.ready   # answered by brute force
    finally:
        ix.catalogue._opening.release()
    ix.find("red toolbox")
    assert ix.catalogue.ready
    ix.close()
