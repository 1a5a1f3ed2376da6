"""The node's reports, every `memory_state_period_s`: ~/memory_state (per camera counters, tokens,
bytes, stamps; only while active) and /diagnostics (the engine's health levels, the callback guard, the
lifecycle state). The levels and thresholds are the engine's (engine/health.py): this only maps them."""

from __future__ import annotations

import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from vstream_ros.engine import Health, StreamEngine
from vstream_ros.engine.sightings import index_state
from vstream_ros.msg import CameraMemoryState, MemoryState
from vstream_ros.ros.guard import guarded
from vstream_ros.ros.lifecycle import MEANING
from vstream_ros.ros.stamps import to_time


def diagnostic(h: Health) -> DiagnosticStatus:
    return DiagnosticStatus(level=bytes([int(h.level)]), name=h.name, hardware_id="vstream", message=h.message,
                            values=[KeyValue(key=k, value=v) for k, v in h.values.items()])


def memory_state(engine: StreamEngine, msg: MemoryState) -> MemoryState:
    """Fill a MemoryState message from the engine's per-camera state (every subscribed camera, from the
    start, and restored ones)."""
    now = time.monotonic()
    for cam, r in engine.camera_state().items():
        st, mem = r.stats, r.memory
        tok = mem.tokens if mem else {}
        nbytes = mem.bytes if mem else {"device": 0, "host": 0}
        rng = mem.stamp_range if mem else None
        msg.cameras.append(CameraMemoryState(
            camera=cam, frames_received=st.received, frames_sampled=st.sampled, frames_encoded=st.encoded,
            frames_dropped=st.dropped, frames_rejected=st.rejected, frames_missed=st.missed,
            silent_s=float(st.silent_s(now) or 0.0),
            rejected_reasons=list(st.rejected_by_reason), rejected_counts=list(st.rejected_by_reason.values()),
            first_stamp=to_time(rng[0]) if rng else Time(), last_stamp=to_time(rng[1]) if rng else Time(),
            tokens_spatial=tok.get("spatial", 0), tokens_temporal=tok.get("temporal", 0),
            tokens_abstract=tok.get("abstract", 0), tokens_retrieved=tok.get("retrieved", 0),
            bytes_device=nbytes["device"], bytes_host=nbytes["host"], ingest_lag_s=st.ingest_lag_s,
            last_encode_latency_s=st.last_encode_latency_s))
    msg.answer_queue_length = engine.queue_length
    msg.last_answer_latency_s = engine.last_answer_latency_s
    load = engine.load_state()
    msg.load_policy, msg.load_level = list(load.levels) if load.enabled else [], load.level
    msg.encoder_busy_fraction = load.busy
    msg.warnings = engine.warnings
    ix = index_state(engine)
    if ix:
        msg.index_uri, msg.index_rows = ix.get("uri", ""), int(ix.get("rows", 0))
        msg.index_bytes = int(ix.get("bytes") or 0)
        msg.index_oldest_stamp = float(ix.get("oldest_stamp") or 0.0)
        msg.index_dropped = int(ix["dropped"]) + int(ix["backlog_dropped"])
        msg.index_backlog_rows = int(ix["backlog_rows"])
    return msg


def index_diagnostic(ix: dict) -> DiagnosticStatus:
    """The sightings index: rows, bytes, oldest stamp, drops and backlog; WARN while it does not answer."""
    error = ix.get("error") or (ix.get("last_error") if not ix.get("connected", True) else "")
    level = DiagnosticStatus.WARN if error else DiagnosticStatus.OK
    keys = ("uri", "robot", "rows", "bytes", "oldest_stamp", "dropped", "backlog_rows", "backlog_dropped", "written",
            "runs_closed", "unnamed")
    return DiagnosticStatus(level=level, name="vstream: sightings index", hardware_id="vstream",
                            message=f"unreachable: {error}" if error else f"{ix.get('rows', 0)} sightings kept",
                            values=[KeyValue(key=k, value=str(ix.get(k))) for k in keys])


class Reports:
    """Mixed into VStreamNode: needs `engine`, `lifecycle_state`, `_active`, `p()`, `_guard`, `_refusals`;
    owns the timer and both publishers (released by `_stop_reports`)."""

    def _create_reports(self) -> None:
        self._state_pub = self.create_lifecycle_publisher(MemoryState, "~/memory_state", 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = self.create_timer(self.p("memory_state_period_s"), self._publish_state,
                                        callback_group=self._timer_group)

    def _stop_reports(self) -> None:
        with self._report_lock:                  # no more ~/memory_state or /diagnostics
            self.destroy_timer(self._timer)
            self.destroy_lifecycle_publisher(self._state_pub)
            self.destroy_publisher(self._diag_pub)
            self._timer = None

    @guarded(lambda self, error: None)
    def _publish_state(self) -> None:
        with self._report_lock:
            if self._timer is not None:
                self._report()

    def _report(self) -> None:
        msg = MemoryState()
        msg.header.stamp = self.get_clock().now().to_msg()
        diag = DiagnosticArray(header=msg.header)
        engine = self.engine
        if engine is None:
            diag.status.append(DiagnosticStatus(level=DiagnosticStatus.WARN, name="vstream: model",
                                                message=f"not loaded (node {self.lifecycle_state})",
                                                hardware_id="vstream"))
            self._diag_pub.publish(diag)
            return
        memory_state(engine, msg)
        diag.status = [diagnostic(h) for h in engine.health(self.p("memory_state_period_s"), self.camera_sources())]
        diag.status.append(diagnostic(self._guard.health()))
        ix = index_state(engine)
        if ix:
            diag.status.append(index_diagnostic(ix))
        if not self._active:
            diag.status.append(DiagnosticStatus(level=DiagnosticStatus.WARN, name="vstream: lifecycle",
                                                message=f"{self.lifecycle_state}: {MEANING[self.lifecycle_state]}",
                                                hardware_id="vstream"))
        else:
            self._state_pub.publish(msg)   # a lifecycle publisher: only while active
        self._diag_pub.publish(diag)
        self._refusals.report(msg.cameras, self.get_logger())
