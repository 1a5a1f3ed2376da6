"""`SightingsIndex`: every sighting the memory closes, kept past the STAR memory's horizon.

Opened from a URI: a local path is an embedded Milvus Lite index in this process; `http://host:port`
is a Milvus server (or `milvus-lite server`) that a fleet shares. Nothing else changes between the two.
Writes go through a background writer and never block; queries run on their own connection, so a
question never waits behind a batch. A search by meaning over more than a few partitions, and any label
query, go through the robot's catalogue of distinct documents first (catalogue.py: the engine walks
every row it is asked about, the catalogue tells it which few partitions and rows to ask about).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from vstream_ros.index.backlog import Backlog
from vstream_ros.index.catalogue import Catalogue
from vstream_ros.index.embed import CachedEmbedder, Embedder, HashEmbedder
from vstream_ros.index.record import OUTPUT_FIELDS, Hit, Sighting, from_row
from vstream_ros.index.retention import Retention
from vstream_ros.index.store import (
    IndexConfigError,
    MilvusStore,
    collection_name,
    is_server,
    label_expr,
    window_expr,
)
from vstream_ros.index.writer import IndexWriter

log = logging.getLogger(__name__)

FLEET = "*"                   # robot filter meaning: every robot that writes to this index


class IndexUnavailableError(RuntimeError):
    """A query could not reach the index (a server that is down); writes go on into the backlog."""


@dataclass(frozen=True)
class IndexOptions:
    max_rows: int = 1_000_000            # per robot
    max_age_s: float = 30 * 86400.0      # per robot, from its newest sighting
    bucket_s: float = 900.0              # partition span; a run is filed under its start (Lite reads every
                                         # row of each partition a query names: small buckets, short queries)
    queue_size: int = 10_000
    batch: int = 512
    backlog_rows: int = 100_000
    backlog_path: str | None = None      # default: beside a local index, or in ~/.local/state for a server
    min_score: float = 0.3               # cosine below which a search hit is not a sighting of the phrase
    retry_s: tuple[float, float] = (0.5, 30.0)   # first and longest wait before reconnecting to the index
    seal_rows: int = 2_000               # rows written between flushes into segments (Lite reads the rows
    seal_s: float = 30.0                 # not flushed yet one by one at each query), and the longest wait
    catalogue_path: str | None = None    # default: beside a local index; for a server beside backlog_path
                                         # when it is set, else in ~/.local/state
    search_parts: int = 8                # a search by meaning that names at most this many partitions is
                                         # brute force (cheaper than one probe per document); wider ones
                                         # rank the catalogue's documents first


def default_backlog(uri: str, robot: str, kind: str = "backlog") -> Path:
    tag = hashlib.sha1(f"{uri}|{robot}".encode()).hexdigest()[:12]
    if not is_server(uri):
        return Path(f"{uri.rstrip('/')}.{kind}-{tag}.jsonl")
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "vstream_ros" / f"index-{kind}-{tag}.jsonl"


def default_catalogue(uri: str, robot: str, opt: IndexOptions) -> Path:
    """The catalogue's journal belongs to the index (beside its file: any process that opens it finds it);
    a server's is this machine's, like the backlog."""
    if opt.catalogue_path:
        return Path(opt.catalogue_path)
    if is_server(uri) and opt.backlog_path:
        return Path(f"{opt.backlog_path}.catalogue.jsonl")
    return default_backlog(uri, robot, "catalogue")


class SightingsIndex:
    def __init__(self, uri: str, robot: str, embedder: Embedder | None = None,
                 options: IndexOptions | None = None, on_written=None) -> None:
        if not isinstance(uri, str) or not uri.strip():
            raise ValueError("index uri must be a local path or http://host:port")
        if not robot or robot == FLEET:
            raise ValueError(f"robot must be a name (not empty, not {FLEET!r})")
        self.uri, self.robot = uri, robot
        self.embedder = CachedEmbedder(embedder or HashEmbedder())
        self.opt = options or IndexOptions()
        self.retention: Retention | None = None
        self._qlock, self._qstore = threading.Lock(), None
        self._own_rows: int | None = None
        self.catalogue = Catalogue(default_catalogue(uri, robot, self.opt), robot, collection_name(self.embedder.id),
                                   self.embedder.dim, self.opt.bucket_s)
        backlog = Backlog(self.opt.backlog_path or default_backlog(uri, robot), self.opt.backlog_rows)
        self.writer = IndexWriter(self._connect, self.embedder, backlog, self.opt.queue_size, self.opt.batch,
                                  on_written=on_written, after_write=self._retain, retry_s=self.opt.retry_s,
                                  seal_rows=self.opt.seal_rows, seal_s=self.opt.seal_s,
                                  before_insert=self.catalogue.note)

    def _connect(self) -> MilvusStore:
        """The writer's connection; the catalogue is opened here, before the first row is written (a first
        open after an upgrade scans the robot's rows once)."""
        store = MilvusStore(self.uri, self.embedder.dim, self.embedder.id, self.opt.bucket_s)
        try:
            self.catalogue.open(store)
            self.retention = Retention(store, self.robot, self.opt.max_rows, self.opt.max_age_s,
                                       on_drop=self.catalogue.dropped)
        except Exception:
            store.close()
            raise
        return store

    def _retain(self, store: MilvusStore, rows: list[dict]) -> None:
        mine = [r for r in rows if r["robot"] == self.robot]
        if self.retention is not None and mine:
            self.retention.after_write(mine)

    # -- writing -------------------------------------------------------------------------------------
    def add(self, s: Sighting) -> bool:
        """Queue a sighting (never blocks). False: dropped, the queue was full."""
        return self.writer.put(s)

    def flush(self, timeout: float = 30.0) -> bool:
        return self.writer.flush(timeout)

    def warm(self) -> None:
        """Connect and load the embedder in the background now (see IndexWriter.warm)."""
        self.writer.warm()

    # -- reading -------------------------------------------------------------------------------------
    def _reader(self) -> MilvusStore:
        if self._qstore is None:                     # embedded: the same in-process engine as the writer's
            try:
                self._qstore = MilvusStore(self.uri, self.embedder.dim, self.embedder.id, self.opt.bucket_s)
            except IndexConfigError:
                raise
            except Exception as e:                   # noqa: BLE001 - the client's many ways of saying "down"
                raise IndexUnavailableError(f"sightings index {self.uri} is unreachable: {e}") from e
        if not self.catalogue.ready:                 # a reader loads a journal; only the writer rebuilds one
            try:
                self.catalogue.open(self._qstore, rebuild=False)
            except Exception as e:                   # noqa: BLE001 - the catalogue only speeds queries up
                log.warning("sightings catalogue not opened by the reader: %s", e)
        return self._qstore

    def find(self, phrase: str | None = None, *, vector=None, label: str | None = None, robot: str | None = None,
             t0: float | None = None, t1: float | None = None, limit: int = 10) -> list[Hit]:
        """Sightings that match a phrase (by meaning), a vector, or a label (by substring), or all of them when
        none is given; `robot`: None = this robot, FLEET = every robot, or a name; `[t0, t1]`: overlap
        window in seconds. Newest first."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        if t0 is not None and t1 is not None and t1 < t0:
            raise ValueError(f"empty window: t1 ({t1}) is before t0 ({t0})")
        who = self.robot if robot is None else robot
        with self._qlock:
            store = self._reader()                   # (opens the catalogue from its journal, when it has one)
            cat = self.catalogue if who == self.robot and self.catalogue.usable else None
            parts = self._parts(store, None if who == FLEET else who, t0, t1)
            lo, hi = self._span(store, t0, t1)
            window = window_expr(t0, t1)
            expr = " and ".join(e for e in (window, label and label_expr(label)) if e)
            mine = who == self.robot and self.retention is not None and self.retention.stats.rows > 0
            top = min([t for t in (t1, self.retention.stats.newest if mine else None) if t is not None], default=None)
            if phrase is not None or vector is not None:
                vec = vector if vector is not None else self.embedder.embed([phrase])[0]
                if cat is not None and cat.exact and len(parts) > self.opt.search_parts:
                    got = self._by_documents(store, cat, vec, parts, label, window, lo, hi, limit, top)
                else:
                    got = [(r, s) for r, s in store.search(vec, [n for n, _ in parts], expr, limit, OUTPUT_FIELDS)
                           if s >= self.opt.min_score]
            else:
                if label and cat is not None:            # only the partitions that hold a document of the label
                    have = cat.label_buckets(label, lo, hi)
                    parts = [(n, b) for n, b in parts if b in have]
                got = [(r, 1.0) for r in store.newest(parts, expr, limit, OUTPUT_FIELDS, top=top)]
        hits = [Hit(from_row(r), score) for r, score in got]
        return sorted(hits, key=lambda h: (h.sighting.end, h.sighting.id), reverse=True)[:limit]

    def _by_documents(self, store: MilvusStore, cat: Catalogue, vec, parts: list[tuple[str, int]], label: str | None,
                      window: str, lo: int, hi: int | None, limit: int, top: float | None) -> list[tuple[dict, float]]:
        """A search by meaning through the catalogue: its documents best first, the newest rows of each in
        the partitions that hold it, until `limit` rows. Every row of a document has its vector, so these are
        the brute-force search's top hits (equal scores: the newest), read a document at a time."""
        names = {b: n for n, b in parts}
        out: list[tuple[dict, float]] = []
        for score, doc in cat.ranked(vec, self.opt.min_score):
            if label and not doc.has_label(label):
                continue
            ps = [(names[b], b) for b in cat.buckets(doc, lo, hi) if b in names]
            if not ps:
                continue
            expr = " and ".join(e for e in (window, doc.expr()) if e)
            out += [(r, score) for r in store.newest(ps, expr, limit - len(out), OUTPUT_FIELDS, top=top)]
            if len(out) >= limit:
                break
        return out

    @staticmethod
    def _span(store: MilvusStore, t0: float | None, t1: float | None) -> tuple[int, int | None]:
        """The buckets a window's rows may be filed under: a run may have started in the bucket before t0."""
        return (-1 if t0 is None else store.bucket(t0) - 1), (None if t1 is None else store.bucket(t1))

    @classmethod
    def _parts(cls, store: MilvusStore, robot: str | None, t0: float | None, t1: float | None) -> list[tuple[str, int]]:
        lo, hi = cls._span(store, t0, t1)
        return [(n, b) for n, b in store.partitions(robot) if b >= lo and (hi is None or b <= hi)]

    def get(self, ids: list[str]) -> list[Sighting]:
        """The sightings with these ids that the index holds (any robot)."""
        with self._qlock:
            rows = self._reader().get(list(ids), OUTPUT_FIELDS) if ids else []
        return [from_row(r) for r in rows]

    # -- state ---------------------------------------------------------------------------------------
    def stats(self, robot: str | None = None) -> dict:
        """Rows, oldest stamp and bytes on disk (None for a server) of one robot (None: this one, FLEET: all),
        plus the writer's and retention's counters."""
        who = self.robot if robot is None else robot
        with self._qlock:
            store = self._reader()
            parts = store.partitions(None if who == FLEET else who)
            if who == self.robot and self.retention is not None:
                rows = self.retention.stats.rows                 # the writer's count: a count walks every row
            elif who == self.robot and self._own_rows is not None:
                rows = self._own_rows                            # counted once: nothing was written since
            else:
                rows = sum(store.partition_rows(n) for n, _ in parts)
                if who == self.robot:
                    self._own_rows = rows
            first = store.newest(parts, "", 1, ["id", "start"], newest=False)
            oldest = first[0]["start"] if first else None
            size = store.size_bytes()
        out = {"uri": self.uri, "robot": who, "rows": rows, "oldest_stamp": oldest, "bytes": size,
               "partitions": len(parts), "backlog_rows": self.writer.backlog.rows,
               "backlog_dropped": self.writer.backlog.dropped, "catalogue_docs": len(self.catalogue),
               "catalogue_exact": self.catalogue.exact, **asdict(self.writer.stats)}
        if self.retention is not None:
            out.update({f"retention_{k}": v for k, v in asdict(self.retention.stats).items()})
        return out

    def close(self) -> None:
        self.writer.close()
        for store in {id(s): s for s in (self._qstore, self.writer.store) if s is not None}.values():
            try:
                store.close()
            except Exception:                    # noqa: BLE001 - closing a dead connection
                pass
