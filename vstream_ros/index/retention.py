"""Retention of one robot's sightings: at most `max_rows`, none that started more than `max_age_s`
before its newest sighting (sensor time: a replayed bag ages by its own stamps, not the wall clock).

Enforced by the writer after every batch it writes, for its own robot only (each robot of a fleet
keeps its own bound). Whole partitions go by `drop_partition`, which costs nothing per row; only the
partition on the boundary is trimmed row by row, and a count trim goes `slack` rows below the bound
so that the next few batches need no trim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vstream_ros.index.store import MilvusStore, parse_partition


@dataclass
class RetentionStats:
    rows: int = 0                    # this robot's rows in the index
    newest: float = 0.0              # newest end stamp written by this robot
    expired_age: int = 0             # rows removed for age, since open
    expired_count: int = 0           # rows removed for the count bound, since open
    partitions_dropped: int = 0


class Retention:
    def __init__(self, store: MilvusStore, robot: str, max_rows: int, max_age_s: float,
                 on_drop: Callable[[int], None] | None = None) -> None:
        if max_rows < 1 or max_age_s <= 0:
            raise ValueError("max_rows must be >= 1 and max_age_s > 0")
        self.store, self.robot, self.max_rows, self.max_age_s = store, robot, max_rows, max_age_s
        self.on_drop = on_drop              # told the bucket of each partition dropped (the catalogue)
        self.slack = max(1, max_rows // 100)
        self.stats = RetentionStats()
        parts = store.partitions(robot)
        self.stats.rows = sum(store.partition_rows(n) for n, _ in parts)
        ends = [r["end"] for r in store.newest(parts, "", 8, ["id", "start", "end"])]
        self.stats.newest = max(ends, default=0.0)
        self._floor: float | None = parts[0][1] * store.bucket_s if parts else None   # no row starts before it

    def after_write(self, rows: list[dict]) -> None:
        """Account for rows just written, then enforce both bounds."""
        self.stats.rows += len(rows)
        self.stats.newest = max([self.stats.newest] + [r["end"] for r in rows])
        low = self.store.bucket(min(r["start"] for r in rows)) * self.store.bucket_s
        self._floor = low if self._floor is None else min(self._floor, low)
        if self.stats.newest - self.max_age_s > self._floor:        # else nothing is old enough: no listing
            self._age()
        if self.stats.rows > self.max_rows:
            self._count()

    def _age(self) -> None:
        cutoff = self.stats.newest - self.max_age_s
        for name, bucket in self.store.partitions(self.robot):
            if (bucket + 1) * self.store.bucket_s <= cutoff:        # every row started before the cutoff
                self._drop(name, "expired_age")
            elif bucket * self.store.bucket_s < cutoff:              # the boundary partition
                n = self.store.delete(name, expr=f"start < {cutoff!r}")
                self.stats.rows -= n
                self.stats.expired_age += n
                self._floor = cutoff
                break
            else:
                self._floor = bucket * self.store.bucket_s
                break
        else:
            self._floor = cutoff

    def _count(self) -> None:
        excess = self.stats.rows - self.max_rows + self.slack
        for name, _ in self.store.partitions(self.robot):
            if excess <= 0:
                break
            n = self.store.partition_rows(name)
            if n <= excess:
                self._drop(name, "expired_count", n)
                excess -= n
                continue
            rows = sorted(self.store.query([name], "start >= 0", ["id", "start"]), key=lambda r: (r["start"], r["id"]))
            gone = self.store.delete(name, ids=[r["id"] for r in rows[:excess]])
            self.stats.rows -= gone
            self.stats.expired_count += gone
            excess -= gone
            break

    def _drop(self, name: str, counter: str, n: int | None = None) -> None:
        n = self.store.partition_rows(name) if n is None else n
        self.store.drop(name)
        part = parse_partition(name)
        if self.on_drop is not None and part is not None:
            self.on_drop(part[1])
        self.stats.rows -= n
        self.stats.partitions_dropped += 1
        if counter == "expired_age":
            self.stats.expired_age += n
        else:
            self.stats.expired_count += n
