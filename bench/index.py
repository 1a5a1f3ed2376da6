"""The sightings index (vstream_ros/index) on its embedded engine: sustained writes, query latency at a
large row count, bytes per sighting.

    python bench/index.py                     # 200,000 sightings of one robot, 384-d vectors
    python bench/index.py --rows 1000000      # the issue's figure (about ten minutes on 2 cores)
    python bench/index.py --docs 0            # a random vector per sighting (no catalogue shortcut)
    python bench/index.py --quick             # 5,000 sightings (a smoke run)
    python bench/index.py --pace 1 --seconds 120   # the index's CPU at a robot's pace (MiniLM embedder)

Writes go through the real path (SightingsIndex.add -> the background writer -> Milvus Lite). As on a
robot, each sighting is described from a few distinct documents (`--docs`, 400: ten labels x colours x
text read) and the writer embeds the description (cached per text, as the node's writer does); the
bench's embedder makes MiniLM-sized (384-d) vectors without the model (a label's centre plus a fixed
deviation per description): embedding is the embedder's cost, not the index's. `--docs 0`: a random
vector per sighting (the workload before the catalogue: every row its own document, so the catalogue is
not exact and searches by meaning are the engine's brute force). One sighting every 0.5 s of stamp time,
with the index's default options (15-minute partitions, a flush every 2,000 rows; the writer's batch is
2,000: the queue is always full here). Queries: by meaning within a 1-hour window (a where/when
question), by label within the window, by meaning over the last day, the newest sightings of the robot,
and by label (one it holds, one it never saw) and by meaning over all of its history (a question with
no window; the node asks the label first, then the meaning). Then the three queries that the catalogue
answers differently are timed on the same index without it (`--baseline-reps`, brute force as before),
and their scores compared with the catalogue's (`same_scores`: rows of equal score may differ, the
catalogue takes the newest). Prints one JSON document, then a short table. Timings are wall-clock on
this machine as it is (other processes included): the load average is in the JSON, sampled after
writing and after the queries, and under the table.

`--pace R`: what the index costs a node, as CPU time rather than wall-clock (so other processes do not
blur it): a fresh embedded index with the node's embedder, warmed as a node warms it, takes R sightings a
second (named by the writer's embedder, as the node's are) for `--seconds`, with stats() every 10 s (the
node's state topic) and a search by meaning every 10 s; the process's CPU seconds over the wall seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vstream_ros.index import IndexOptions, Sighting, SightingsIndex, make_embedder  # noqa: E402

DIM = 384
LABELS = ["person", "red toolbox", "forklift", "pallet", "door", "ladder", "cup", "chair", "car", "dog"]


COLOURS = [(), ("red",), ("blue",), ("grey",), ("yellow",), ("red", "white"), ("black", "yellow"), ("green",)]
TEXTS = ["", "EXIT", "A3", "ACME", "KEEP CLEAR"]


class FixedDim:
    """Only names the vector size: the bench hands every sighting its vector (`--docs 0`)."""

    id, dim = "bench-random-384", DIM

    def embed(self, texts):
        return np.zeros((len(texts), DIM), np.float32)


class TemplateEmbedder:
    """A description's vector: its label's centre plus a fixed deviation drawn from the description (the
    same text always gives the same vector, as MiniLM does), at MiniLM's size and for no model's cost."""

    id, dim = "bench-template-384", DIM

    def __init__(self, centres: np.ndarray) -> None:
        self.centres = centres

    def embed(self, texts):
        out = []
        for t in texts:
            label = t.split(";")[0]
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            v = self.centres[LABELS.index(label)] + 0.3 * np.random.default_rng(seed).standard_normal(DIM)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, np.float32).reshape(len(texts), DIM)


def documents(n: int) -> list[tuple[str, tuple[str, ...], str]]:
    """`n` distinct (label, colours, text) descriptions, every label in turn."""
    out = []
    for d in range(n):
        k, rest = d % len(LABELS), d // len(LABELS)
        out.append((LABELS[k], COLOURS[rest % len(COLOURS)], TEXTS[(rest // len(COLOURS)) % len(TEXTS)]))
    return out


def scores(hits) -> list[float]:
    """A query's scores, best first (rows of equal score may differ: the catalogue takes the newest)."""
    return sorted((round(h.score, 4) for h in hits), reverse=True)


def percentiles(ts: list[float]) -> dict:
    a = np.asarray(ts) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 1), "p95_ms": round(float(np.percentile(a, 95)), 1),
            "max_ms": round(float(a.max()), 1)}


def pace(rate: float, seconds: float, embedder: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ix = SightingsIndex(os.path.join(tmp, "sightings.db"), "robot_a", make_embedder(embedder),
                            IndexOptions(backlog_path=os.path.join(tmp, "b.jsonl")))
        ix.warm()
        deadline = time.monotonic() + 120
        while not ix.writer.stats.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        cpu0, t0, n, asked = time.process_time(), time.monotonic(), 0, 0.0
        while (now := time.monotonic()) - t0 < seconds:
            stamp = 1_764_000_000.0 + (now - t0)
            while n < (now - t0) * rate:
                ix.add(Sighting((LABELS[n % len(LABELS)],), "front", "robot_a", stamp, stamp + 0.5))
                n += 1
            if now - asked >= 10.0:
                asked = now
                ix.stats()
                ix.find("red toolbox", t0=stamp - 3600)
            time.sleep(0.05)
        assert ix.flush(60)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
        written = ix.writer.stats.written
        ix.close()
    doc = {"pace_per_s": rate, "seconds": round(wall, 1), "embedder": embedder, "written": written,
           "cpu_s": round(cpu, 2), "cpu_cores": round(cpu / wall, 4), "cpu_ms_per_sighting": round(1e3 * cpu / n, 2),
           "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
    print(json.dumps(doc, indent=2))
    print(f"\nsightings index at {rate:g} sightings/s ({embedder}): {100 * doc['cpu_cores']:.2f} % of a core "
          f"({doc['cpu_ms_per_sighting']} ms CPU a sighting, stats and a search every 10 s included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pace", type=float, default=0.0, help="sightings a second: measure CPU at a robot's pace")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--embedder", default="minilm", help="with --pace: minilm (the node's) or hash[:DIM]")
    ap.add_argument("--docs", type=int, default=400,
                    help="distinct descriptions the sightings are made of (0: a random vector per sighting)")
    ap.add_argument("--baseline-reps", type=int, default=5,
                    help="also time the searches without the catalogue (brute force), this many times")
    args = ap.parse_args()
    if args.pace > 0:
        pace(args.pace, args.seconds, args.embedder)
        return
    rows = 5_000 if args.quick else args.rows
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((len(LABELS), DIM)).astype(np.float32)
    docs = documents(args.docs)
    per_label = [[d for d in docs if d[0] == lab] for lab in LABELS]
    with tempfile.TemporaryDirectory() as tmp:
        opt = IndexOptions(max_rows=rows * 2, max_age_s=1e9, queue_size=rows + 1, batch=2000,
                           backlog_path=os.path.join(tmp, "b.jsonl"))
        ix = SightingsIndex(os.path.join(tmp, "ix.db"), "robot_a",
                            TemplateEmbedder(centres) if docs else FixedDim(), opt)
        t0 = time.perf_counter()
        for i in range(rows):
            k = i % len(LABELS)
            if docs:
                label, colours, text = per_label[k][int(rng.integers(len(per_label[k])))]
                ix.add(Sighting((label,), "front", "robot_a", i * 0.5, i * 0.5 + 2.0, colours=colours, text=text))
                continue
            v = centres[k] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
            v /= np.linalg.norm(v)
            ix.add(Sighting((LABELS[k],), "front", "robot_a", i * 0.5, i * 0.5 + 2.0, embedding=v))
        assert ix.flush(timeout=3600)
        ix.writer.store.seal()                    # the last rows into indexed segments too (counted)
        write_s = time.perf_counter() - t0
        load_written = os.getloadavg()
        end = rows * 0.5
        q = centres[1] / np.linalg.norm(centres[1])
        cases = {
            "meaning, 1 h window": dict(vector=q, t0=end - 5400, t1=end - 1800),
            "label, 1 h window": dict(label="toolbox", t0=end - 5400, t1=end - 1800),
            "meaning, last 24 h": dict(vector=q, t0=end - 86400),
            "newest 10 of the robot": dict(),
            "label, all history": dict(label="toolbox"),
            "label seen never, all history": dict(label="giraffe"),
            "meaning, all history": dict(vector=q),
        }
        results, answers = [], {}
        for name, kw in cases.items():
            got = ix.find(**kw)                  # warm
            ts = []
            for _ in range(args.reps):
                t = time.perf_counter()
                got = ix.find(**kw)
                ts.append(time.perf_counter() - t)
            results.append({"case": name, "hits": len(got), **percentiles(ts)})
            answers[name] = got
        baseline = []
        if args.baseline_reps > 0 and ix.catalogue.usable:
            ix.catalogue.enabled = False          # the same index, searched as before the catalogue
            for name in ("meaning, last 24 h", "label seen never, all history", "meaning, all history"):
                ts = []
                for _ in range(args.baseline_reps):
                    t = time.perf_counter()
                    got = ix.find(**cases[name])
                    ts.append(time.perf_counter() - t)
                baseline.append({"case": name, "hits": len(got), **percentiles(ts),
                                 "same_scores": scores(got) == scores(answers[name])})
            ix.catalogue.enabled = True
        st = ix.stats()
        ix.close()
    doc = {"rows": rows, "dim": DIM, "engine": "milvus-lite (embedded)", "docs": args.docs,
           "catalogue_docs": st["catalogue_docs"], "catalogue_exact": st["catalogue_exact"],
           "writes_per_s": round(rows / write_s),
           "write_s": round(write_s, 1), "bytes": st["bytes"],
           "bytes_per_sighting": round(st["bytes"] / max(1, st["rows"])),
           "index_rows": st["rows"], "partitions": st["partitions"], "dropped": st["dropped"],
           "bucket_s": opt.bucket_s, "seal_rows": opt.seal_rows, "queries": results,
           "baseline_without_catalogue": baseline, "cpus": os.cpu_count(),
           "load_avg_after_writes": load_written, "load_avg": os.getloadavg()}
    print(json.dumps(doc, indent=2))
    print()
    print(f"sightings index: {rows} sightings, {doc['writes_per_s']} writes/s sustained, "
          f"{doc['bytes_per_sighting']} bytes per sighting on disk")
    print("| query | hits | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['hits']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    for r in baseline:
        print(f"| {r['case']} (brute force, no catalogue) | {r['hits']} | {r['p50_ms']} | {r['p95_ms']} "
              f"| {r['max_ms']} |")
    print(f"load average after writes {load_written[0]:.2f}, after queries {doc['load_avg'][0]:.2f}")


if __name__ == "__main__":
    main()
