"""The catalogue of one robot's distinct documents: which (labels, colours, text) it has written, the
vector each was stored with, and the time buckets (partitions) that hold rows of it.

Why: Milvus Lite walks every row of the partitions a query names, so a search by meaning over a day or
the whole history, or a label the robot never saw, costs the engine's per-row walk (seconds at a million
rows). But a robot's sightings are described from few distinct documents (a label, its colours, the
text read; the writer embeds each description once, `CachedEmbedder`), so every row of a document has
the same vector and the same score for any query. Ranking the few documents (a numpy product) and then
asking the engine for the newest rows of the best document, by a scalar filter on its columns and only
in the partitions that hold it, gives the same hits as the brute-force search over every row (equal
scores newest first) while reading about a bucket's worth of rows. A label the robot never saw is
answered from the catalogue without touching the collection.

Kept as a journal beside the backlog (one JSON line per new document, per new (document, bucket) and
per dropped bucket), appended and flushed to the OS *before* the rows go to the engine, so after a
SIGKILL it covers every acknowledged row (it may claim a bucket whose rows never arrived: a query then
reads nothing there). Missing or made for another collection: rebuilt from the collection on open (one
scan of the robot's rows); a partition of the robot the journal never heard of is scanned on open too.
Retention's dropped partitions are dropped here; rows trimmed inside a kept partition are not tracked
(a claimed bucket without rows left costs one probe and returns nothing).

Exact only while every row of a document carries its document's vector (cosine >= `SAME`): a row that
does not (a caller that brings its own embedding per sighting) makes the catalogue `exact = False`, and
searches by meaning go back to the engine's brute force; label queries keep using it. It covers one
robot, the one whose index this is: rows of other robots (a fleet on a server) are searched as before.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from vstream_ros.index.store import MilvusStore, bucket_of, doc_expr

log = logging.getLogger(__name__)

VERSION = 1
SAME = 0.99999            # cosine at which two stored vectors count as the same document's (a re-embedded
                          # description after the embedder's cache let it go differs in the last bits)
_SCAN_FIELDS = ["id", "labels", "colours", "text", "start", "vec"]


@dataclass
class Doc:
    key: tuple[str, str, str]            # the row's labels, colours and text columns, as stored
    vec: np.ndarray                      # float32, unit length (as stored)
    buckets: set[int] = field(default_factory=set)
    floats: list[float] = field(default_factory=list)   # vec as the rows carry it (a cheap equality test)

    def __post_init__(self) -> None:
        self.floats = self.vec.tolist()

    def expr(self) -> str:
        return doc_expr(*self.key)

    def has_label(self, phrase: str) -> bool:
        """What `labels like %phrase%` says of this document's rows."""
        return like("%" + phrase + "%").fullmatch(self.key[0]) is not None


@lru_cache(maxsize=1024)
def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as the engine reads it (pyarrow's match_like): % any run, _ any one character, backslash
    escapes the next one; case-sensitive."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _b64(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, np.float32).tobytes()).decode()


class Catalogue:
    def __init__(self, path: str | Path, robot: str, collection: str, dim: int, bucket_s: float) -> None:
        self.path, self.robot = Path(path), robot
        self.header = {"catalogue": VERSION, "collection": collection, "dim": dim, "bucket_s": bucket_s,
                       "robot": robot}
        self.dim, self.bucket_s = dim, bucket_s
        self.ready = False                   # loaded or rebuilt, and every write since noted
        self.enabled = True                  # False: queries ignore it (bench/index.py --baseline)
        self.mixed = 0                       # documents whose rows carry different vectors
        self._docs: dict[tuple[str, str, str], Doc] = {}
        self._ids: dict[tuple[str, str, str], int] = {}   # journal numbers of the documents
        self._next = 0
        self._matrix: np.ndarray | None = None
        self._order: list[Doc] = []
        self._lines = 0
        self._lock = threading.RLock()          # the state, once ready (the writer notes, queries read)
        self._opening = threading.Lock()        # one open at a time

    @property
    def exact(self) -> bool:
        return self.ready and self.enabled and not self.mixed

    @property
    def usable(self) -> bool:
        return self.ready and self.enabled

    def __len__(self) -> int:
        return len(self._docs)

    # -- opening -------------------------------------------------------------------------------------
    def open(self, store: MilvusStore, rebuild: bool = True) -> None:
        """Load the journal (rebuild it from the collection when it is missing or another index's, unless
        `rebuild` is False: then stay unready), then scan the robot's partitions it does not know.
        Idempotent; raises the client's errors (the writer retries its connection). Queries neither use nor
        wait for a catalogue being opened (a rebuild takes minutes at a million rows): a reader's open
        returns at once while another is under way, and the state is only read once `ready`."""
        if not self._opening.acquire(blocking=rebuild):
            return
        try:
            if self.ready:
                return
            self._reset()
            loaded = self._load()
            if not loaded and not rebuild:
                self._reset()
                return
            parts = store.partitions(self.robot)
            known = {b for d in self._docs.values() for b in d.buckets}
            unknown = [(n, b) for n, b in parts if not loaded or b not in known]
            for name, b in unknown:
                self._scan(store, name, b)
            if not loaded or unknown or self._lines > 2 * self._live() + 1000:
                self._rewrite()
            with self._lock:
                self.ready = True
            log.info("sightings catalogue: %d documents (%d partitions scanned)", len(self._docs), len(unknown))
        finally:
            self._opening.release()

    def _reset(self) -> None:
        self._docs, self._ids, self.mixed, self._lines, self._next = {}, {}, 0, 0, 0
        self._matrix = None

    def _load(self) -> bool:
        if not self.path.exists():
            return False
        ids: list[Doc] = []
        try:
            with self.path.open(encoding="utf-8") as f:
                head = json.loads(f.readline() or "null")
                if head != self.header:
                    return False
                for line in f:
                    self._lines += 1
                    try:
                        e = json.loads(line)
                    except json.JSONDecodeError:
                        continue                  # a torn last line: the rows it was about were not sent
                    if "d" in e:
                        key = tuple(e["d"])
                        vec = np.frombuffer(base64.b64decode(e["v"]), np.float32).copy()
                        doc = self._docs.setdefault(key, Doc(key, vec))
                        self._ids.setdefault(key, len(ids))
                        ids.append(doc)
                    elif "p" in e:
                        ids[e["p"]].buckets.add(int(e["b"]))
                    elif "m" in e:
                        self.mixed += 1
                    elif "x" in e:
                        for d in self._docs.values():
                            d.buckets.discard(int(e["x"]))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
            log.warning("sightings catalogue %s unreadable (%s): rebuilding it", self.path, err)
            self._reset()
            return False
        self._next = len(ids)
        return True

    def _scan(self, store: MilvusStore, name: str, bucket: int) -> None:
        """Every row of one partition into the catalogue (no journal lines: open rewrites the journal)."""
        for r in store.query([name], "start >= 0", _SCAN_FIELDS):
            self._note_row(r, bucket, journal=None)

    def _live(self) -> int:
        return len(self._docs) + sum(len(d.buckets) for d in self._docs.values()) + self.mixed

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ids = {}
        with tmp.open("w", encoding="utf-8") as f:
            f.write(json.dumps(self.header) + "\n")
            for key, d in self._docs.items():
                self._ids[key] = len(self._ids)
                self._next = len(self._ids)
                f.write(json.dumps({"d": list(key), "v": _b64(d.vec)}) + "\n")
                for b in sorted(d.buckets):
                    f.write(json.dumps({"p": self._ids[key], "b": b}) + "\n")
            for _ in range(self.mixed):
                f.write('{"m":1}\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._lines = self._live()

    # -- writing -------------------------------------------------------------------------------------
    def note(self, rows: list[dict]) -> None:
        """Rows about to be written (the writer calls this before the engine sees them). A journal that
        cannot be written is removed and the catalogue stops answering (the next open rebuilds it): it
        must never claim less than the collection holds."""
        mine = [r for r in rows if r.get("robot") == self.robot]
        if not mine:
            return
        with self._lock:
            if not self.ready:
                return
            lines: list[str] = []
            for r in mine:
                self._note_row(r, bucket_of(r["start"], self.bucket_s), lines)
            if not lines:
                return
            try:
                self._append(lines)
            except OSError as e:
                self._give_up(e)

    def _note_row(self, r: dict, bucket: int, journal: list[str] | None) -> None:
        key = (r["labels"], r["colours"], r["text"])
        doc = self._docs.get(key)
        if doc is None:
            vec = np.asarray(r["vec"], np.float32)
            doc = self._docs[key] = Doc(key, vec)
            self._matrix = None
            if journal is not None:
                self._ids[key], self._next = self._next, self._next + 1
                journal.append(json.dumps({"d": list(key), "v": _b64(vec)}) + "\n")
        elif r["vec"] != doc.floats and not self._same(doc, r["vec"]):
            self.mixed += 1
            if journal is not None:
                journal.append('{"m":1}\n')
        if bucket not in doc.buckets:
            doc.buckets.add(bucket)
            if journal is not None:
                journal.append(json.dumps({"p": self._ids[key], "b": bucket}) + "\n")

    @staticmethod
    def _same(doc: Doc, vec) -> bool:
        v = np.asarray(vec, np.float32)
        return v.shape == doc.vec.shape and float(v @ doc.vec) >= SAME

    def dropped(self, bucket: int) -> None:
        """Retention dropped this robot's partition of `bucket`."""
        with self._lock:
            for d in self._docs.values():
                d.buckets.discard(bucket)
            if not self.ready:
                return
            try:
                if self._lines > 2 * self._live() + 1000:
                    self._rewrite()
                else:
                    self._append([json.dumps({"x": bucket}) + "\n"])
            except OSError as e:
                self._give_up(e)

    def _append(self, lines: list[str]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
        self._lines += len(lines)

    def _give_up(self, err: OSError) -> None:
        """A journal that cannot be written is removed and the catalogue stops answering (the next open
        rebuilds it): it must never claim less than the collection holds."""
        log.warning("sightings catalogue %s not written (%s): off until the index reopens", self.path, err)
        self.ready = False
        self.path.unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------------------------------
    def ranked(self, vector, min_score: float) -> list[tuple[float, Doc]]:
        """Documents with a cosine >= min_score to `vector`, best first (equal scores in a fixed order)."""
        with self._lock:
            if self._matrix is None:
                self._order = list(self._docs.values())
                self._matrix = (np.stack([d.vec for d in self._order]) if self._order
                                else np.zeros((0, self.dim), np.float32))
            order, matrix = self._order, self._matrix
        q = np.asarray(vector, np.float32).reshape(-1)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        scores = matrix @ q if len(order) else np.zeros(0, np.float32)
        out = [(float(scores[i]), order[i]) for i in np.flatnonzero(scores >= min_score)]
        return sorted(out, key=lambda sd: (-round(sd[0], 6), sd[1].key))   # float noise is no order

    def buckets(self, doc: Doc, lo: int, hi: int | None) -> list[int]:
        """The buckets in [lo, hi] (hi None: open) that hold rows of `doc`, oldest first."""
        with self._lock:
            return sorted(b for b in doc.buckets if b >= lo and (hi is None or b <= hi))

    def label_buckets(self, phrase: str, lo: int, hi: int | None) -> set[int]:
        """The buckets in [lo, hi] that hold a document whose labels match `labels like %phrase%`."""
        with self._lock:
            return {b for d in self._docs.values() if d.has_label(phrase)
                    for b in d.buckets if b >= lo and (hi is None or b <= hi)}
