"""The background writer: sightings in from the engine, rows out to the index, ingest never waits.

`put` is a non-blocking enqueue on a bounded queue; a full queue drops the sighting and counts it.
One thread embeds a batch (one call for all its texts), connects when it has no connection, replays
the on-disk backlog first, writes, and enforces retention. When the index cannot be reached the batch
goes to the backlog and the next connection is tried after an exponential back-off.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vstream_ros.index.backlog import Backlog
from vstream_ros.index.embed import Embedder
from vstream_ros.index.record import Sighting, to_row

log = logging.getLogger(__name__)


@dataclass
class WriterStats:
    queued: int = 0            # accepted by put
    dropped: int = 0           # refused by put: the queue was full
    written: int = 0           # acknowledged by the index
    backlogged: int = 0        # sent to the on-disk backlog (the index was unreachable)
    replayed: int = 0          # backlog rows written once the index answered again
    failures: int = 0          # failed connects and writes
    connected: bool = False
    last_error: str = ""


class IndexWriter:
    def __init__(self, connect: Callable[[], object], embedder: Embedder, backlog: Backlog,
                 queue_size: int = 10_000, batch: int = 512, on_written: Callable[[list[str]], None] | None = None,
                 after_write: Callable[[object, list[dict]], None] | None = None,
                 retry_s: tuple[float, float] = (0.5, 30.0), seal_rows: int = 2_000, seal_s: float = 30.0,
                 before_insert: Callable[[list[dict]], None] | None = None) -> None:
        self._connect, self.embedder, self.backlog = connect, embedder, backlog
        self.before_insert = before_insert      # sees every row before the engine does (the catalogue's journal)
        self.batch, self.on_written, self.after_write = batch, on_written, after_write
        self.retry_s, self.seal_rows, self.seal_s = retry_s, seal_rows, seal_s
        self._unsealed, self._unsealed_since = 0, 0.0
        self.q: queue.Queue[Sighting | None] = queue.Queue(maxsize=queue_size)
        self.stats = WriterStats()
        self.store = None
        self._next_try, self._delay = 0.0, retry_s[0]
        self._idle = threading.Condition()
        self._busy = 0
        self._stop = threading.Event()
        self._warm = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sightings-writer", daemon=True)
        self._thread.start()

    def put(self, s: Sighting) -> bool:
        """Enqueue without blocking; False (and counted) when the queue is full or the writer stopped."""
        if self._stop.is_set():
            self.stats.dropped += 1
            return False
        with self._idle:
            try:
                self.q.put_nowait(s)
            except queue.Full:
                self.stats.dropped += 1
                return False
            self._busy += 1
        self.stats.queued += 1
        return True

    def warm(self) -> None:
        """Connect and load the embedder now, in the writer's thread (a node at start-up), rather than when the
        first sighting comes (mid-stream, taking CPU from ingest for a few seconds)."""
        self._warm.set()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued sighting is written or backlogged; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._stop.set()
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    # -- the thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if self._warm.is_set():
                self._warm.clear()
                self._warm_up()
            try:
                first = self.q.get(timeout=0.5)
            except queue.Empty:
                if self.backlog.rows and self._due():
                    self._write([])
                elif self._unsealed and time.monotonic() - self._unsealed_since >= self.seal_s:
                    self._seal()
                continue
            if first is None:
                break
            items = [first]
            while len(items) < self.batch:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._stop.set()
                    break
                items.append(nxt)
            try:
                self._write(self._rows(items))
            except Exception as e:                  # noqa: BLE001 - the writer thread must survive anything
                self.stats.failures += 1
                self.stats.last_error = f"{type(e).__name__}: {e}"
                log.exception("sightings writer")
            with self._idle:
                self._busy -= len(items)
                self._idle.notify_all()

    def _warm_up(self) -> None:
        try:
            self.embedder.embed(["warm-up"])
            if self.store is None and self._due():
                self._write([])
        except Exception as e:                      # noqa: BLE001 - the first real batch will say it again
            self.stats.last_error = f"warm-up: {type(e).__name__}: {e}"
            log.warning("sightings index warm-up failed: %s", e)

    def _rows(self, items: list[Sighting]) -> list[dict]:
        need = [s for s in items if s.embedding is None]
        vecs = iter(self.embedder.embed([s.describe() for s in need])) if need else iter(())
        return [to_row(s, s.embedding if s.embedding is not None else next(vecs)) for s in items]

    def _due(self) -> bool:
        return time.monotonic() >= self._next_try

    def _write(self, rows: list[dict]) -> None:
        if self.store is None and self._due():
            try:
                self.store = self._connect()
                self.stats.connected, self._delay = True, self.retry_s[0]
            except Exception as e:                  # noqa: BLE001 - any client error means: not now
                self._failed(e)
        if self.store is not None:
            try:
                if self.backlog.rows:
                    self._replay()
                if rows:
                    self._insert(rows)
                    self._acknowledge(rows)
                return
            except Exception as e:                  # noqa: BLE001
                self._failed(e)
                self.store, self.stats.connected = None, False
        if rows:
            self.backlog.append(rows)
            self.stats.backlogged += len(rows)

    def _replay(self) -> None:
        rows = self.backlog.read()
        for i in range(0, len(rows), self.batch):
            self._insert(rows[i:i + self.batch], upsert=True)      # idempotent: a retry may resend
        self.backlog.clear()
        self.stats.replayed += len(rows)
        self._acknowledge(rows)

    def _insert(self, rows: list[dict], upsert: bool = False) -> None:
        if self.before_insert is not None:
            self.before_insert(rows)
        self.store.insert(rows, upsert=upsert)

    def _seal(self) -> None:
        """Flush what was written into segments: Milvus Lite reads every unflushed row back into Python
        lists at each search, so a query stays short only while few rows wait (at most `seal_rows`, none
        for longer than `seal_s`). A failed flush is retried with the next batch."""
        try:
            self.store.seal()
            self._unsealed = 0
        except Exception as e:                      # noqa: BLE001 - the rows are in the WAL: nothing is lost
            self.stats.last_error = f"seal: {type(e).__name__}: {e}"
            log.warning("sightings index flush failed: %s", e)

    def _acknowledge(self, rows: list[dict]) -> None:
        self.stats.written += len(rows)
        if not self._unsealed:
            self._unsealed_since = time.monotonic()
        self._unsealed += len(rows)
        if self._unsealed >= self.seal_rows or time.monotonic() - self._unsealed_since >= self.seal_s:
            self._seal()
        if self.after_write is not None:
            try:
                self.after_write(self.store, rows)
            except Exception as e:                  # noqa: BLE001 - the rows are written; retention retries next batch
                self.stats.last_error = f"retention: {type(e).__name__}: {e}"
                log.warning("sightings retention failed: %s", e)
        if self.on_written is not None:
            self.on_written([r["id"] for r in rows])

    def _failed(self, e: Exception) -> None:
        self.stats.failures += 1
        self.stats.last_error = f"{type(e).__name__}: {e}"
        self._next_try = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, self.retry_s[1])
        log.warning("sightings index unreachable (%s); retry in %.1f s", self.stats.last_error, self._delay)
