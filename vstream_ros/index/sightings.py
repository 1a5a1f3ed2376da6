"""`SightingsIndex`: every sighting the memory closes, kept past the STAR memory's horizon.

Opened from a URI: a local path is an embedded Milvus Lite index in this process; `http://host:port`
is a Milvus server (or `milvus-lite server`) that a fleet shares. Nothing else changes between the two.
Writes go through a background writer and never block; queries run on their own connection, so a
question never waits behind a batch.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from vstream_ros.index.backlog import Backlog
from vstream_ros.index.embed import CachedEmbedder, Embedder, HashEmbedder
from vstream_ros.index.record import OUTPUT_FIELDS, Hit, Sighting, from_row
from vstream_ros.index.retention import Retention
from vstream_ros.index.store import IndexConfigError, MilvusStore, is_server, label_expr, window_expr
from vstream_ros.index.writer import IndexWriter

FLEET = "*"
class IndexUnavailableError(RuntimeError):
    """A query could not reach the index (a server that is down); writes go on into the backlog."""

                   # robot filter meaning: every robot that writes to this index


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


def default_backlog(uri: str, robot: str) -> Path:
    tag = hashlib.sha1(f"{uri}|{robot}".encode()).hexdigest()[:12]
    if not is_server(uri):
        return Path(f"{uri.rstrip('/')}.backlog-{tag}.jsonl")
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "vstream_ros" / f"index-backlog-{tag}.jsonl"


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
        backlog = Backlog(self.opt.backlog_path or default_backlog(uri, robot), self.opt.backlog_rows)
        self.writer = IndexWriter(self._connect, self.embedder, backlog, self.opt.queue_size, self.opt.batch,
                                  on_written=on_written, after_write=self._retain, retry_s=self.opt.retry_s,
                                  seal_rows=self.opt.seal_rows, seal_s=self.opt.seal_s)

    def _connect(self) -> MilvusStore:
        store = MilvusStore(self.uri, self.embedder.dim, self.embedder.id, self.opt.bucket_s)
        self.retention = Retention(store, self.robot, self.opt.max_rows, self.opt.max_age_s)
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
            store = self._reader()
            parts = self._parts(store, None if who == FLEET else who, t0, t1)
            expr = " and ".join(e for e in (window_expr(t0, t1), label and label_expr(label)) if e)
            if phrase is not None or vector is not None:
                vec = vector if vector is not None else self.embedder.embed([phrase])[0]
                got = [(r, s) for r, s in store.search(vec, [n for n, _ in parts], expr, limit, OUTPUT_FIELDS)
                       if s >= self.opt.min_score]
            else:
                mine = who == self.robot and self.retention is not None and self.retention.stats.rows > 0
                tops = [t for t in (t1, self.retention.stats.newest if mine else None) if t is not None]
                got = [(r, 1.0) for r in store.newest(parts, expr, limit, OUTPUT_FIELDS, top=min(tops, default=None))]
        hits = [Hit(from_row(r), score) for r, score in got]
        return sorted(hits, key=lambda h: (h.sighting.end, h.sighting.id), reverse=True)[:limit]

    @staticmethod
    def _parts(store: MilvusStore, robot: str | None, t0: float | None, t1: float | None) -> list[tuple[str, int]]:
        lo = -1 if t0 is None else store.bucket(t0) - 1          # a run may have started in the bucket before t0
        hi = None if t1 is None else store.bucket(t1)
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
               "backlog_dropped": self.writer.backlog.dropped, **asdict(self.writer.stats)}
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
