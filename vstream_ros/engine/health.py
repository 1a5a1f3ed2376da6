"""Health: the levels and thresholds that judge a camera and the engine (the node only maps them to
diagnostic_msgs). Rates and "since last time" counts come from the previous report of each camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from vstream_ros.engine.config import EngineConfig
from vstream_ros.engine.ingest import CameraStats
from vstream_ros.engine.shedding import ShedState
from vstream_ros.engine.stamps import Verdict

# a worker (encoder, answers, autosave) failing this many times in a row is an error, not a bad frame
WORKER_FAILURES_ERROR = 3
DEVICE_MEMORY_FREE_ERROR = 0.05
# due frames that never reached memory in a report period, as a share of those due: above this, a WARN
HOLES_WARN_FRACTION = 0.1
HOLES_HOLD_S = 60.0   # a hole's WARN stays this long after it was found (a one-period blip is easily missed)


@dataclass(frozen=True)
class CameraInput:
    """What the front end knows of a camera's source (the node: from the ROS graph), for the liveness
    warning to say why no frame comes."""

    topic: str
    expected: str                         # the message type subscribed to
    publishers: tuple[str, ...] = ()      # the type each publisher of the topic offers
    incompatible: str = ""                # why the publishers cannot reach the subscription (QoS), if known
    suggestions: tuple[str, ...] = ()     # image topics with publishers whose names are close to `topic`


def silence(silent: float, timeout: float, source: CameraInput | None) -> str:
    """The liveness warning: how long, and what the source's publishers say about why."""
    text = f"no frame for {silent:.1f} s (camera_timeout_s {timeout:g})"
    if source is None:
        return text
    text += f": {source.topic} has "
    if not source.publishers:
        text += f"no publisher (the node expects {source.expected} there)"
        if source.suggestions:
            return text + f"; image topics with publishers: {', '.join(source.suggestions)} (did you mean one?)"
        return text + ": a mistyped topic, or a camera driver that is not running?"
    kinds = sorted(set(source.publishers))
    text += f"{len(source.publishers)} publisher(s) of {', '.join(kinds)}"
    if source.expected not in kinds:
        return text + (f"; the node subscribed expecting {source.expected} (the publisher came later: deactivate "
                       "and activate the node to take the topic's type)")
    if source.incompatible:
        return text + f"; {source.incompatible}"
    return text + f", the type expected ({source.expected}), but no frame arrives"


class Level(IntEnum):
    OK = 0
    WARN = 1
    ERROR = 2


@dataclass
class Health:
    name: str
    level: Level = Level.OK
    problems: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return "; ".join(self.problems) or "ok"

    def worse(self, level: Level, problem: str) -> None:
        self.level = max(self.level, level)
        self.problems.append(problem)


@dataclass(frozen=True)
class WorkerState:
    """What the health check reads of one engine thread."""

    name: str                # "encoder", "answer worker", "autosave"
    alive: bool
    failures: int            # in a row
    last_error: str


class HealthMonitor:
    """Judges cameras against their previous report; one monitor per reporter."""

    def __init__(self) -> None:
        self._prev: dict[str, tuple[float, int, int, int, int, int, int]] = {}
        self._holes: dict[str, tuple[float, str]] = {}   # camera: (when found, the warning)

    def camera(self, camera: str, st: CameraStats, now: float, period: float,
               cfg: EngineConfig | None = None, source: CameraInput | None = None) -> Health:
        cfg = cfg or EngineConfig(snapshot_path="")
        held_total = st.rejected_by_reason.get(Verdict.HELD.value, 0)
        prev = self._prev.get(camera, (now - period, 0, 0, 0, 0, 0, 0))   # a new camera: counted from 0
        self._prev[camera] = (now, st.encoded, st.overwritten, st.rejected, held_total, st.missed, st.sampled)
        dt = max(now - prev[0], 1e-6)
        rate, overwritten, refused = (st.encoded - prev[1]) / dt, st.overwritten - prev[2], st.rejected - prev[3]
        held, missed, sampled = held_total - prev[4], st.missed - prev[5], st.sampled - prev[6]
        h = Health(f"vstream: camera {camera}")
        silent = st.silent_s(now)
        if silent is not None and cfg.camera_timeout_s and silent > cfg.camera_timeout_s:
            h.worse(Level.WARN, silence(silent, cfg.camera_timeout_s, source))
        due = missed + overwritten + max(sampled, 0)
        if missed and missed > HOLES_WARN_FRACTION * due:
            self._holes[camera] = (now, f"{missed} of {due} due frames never arrived (gaps in the stamps: the memory "
                                        "has holes): frames lost in transport, or the camera publishes slower than "
                                        "sample_rate_hz; use qos_reliability reliable with a larger qos_depth, "
                                        "replay slower, or lower sample_rate_hz")
        found, text = self._holes.get(camera, (-HOLES_HOLD_S, ""))
        if text and now - found <= HOLES_HOLD_S:
            h.worse(Level.WARN, text + (f" ({now - found:.0f} s ago)" if now - found >= 1.0 else ""))
        if refused:
            h.worse(Level.WARN, f"{refused} frames refused")
        if held:
            h.worse(Level.WARN, f"resets rate-limited: a new stream waits ({held} frames refused; at most one reset "
                                f"per {cfg.stamp_reset_min_interval_s:g} s)")
        offset = st.clock_offset_s
        if offset is not None and abs(offset) > cfg.stamp_max_future_s:
            h.worse(Level.WARN, f"stamps run {abs(offset):.1f} s {'ahead of' if offset > 0 else 'behind'} this "
                                "machine's clock")
        if overwritten:
            h.worse(Level.WARN, f"{overwritten} sampled frames overwritten before encoding (encoder too slow): the "
                                "memory has holes; lower sample_rate_hz, turn load_shedding on, or use a faster "
                                "device")
        if st.ingest_lag_s > max(2.0, 4 * period):
            h.worse(Level.ERROR, f"ingest lag {st.ingest_lag_s:.2f} s")
        h.values = {k: str(v) for k, v in {
            "encode_rate_hz": f"{rate:.2f}", "received": st.received, "sampled": st.sampled, "encoded": st.encoded,
            "dropped": st.dropped, "rejected": st.rejected, "missed": st.missed, "overwritten": st.overwritten,
            "held_back": st.held_back, "silent_s": "" if silent is None else f"{silent:.2f}",
            "topic": source.topic if source else "",
            "ingest_lag_s": f"{st.ingest_lag_s:.3f}",
            "resets": st.resets, "reset_min_interval_s": f"{cfg.stamp_reset_min_interval_s:g}",
            "clock_offset_s": "" if offset is None else f"{offset:.3f}",
            **{f"rejected_{k}": v for k, v in st.rejected_by_reason.items()}}.items()}
        return h

    @staticmethod
    def engine(queue_length: int, queue_size: int, last_answer_latency_s: float, frames_in_memory: int,
               snapshot_status: str, workers: list[WorkerState], device_memory_used: float | None,
               load: ShedState | None = None, degraded: list[str] = ()) -> Health:
        """`load`: the shedding policy's state; `degraded`: parts of the backend that are missing
        (Backend.degraded), each a WARN."""
        h = Health("vstream: engine")
        h.values = {"answer_queue": str(queue_length), "answer_queue_size": str(queue_size),
                    "last_answer_latency_s": f"{last_answer_latency_s:.3f}",
                    "frames_in_memory": str(frames_in_memory), "snapshot": snapshot_status}
        if queue_length >= queue_size:
            h.worse(Level.WARN, "answer queue full")
        for problem in degraded:
            h.worse(Level.WARN, problem)
        if snapshot_status.startswith("ERROR"):
            h.worse(Level.WARN, "the snapshot could not be restored (moved aside)")
        for w in workers:
            h.values[f"{w.name.replace(' ', '_')}_failures"] = str(w.failures)
            if not w.alive:
                h.worse(Level.ERROR, f"the {w.name} is not running")
            if w.failures >= WORKER_FAILURES_ERROR:
                h.worse(Level.ERROR, f"the {w.name} failed {w.failures} times in a row: {w.last_error}")
        if load is not None:
            h.values.update({"load_shedding": "on" if load.enabled else "off", "load_level": str(load.level),
                             "load_doing": load.doing, "encoder_busy_fraction": f"{load.busy:.2f}",
                             "load_policy": "; ".join(f"{i}. {s}" for i, s in enumerate(load.levels, 1))})
            if load.level:
                h.worse(Level.WARN, f"encoder behind: load shedding level {load.level} of {len(load.levels)} "
                                    f"({'; '.join(load.levels[:load.level])})")
        if device_memory_used is not None:
            h.values["device_memory_used_fraction"] = f"{device_memory_used:.3f}"
            if 1.0 - device_memory_used < DEVICE_MEMORY_FREE_ERROR:
                h.worse(Level.ERROR, "device memory nearly full")
        return h
