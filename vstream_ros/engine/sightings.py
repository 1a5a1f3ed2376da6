"""The engine's side of the long-term sightings index (vstream_ros/index): runs of encoded frames in,
`Sighting`s out to the index; the index's hits back as evidence.

The encoder thread hands every frame it wrote into the memory to `SightingsFeed.frame` (a few array
operations, no I/O): per camera, adjacent frames form a run, as in the memory's run tables (runs.py),
cut at `index_run_s` so that a thing in view for an hour is several rows with the poses along the way.
When a run closes (a gap, its length, the engine stopping) the backend names what its peak annotation
shows (`name_run`, lite's recogniser: the same words `locate` and the answers use) and the sighting
is queued on the index's writer: a non-blocking put, so ingest never waits on the database.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vstream_ros.index import FLEET, IndexOptions, Pose, Sighting, SightingsIndex, make_embedder
from vstream_ros.memory import TokenGroup
from vstream_ros.memory.read import Run
from vstream_ros.memory.runs import ADJACENT

log = logging.getLogger(__name__)

Namer = Callable[[np.ndarray], tuple[list[str], list[str]]]     # peak annotation -> (labels, colours)


def index_uri(setting: str, snapshot_path: str) -> str:
    """The URI the setting stands for: "auto" is a local file beside the memory snapshot (no snapshot: no
    index), "" is off, anything else is taken as it is (a path, or http://host:19530 for a server)."""
    if setting != "auto":
        return os.path.expanduser(setting)
    if not snapshot_path:
        return ""
    return str(Path(os.path.expanduser(snapshot_path)).parent / "sightings.db")


def robot_name(setting: str) -> str:
    """The name this robot's sightings carry ("" -> "robot")."""
    name = setting.strip().strip("/").replace("/", "_")
    return name or "robot"


@dataclass
class _Open:
    start: float
    end: float
    frames: int
    peak: np.ndarray | None
    pose: np.ndarray | None


class SightingsFeed:
    """Frames of the encoder thread -> closed runs -> named sightings on the index's queue."""

    def __init__(self, index: SightingsIndex, namer: Namer | None, interval: Callable[[str], float],
                 max_span_s: float) -> None:
        self.index, self.namer, self.interval, self.max_span_s = index, namer, interval, max_span_s
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self.runs_closed = 0        # runs that ended
        self.unnamed = 0            # ... in which the backend recognised nothing (not written)
        self.queued = 0             # ... handed to the index
        self.failed = 0             # naming raised (counted, never propagated into the encoder thread)

    def frame(self, camera: str, stamp: float, annotation, pose) -> None:
        """One frame the memory took: extend its camera's run, or close it and start a new one."""
        ann = None if annotation is None else np.asarray(annotation.detach().float().cpu()).reshape(-1)
        p = None if pose is None else np.asarray(pose.detach().cpu() if hasattr(pose, "detach") else pose,
                                                 np.float64).reshape(-1)
        done = None
        with self._lock:
            run = self._open.get(camera)
            gap = ADJACENT * self.interval(camera)
            if run is not None and (stamp - run.end > gap or stamp < run.end or stamp - run.start >= self.max_span_s):
                done, run = run, None
            if run is None:
                self._open[camera] = _Open(stamp, stamp, 1, ann, p)
            else:
                run.end, run.frames = stamp, run.frames + 1
                if ann is not None:
                    run.peak = ann if run.peak is None else np.maximum(run.peak, ann)
                if p is not None:
                    run.pose = p
        if done is not None:
            self._close(camera, done)

    def close_all(self) -> None:
        """Close every open run (the engine stops, or a camera's memory is cleared)."""
        with self._lock:
            runs, self._open = self._open, {}
        for camera, run in runs.items():
            self._close(camera, run)

    def _close(self, camera: str, run: _Open) -> None:
        self.runs_closed += 1
        if self.namer is None or run.peak is None:
            self.unnamed += 1
            return
        try:
            labels, colours = self.namer(run.peak)
            if not labels:
                self.unnamed += 1
                return
            pose = None
            if run.pose is not None and len(run.pose) >= 7 and (len(run.pose) < 8 or run.pose[7] > 0):
                x, y, z, qx, qy, qz, qw = (float(v) for v in run.pose[:7])
                pose = Pose(x, y, z, qx=qx, qy=qy, qz=qz, qw=qw)
            s = Sighting(tuple(labels), camera, self.index.robot, float(run.start), float(run.end),
                         colours=tuple(colours), pose=pose)
        except Exception as e:                      # noqa: BLE001 - a bad run must not reach the encoder thread
            self.failed += 1
            log.warning("sightings: a run of %s could not be named: %s", camera, e)
            return
        if self.index.add(s):
            self.queued += 1


def open_index(config, namer: Namer | None, interval: Callable[[str], float]) -> SightingsFeed | None:
    """The index and its feed from the engine's settings (None when `index_uri` resolves to off)."""
    uri = index_uri(config.index_uri, config.snapshot_path)
    if not uri:
        return None
    opt = IndexOptions(max_rows=config.index_max_rows, max_age_s=config.index_max_age_s,
                       queue_size=config.index_queue_size, backlog_rows=config.index_backlog_rows)
    index = SightingsIndex(uri, robot_name(config.robot_name), make_embedder(config.index_embedder), opt)
    return SightingsFeed(index, namer, interval, config.index_run_s)


def hit_group(hit, own_robot: str) -> TokenGroup:
    """An index hit as the evidence the memory's own sightings are (kind "index", its score as weight); the
    camera of another robot's sighting is named "robot/camera"."""
    s = hit.sighting
    pose = None if s.pose is None else np.array([s.pose.x, s.pose.y, s.pose.z, s.pose.qx, s.pose.qy, s.pose.qz,
                                                s.pose.qw], np.float32)
    run = Run(s.start, s.end, 1, pose=pose)
    label = s.labels[0] if s.labels else ""
    camera = s.camera if s.robot == own_robot else f"{s.robot}/{s.camera}"
    return TokenGroup("index", s.start, s.end, s.end, float(hit.score), 0, 0, camera, (run,), label)


def find_in_index(feed: SightingsFeed, phrase: str, window: tuple[float, float] | None, robot: str,
                  limit: int, before: float | None = None, cameras: list[str] | None = None) -> list[TokenGroup]:
    """The index's sightings of a phrase (by label first, then by meaning) in the window, at most `limit`,
    in time order; `before`: only those that started before this stamp (what the memory no longer holds)."""
    t0, t1 = (None, None) if window is None else window
    if before is not None:
        t1 = before if t1 is None else min(t1, before)
        if t0 is not None and t1 < t0:
            return []
    who = None if not robot else (FLEET if robot == FLEET else robot)
    hits = feed.index.find(label=phrase, robot=who, t0=t0, t1=t1, limit=limit * 4)
    if not hits:
        hits = feed.index.find(phrase, robot=who, t0=t0, t1=t1, limit=limit * 4)
    if cameras:
        hits = [h for h in hits if h.sighting.camera in cameras]
    if before is not None:
        hits = [h for h in hits if h.sighting.start < before]
    return sorted((hit_group(h, feed.index.robot) for h in hits[:limit]), key=lambda g: (g.start, g.end))


def held_since(memory, cameras: list[str] | None) -> float | None:
    """The oldest stamp the STAR memory still holds for these cameras (None: it holds nothing)."""
    starts = [r[0] for c in (cameras or memory.cameras) if c in memory.cameras and (r := memory.stamp_range(c))]
    return min(starts) if starts else None


def locate_with_index(engine, mine, phrase: str, window, cameras, max_results: int, robot: str):
    """`StreamEngine.locate` with the index: this robot's memory answers what it holds (`mine`); the index
    adds the sightings that started before the memory's oldest stamp, all of them in the window when the
    memory found none (it forgot the detail), and every sighting of the other robots asked for."""
    from vstream_ros.engine.jobs import QueryResult

    feed, own = engine.sightings, robot in ("", engine.robot)
    if feed is None:
        if own:
            return mine
        return QueryResult(False, "the sightings index is off (index_uri): only this robot's memory can be asked")
    if robot != FLEET and not own and not robot.strip():
        return QueryResult(False, "robot must be empty (this robot), '*' (the fleet) or a robot's name")
    if not own and not phrase.strip():
        return QueryResult(False, "the object to locate is empty")
    refused = own and not mine.success      # an empty memory, a camera it never saw, a phrase it cannot name
    if refused and (not phrase.strip() or len(phrase) > engine.config.max_question_chars):
        return mine
    keep = max_results if max_results > 0 else engine.config.locate_max_results
    ok = mine if mine is not None and mine.success else None
    evidence, sources = list(ok.evidence) if ok else [], ["memory"] if ok and ok.evidence else []
    frames = mine.frames_in_memory if mine else engine.memory.frames_seen
    t0 = time.perf_counter()
    try:
        if own or robot == FLEET:
            before = held_since(engine.memory, cameras) if evidence else None
            extra = find_in_index(feed, phrase.strip(), window, "", keep, before, cameras)
            if robot == FLEET:
                others = find_in_index(feed, phrase.strip(), window, FLEET, keep * 4, None, None)
                extra += [g for g in others if "/" in g.camera][:keep]
        else:
            extra = find_in_index(feed, phrase.strip(), window, robot, keep, None, None)
    except Exception as e:                          # noqa: BLE001 - a server that is down: say so, keep the memory's
        if ok is not None:
            return dataclasses.replace(ok, error=f"the sightings index did not answer: {e}"[:500])
        return QueryResult(False, f"the sightings index did not answer: {e}"[:500], frames_in_memory=frames)
    if refused and not extra:
        return mine                           # the memory's reason stands: the index has nothing either
    if extra:
        sources.append("index")
    evidence = sorted(evidence + extra, key=lambda g: (g.start, g.end))[-keep:]
    latency = (ok.latency_s if ok else 0.0) + time.perf_counter() - t0
    return QueryResult(True, "", evidence=evidence, frames_in_memory=frames, latency_s=latency,
                       source="+".join(sources) or ("memory" if own else "index"))


def index_state(engine, max_age_s: float = 10.0) -> dict:
    """The index's rows, bytes and oldest stamp (of this robot) with the writer's counters, refreshed at most
    every `max_age_s` (a count is a query: the 1 Hz state topic must not issue one each time). {} when off;
    the last good figures with an "error" when the index does not answer."""
    feed = engine.sightings
    if feed is None:
        return {}
    now = time.monotonic()
    cached = getattr(feed, "_state", None)
    if cached is None or now - cached[0] >= max_age_s:
        try:
            st = feed.index.stats()
        except Exception as e:                      # noqa: BLE001 - a server that is down
            st = {**(cached[1] if cached else {"uri": feed.index.uri}), "error": f"{type(e).__name__}: {e}"[:300]}
        feed._state = cached = (now, st)
    w = feed.index.writer.stats
    return {**cached[1], "dropped": w.dropped, "backlog_rows": feed.index.writer.backlog.rows,
            "backlog_dropped": feed.index.writer.backlog.dropped, "runs_closed": feed.runs_closed,
            "unnamed": feed.unnamed}
