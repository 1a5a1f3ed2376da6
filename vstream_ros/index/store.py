"""The one module that speaks to the vector database: Milvus through pymilvus's `MilvusClient`.

The same client opens a local file (Milvus Lite, embedded, in this process) or a server
(`http://host:19530`: Milvus standalone or cluster, or `milvus-lite server`), so a robot moves to the
fleet's server by changing one URI. Rows live in partitions named by robot and time bucket: a query
for one robot and a window touches only the partitions that can hold it, and retention by age drops
whole partitions.

What Milvus Lite 3.x (pure Python) costs, and the choices that follow (docs/sightings_index.md):
- every search, query and count walks each row of the partitions it names in Python (the dedup of
  upserted versions and the tombstone check: about a microsecond a row), whatever the filter; the
  filter itself is vectorised (pyarrow). So the partitions are small (IndexOptions.bucket_s) and a
  query names only those its window can touch.
- a query materialises each row it returns with every column, the 384 floats of the vector included
  (~0.1 ms a row end to end), and gathers the vectors of every row it walks. So "the newest / oldest
  rows" narrow a bucket by time until only a few rows match (`edge`) instead of reading the bucket, and
  these probes are searches under the filter (`probe`), which walk a row in half a query's time.
- a vector index is built per segment at every flush and compaction (HNSW: the largest CPU cost of
  writing) and saved beside the segment (a second copy of every vector). The embedded index has none:
  Lite searches a segment without an index by brute force over the segment's own vectors, exact and
  with the filter applied first; at a few thousand rows a partition that is no slower. A server gets
  FLAT (a Milvus server needs an index to load a collection). Vectors are unit length and the metric
  is the inner product (= cosine, without normalising every candidate at every search).
- rows not yet flushed (the memtable) are searched by reading each of them back into Python lists, so
  the writer seals often (every IndexOptions.seal_rows rows, and at least every seal_s seconds).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from pathlib import Path

from vstream_ros.index.record import unit

_PART = re.compile(r"^r([0-9a-f]{10})_b(\d+)$")
_OPEN: dict[str, int] = {}            # embedded paths -> clients open in this process (they share one engine)
_OPEN_LOCK = threading.Lock()


class IndexConfigError(ValueError):
    """The index at the URI was made with another embedder or schema."""


def collection_name(embedder_id: str) -> str:
    """One collection per embedder: vectors of two embedders are never compared (robots of a fleet that
    should see each other's sightings use the same embedder)."""
    return "sightings_" + re.sub(r"[^A-Za-z0-9_]", "_", embedder_id)[:200]


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def robot_key(robot: str) -> str:
    """Ten hex digits that stand for a robot name in partition names (any name, any characters)."""
    return hashlib.sha1(robot.encode()).hexdigest()[:10]


def partition_name(robot: str, bucket: int) -> str:
    return f"r{robot_key(robot)}_b{bucket}"


def parse_partition(name: str) -> tuple[str, int] | None:
    m = _PART.match(name)
    return (m.group(1), int(m.group(2))) if m else None


_BLAS_DONE = False


def one_blas_thread() -> None:
    """numpy's own OpenBLAS on one thread in this process (an embedded index only). Lite's brute-force search
    is one small matrix-vector product per segment; on two busy cores OpenBLAS's second thread costs ~3.5 ms
    to wake per product against 0.35 ms for the product itself (1,800 x 384, measured), and it spins on a
    core that ingest needs. Only numpy's library (its numpy.libs copy) is touched: torch's threads are not."""
    global _BLAS_DONE
    if _BLAS_DONE:
        return
    _BLAS_DONE = True
    try:
        from threadpoolctl import ThreadpoolController

        for lib in ThreadpoolController().lib_controllers:
            if lib.internal_api == "openblas" and "numpy" in lib.filepath:
                lib.set_num_threads(1)
    except Exception:                           # noqa: BLE001 - a speed setting: never a reason to fail
        pass


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MilvusStore:
    """A connected collection of sightings. Every method may raise the client's exceptions (a server that
    is down); the writer catches them, a query reports them."""

    def __init__(self, uri: str, dim: int, embedder_id: str, bucket_s: float, timeout_s: float = 5.0) -> None:
        from pymilvus import MilvusClient

        if not is_server(uri):
            one_blas_thread()
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            with _OPEN_LOCK:
                _OPEN[os.path.abspath(uri)] = _OPEN.get(os.path.abspath(uri), 0) + 1
        self.uri, self.dim, self.bucket_s = uri, dim, bucket_s
        self.collection = collection_name(embedder_id)
        self.metric = "IP"
        self._known: set[str] = set()           # partitions this store has seen exist (insert skips a lookup)
        self.client = MilvusClient(uri=uri, timeout=timeout_s)
        self._ensure(embedder_id)

    def _ensure(self, embedder_id: str) -> None:

        c = self.client
        if not c.has_collection(self.collection):
            try:
                self._create(embedder_id)
                return
            except Exception:                   # noqa: BLE001 - another robot of the fleet created it first
                if not c.has_collection(self.collection):
                    raise
        if c.has_collection(self.collection):
            desc = c.describe_collection(self.collection)
            vec = next((f for f in desc["fields"] if f["name"] == "vec"), None)
            dim = int((vec or {}).get("params", {}).get("dim", -1))
            if dim != self.dim:
                raise IndexConfigError(f"the collection {self.collection} at {self.uri} holds {dim}-d vectors; "
                                       f"embedder {embedder_id!r} makes {self.dim}-d ones")
            self.metric = self._index_metric()
            c.load_collection(self.collection)

    def _index_metric(self) -> str:
        """The metric of the collection's vector index (an index made by an earlier version: COSINE, which
        gives the same order and scores on unit vectors); IP when it has none (embedded)."""
        for name in self.client.list_indexes(self.collection, field_name="vec") or []:
            metric = str(self.client.describe_index(self.collection, name).get("metric_type", "")).upper()
            if metric in ("IP", "COSINE"):
                return metric
        return "IP"

    def _create(self, embedder_id: str) -> None:
        from pymilvus import DataType

        c = self.client
        s = c.create_schema(auto_id=False, description=embedder_id)
        s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        for name, n in (("robot", 512), ("camera", 512), ("labels", 4096), ("colours", 2048), ("text", 4096)):
            s.add_field(name, DataType.VARCHAR, max_length=n)
        s.add_field("track", DataType.INT64)
        s.add_field("start", DataType.DOUBLE)
        s.add_field("end", DataType.DOUBLE)
        s.add_field("pose", DataType.JSON, nullable=True)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=self.dim)
        if is_server(self.uri):
            ip = c.prepare_index_params()
            ip.add_index("vec", index_type="FLAT", metric_type="IP")
            c.create_collection(self.collection, schema=s, index_params=ip)
        else:                                   # no index: brute force over each segment's own vectors
            c.create_collection(self.collection, schema=s)

    # -- partitions ------------------------------------------------------------------------------
    def bucket(self, stamp: float) -> int:
        return bucket_of(stamp, self.bucket_s)

    def partitions(self, robot: str | None) -> list[tuple[str, int]]:
        """(name, bucket) of the partitions of one robot (None: every robot), oldest bucket first."""
        key = None if robot is None else robot_key(robot)
        out = []
        for name in self.client.list_partitions(self.collection):
            p = parse_partition(name)
            if p and (key is None or p[0] == key):
                out.append((name, p[1]))
        return sorted(out, key=lambda nb: nb[1])

    def partition_rows(self, name: str) -> int:
        return int(self.client.get_partition_stats(self.collection, name).get("row_count", 0))

    def drop(self, name: str) -> None:
        self._known.discard(name)
        try:
            self.client.release_partitions(self.collection, [name])
        except Exception:                       # noqa: BLE001 - Lite needs no release; a server does
            pass
        self.client.drop_partition(self.collection, name)

    # -- rows --------------------------------------------------------------------------------------
    def insert(self, rows: list[dict], upsert: bool = False) -> None:
        """Rows go to the partition of their robot and start bucket (created on first use)."""
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(partition_name(r["robot"], self.bucket(r["start"])), []).append(r)
        for name, part in groups.items():
            if name not in self._known:
                if not self.client.has_partition(self.collection, name):
                    try:
                        self.client.create_partition(self.collection, name)
                    except Exception:           # noqa: BLE001 - created meanwhile by another writer
                        if not self.client.has_partition(self.collection, name):
                            raise
                self._known.add(name)
            (self.client.upsert if upsert else self.client.insert)(self.collection, part, partition_name=name)

    def seal(self) -> None:
        """Turn what was written into indexed segments (Milvus Lite searches its unsealed buffer row by row)."""
        self.client.flush(self.collection)

    def delete(self, name: str, expr: str | None = None, ids: list[str] | None = None) -> int:
        kw = {"ids": ids} if ids is not None else {"filter": expr}
        res = self.client.delete(self.collection, partition_name=name, **kw)
        return len(res) if isinstance(res, list) else int(dict(res).get("delete_count", 0))

    def search(self, vector, parts: list[str], expr: str, limit: int, fields: list[str]) -> list[tuple[dict, float]]:
        if not parts:
            return []
        res = self.client.search(self.collection, [unit(vector)], limit=limit, filter=expr,
                                 partition_names=parts, output_fields=fields, anns_field="vec",
                                 search_params={"metric_type": self.metric})
        return [(dict(h["entity"], id=h["id"]), float(h["distance"])) for h in res[0]]

    def query(self, parts: list[str], expr: str, fields: list[str], limit: int | None = None) -> list[dict]:
        if not parts:
            return []
        kw = {"limit": limit} if limit else {}
        return [dict(r) for r in self.client.query(self.collection, filter=expr, output_fields=fields,
                                                   partition_names=parts, **kw)]

    def probe(self, parts: list[str], expr: str, fields: list[str], limit: int) -> list[dict]:
        """Up to `limit` rows matching `expr`, in no particular order: a search for a fixed vector under the
        filter. In Lite a search walks a row in half the time a query does (a query also gathers the vector
        of every row it walks, whether or not it matches)."""
        if not parts:
            return []
        res = self.client.search(self.collection, [[1.0] + [0.0] * (self.dim - 1)], limit=limit, filter=expr,
                                 partition_names=parts, output_fields=fields, anns_field="vec",
                                 search_params={"metric_type": self.metric})
        return [dict(h["entity"], id=h["id"]) for h in res[0]]

    def newest(self, parts: list[tuple[str, int]], expr: str, k: int, fields: list[str],
               newest: bool = True, top: float | None = None) -> list[dict]:
        """The `k` rows matching `expr` that started last (or first) among these (name, bucket) partitions,
        newest (oldest) first. Buckets are read from the newest (oldest) in groups of 1, 1, 2, 4, ... 16 with
        one capped query per group: a group with few matches costs one pass over its rows, a bucket with many
        is read at its edge (`edge`). `top`: no matching row starts after it (the window's end, the writer's
        newest stamp): the newest bucket's edge is read from there, at once when `expr` has no label filter.
        (Lite copies the vectors of the rows a search walks, one segment at a time: groups stay small.)"""
        byb: dict[int, list[str]] = {}
        for name, b in parts:
            byb.setdefault(b, []).append(name)
        order = sorted(byb, reverse=newest)
        out: list[dict] = []
        i, g, cap = 0, 0, max(4 * k, 32)

        def span(b: int) -> tuple[float, float]:
            lo, hi = b * self.bucket_s, (b + 1) * self.bucket_s
            return (lo, min(hi, top + 1e-6)) if newest and top is not None and lo <= top else (lo, hi)

        if order and newest and top is not None and "labels" not in expr:
            out += self.edge(byb[order[0]], expr, *span(order[0]), k, fields)
            i, g = 1, 1
        while i < len(order) and len(out) < k:
            size = 1 if g < 2 else min(16, 2 ** (g - 1))
            group, i, g = order[i:i + size], i + size, g + 1
            rows = self.probe([n for b in group for n in byb[b]], expr, fields, cap)
            if len(rows) < cap:
                out += sorted(rows, key=lambda r: (r["start"], r["id"]), reverse=newest)
                continue
            for b in group:
                out += self.edge(byb[b], expr, *span(b), k - len(out), fields, newest, full=len(group) == 1)
                if len(out) >= k:
                    break
        return out[:k]

    def edge(self, parts: list[str], expr: str, lo: float, hi: float, k: int, fields: list[str],
             newest: bool = True, full: bool = False) -> list[dict]:
        """The `k` rows of these partitions (one time bucket, [lo, hi)) that started last (or first), reading
        about `k` rows: a window at the bucket's end (or start) widened 4x until it holds `k` rows, narrowed by
        halves while it holds more than the engine should read (a capped query returns rows in storage order,
        so it may miss the newest). `full`: the whole bucket is known to hold that many (start at its half).
        All the bucket's rows when it holds fewer than `k`."""
        cap = max(4 * k, 32)
        short, long = 0.0, (hi - lo if full else None)   # widths known to hold fewer than k / at least cap rows
        w = (hi - lo) / (2 if full else 64)
        rows: list[dict] = []
        for _ in range(40):
            x = hi - w if newest else lo + w
            whole = x <= lo if newest else x >= hi
            win = "" if whole else (f"start >= {x!r}" if newest else f"start < {x!r}")
            rows = self.probe(parts, " and ".join(e for e in (expr, win) if e), fields, cap)
            if len(rows) >= cap:
                long = w
                if w - short <= (hi - lo) * 1e-9:      # as narrow as it gets (rows of one stamp): take them
                    break
                w = (short + w) / 2
                continue
            if len(rows) >= k or whole:
                break
            short = w
            w = w * 4 if long is None else (w + long) / 2
        return sorted(rows, key=lambda r: (r["start"], r["id"]), reverse=newest)[:k]

    def get(self, ids: list[str], fields: list[str]) -> list[dict]:
        return [dict(r) for r in self.client.get(self.collection, ids=ids, output_fields=fields)]

    def size_bytes(self) -> int | None:
        """Bytes on disk of an embedded index (None for a server: it does not say)."""
        if is_server(self.uri):
            return None
        root = Path(self.uri)
        if root.is_file():
            return root.stat().st_size
        return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0

    def close(self) -> None:
        """Close the connection; the last client of an embedded index in this process stops its engine
        (which releases the data folder's lock for another process)."""
        try:
            self.client.close()
        finally:
            if not is_server(self.uri):
                path = os.path.abspath(self.uri)
                with _OPEN_LOCK:
                    _OPEN[path] = _OPEN.get(path, 1) - 1
                    last = _OPEN[path] <= 0
                if last:
                    from milvus_lite import server_manager_instance

                    server_manager_instance.release_server(path)


def bucket_of(stamp: float, bucket_s: float) -> int:
    """The time bucket (partition) a row that starts at `stamp` is filed under."""
    return int(math.floor(stamp / bucket_s))


def window_expr(t0: float | None, t1: float | None) -> str:
    """Rows whose [start, end] meets [t0, t1] (either end open)."""
    terms = []
    if t0 is not None:
        terms.append(f"end >= {float(t0)!r}")
    if t1 is not None:
        terms.append(f"start <= {float(t1)!r}")
    return " and ".join(terms)


def label_expr(phrase: str) -> str:
    return f"labels like {_quote('%' + phrase + '%')}"


def doc_expr(labels: str, colours: str, text: str) -> str:
    """Rows of one document: these labels, colours and text columns exactly (the catalogue's key)."""
    return f"labels == {_quote(labels)} and colours == {_quote(colours)} and text == {_quote(text)}"
