"""Rows that could not reach the index, kept on disk until it answers again, bounded in rows.

One JSON row per line, appended and flushed (a killed process keeps what it appended). Past the bound
the oldest rows go first, and are counted: a server down for a week costs the oldest sightings, never
the robot's disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Backlog:
    def __init__(self, path: str | Path, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be >= 1")
        self.path, self.max_rows, self.dropped = Path(path), max_rows, 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = self._count()

    def _count(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            return sum(1 for line in f if line.strip())

    def append(self, rows: list[dict]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
            f.flush()
        self.rows += len(rows)
        if self.rows > self.max_rows:
            self._keep_newest()

    def _keep_newest(self) -> None:
        rows = self.read()
        keep = rows[-self.max_rows:]
        self.dropped += len(rows) - len(keep)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for r in keep:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.rows = len(keep)

    def read(self) -> list[dict]:
        """Every row kept, oldest first (a torn last line from a killed writer is skipped)."""
        if not self.path.exists():
            return []
        out = []
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.rows = 0
