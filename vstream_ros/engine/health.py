"""Health: the levels and thresholds that judge a camera and the engine (the node only maps them to
diagnostic_msgs). Rates and "since last time" counts come from the previous report of each camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from vstream_ros.engine.ingest import CameraStats

# a worker (encoder, answers, autosave) failing this many times in a row is an error, not a bad frame
WORKER_FAILURES_ERROR = 3
DEVICE_MEMORY_FREE_ERROR = 0.05


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
        self._prev: dict[str, tuple[float, int, int, int]] = {}

    def camera(self, camera: str, st: CameraStats, now: float, period: float) -> Health:
        prev = self._prev.get(camera, (now - period, 0, 0, 0))   # a new camera: counted from 0
        self._prev[camera] = (now, st.encoded, st.overwritten, st.rejected)
        dt = max(now - prev[0], 1e-6)
        rate, overwritten, refused = (st.encoded - prev[1]) / dt, st.overwritten - prev[2], st.rejected - prev[3]
        h = Health(f"vstream: camera {camera}")
        if refused:
            h.worse(Level.WARN, f"{refused} frames refused")
        if overwritten:
            h.worse(Level.WARN, f"{overwritten} sampled frames overwritten before encoding (encoder too slow)")
        if st.ingest_lag_s > max(2.0, 4 * period):
            h.worse(Level.ERROR, f"ingest lag {st.ingest_lag_s:.2f} s")
        h.values = {k: str(v) for k, v in {
            "encode_rate_hz": f"{rate:.2f}", "received": st.received, "sampled": st.sampled, "encoded": st.encoded,
            "dropped": st.dropped, "rejected": st.rejected, "ingest_lag_s": f"{st.ingest_lag_s:.3f}",
            "resets": st.resets, **{f"rejected_{k}": v for k, v in st.rejected_by_reason.items()}}.items()}
        return h

    @staticmethod
    def engine(queue_length: int, queue_size: int, last_answer_latency_s: float, frames_in_memory: int,
               snapshot_status: str, workers: list[WorkerState], device_memory_used: float | None,
               degraded: list[str] = ()) -> Health:
        """`degraded`: parts of the backend that are missing (Backend.degraded), each a WARN."""
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
        if device_memory_used is not None:
            h.values["device_memory_used_fraction"] = f"{device_memory_used:.3f}"
            if 1.0 - device_memory_used < DEVICE_MEMORY_FREE_ERROR:
                h.worse(Level.ERROR, "device memory nearly full")
        return h
