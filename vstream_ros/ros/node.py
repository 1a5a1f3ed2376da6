"""The `vstream` node: a managed lifecycle node around the StreamEngine, by the ROS 2 managed-node design.

States (what each one does for ingest and for questions):
  unconfigured  no model loaded. ~/query, ~/ask, ~/save_memory, ~/reset_memory refuse at once, saying so.
  inactive      model loaded, memory kept, nothing ingested (no camera subscription). Questions are refused
                at once ("the node is inactive"); ~/save_memory and ~/reset_memory work. /diagnostics
                reports the state; ~/memory_state is silent.
  active        frames ingested, questions answered, ~/memory_state published.
  finalized     (shutdown) subscriptions released, engine stopped, memory saved, models freed, nothing
                published; services refuse ("finalized"); only the lifecycle services serve, as the design
                keeps a finalized node for introspection. The process ends with SIGINT or SIGTERM.
Transitions: configure (load the backend, restore the snapshot, start the workers), activate (subscribe),
deactivate (unsubscribe; questions being answered finish), cleanup (stop, save the memory, free the models
and the GPU memory), shutdown from any state (all of it). Each transition is logged with what it did.
SIGINT and SIGTERM save the memory and exit.

Run: `vstream_node --ros-args --params-file config/vstream.yaml` (or `python -m vstream_ros.ros.node`).
"""

from __future__ import annotations

import functools
import gc
import signal
import sys
import threading
import time

import rclpy
import torch
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, PoseStamped, PoseWithCovarianceStamped, Quaternion
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from vstream_ros.action import Ask
from vstream_ros.cameras import camera_names
from vstream_ros.config import BackendConfig, MemorySizes, runtime_names
from vstream_ros.engine import CANCELLED, EngineConfig, Health, QueryResult, StreamEngine, build_engine
from vstream_ros.engine.tokens import visual_tokens_text
from vstream_ros.frames import FrameRejected
from vstream_ros.memory import TokenGroup
from vstream_ros.msg import CameraMemoryState, Evidence, MemoryState
from vstream_ros.ros.guard import CallbackGuard, RefusalLog, guarded
from vstream_ros.ros.image_codec import check_image, compressed_to_rgb, image_to_rgb
from vstream_ros.ros.params import BY_NAME, PARAMS, SECTIONS, NodeConfig, descriptor
from vstream_ros.ros.pose_msgs import ODOMETRY, POSE_TYPES, POSE_WITH_COVARIANCE, pose_type, unpack
from vstream_ros.ros.stamps import request_window, to_seconds, to_time
from vstream_ros.srv import Locate, Query

# engine settings a parameter change reaches at run time
RUNTIME_ENGINE = runtime_names(EngineConfig)
SUCCESS, FAILURE, ERROR = (TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE,
                           TransitionCallbackReturn.ERROR)

# what a state means, logged on entering it
MEANING = {
    "unconfigured": "no model loaded (none held in memory or on the GPU); questions refused",
    "inactive": "memory kept, no frames ingested, questions refused (save_memory and reset_memory work)",
    "active": "ingesting frames and answering questions",
    "finalized": "nothing runs (no subscription, no worker, no model); the process waits for SIGINT or SIGTERM",
}
# why a question is refused in each state but active
REFUSED = {
    "unconfigured": "the model is not loaded: the node is unconfigured (configure and activate it)",
    "inactive": "the node is inactive: questions are answered only while it is active (activate it)",
    "finalized": "the node is finalized (shut down): start it again",
}




def _trigger_failed(self, req, res, error: str):
    """A std_srvs/Trigger response for a callback that raised (see ros/guard.py)."""
    res.success, res.message = False, error
    return res


# poses: keep the newest, take them from reliable and best-effort publishers alike (odometry drivers use
# either), never ask for old ones (a transient-local request would not match a volatile /odom)
POSE_QOS = QoSProfile(depth=50, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def evidence(g: TokenGroup, pose_frame: str) -> Evidence:
    """A memory group as Evidence; the pose is that of its newest run with one (ready as a Nav2 goal)."""
    ev = Evidence(stamp=to_time(g.start), stamp_end=to_time(g.end), camera=g.camera, kind=g.kind, label=g.label,
                  weight=float(g.weight))
    posed = [r for r in g.runs if r.pose is not None]
    if posed:
        x, y, z, qx, qy, qz, qw = (float(v) for v in posed[-1].pose[:7])
        ev.has_pose = True
        ev.pose = PoseStamped(header=Header(stamp=to_time(posed[-1].end), frame_id=pose_frame),
                              pose=Pose(position=Point(x=x, y=y, z=z),
                                        orientation=Quaternion(x=qx, y=qy, z=qz, w=qw)))
    return ev


def fill_response(res, result: QueryResult, pose_frame: str = ""):
    res.success, res.error, res.answer, res.partial = result.success, result.error, result.answer, result.partial
    res.intent = result.intent
    res.evidence = [evidence(g, pose_frame) for g in result.evidence]
    res.latency_s = float(result.latency_s)
    res.frames_in_memory = int(result.frames_in_memory)
    return res


def locate_response(res, result: QueryResult, pose_frame: str = ""):
    res.success, res.error = result.success, result.error
    res.sightings = [evidence(g, pose_frame) for g in result.evidence]
    res.frames_in_memory = int(result.frames_in_memory)
    return res


def transition(name: str, reached: str):
    """Wrap a lifecycle callback: log the transition and its outcome, and turn an exception into a logged
    ERROR (rclpy would swallow it silently)."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(self: VStreamNode, state: LifecycleState) -> TransitionCallbackReturn:
            log = self.get_logger()
            log.info(f"{name}: from {state.label}")
            try:
                ret = fn(self, state)
            except Exception as e:
                log.error(f"{name} failed: {type(e).__name__}: {e}")
                return ERROR
            if ret == SUCCESS:
                self.lifecycle_state = reached
                log.info(f"{name} done, now {reached}: {MEANING[reached]}")
            else:
                log.error(f"{name} failed: back to {state.label}" if ret == FAILURE else f"{name}: error")
            return ret
        return run
    return wrap


class VStreamNode(LifecycleNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vstream", **kwargs)
        for p in PARAMS:
            self.declare_parameter(p.name, p.default, descriptor(p))
        self.engine: StreamEngine | None = None
        self.lifecycle_state = "unconfigured"
        self._active = False                      # ingest and questions; set and cleared by the transitions
        self._subs = []
        self._ingest_groups: list[MutuallyExclusiveCallbackGroup] = []
        self._query_group = ReentrantCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._max_pixels = self.p("max_image_pixels")
        self._last_diag: dict[str, tuple[float, int, int, int]] = {}
        self._engine_lock = threading.Lock()      # one closer of the engine at a time
        self._report_lock = threading.Lock()      # the state report against shutdown's release of publishers
        # Services exist in every state and say why they refuse outside the active state.
        self.create_service(Query, "~/query", self._on_query, callback_group=self._query_group)
        self.create_service(Locate, "~/locate", self._on_locate, callback_group=self._query_group)
        self.create_service(Trigger, "~/save_memory", self._on_save, callback_group=self._query_group)
        self.create_service(Trigger, "~/reset_memory", self._on_reset, callback_group=self._query_group)
        self._ask = ActionServer(self, Ask, "~/ask", execute_callback=self._execute_ask,
                                 goal_callback=lambda _: GoalResponse.ACCEPT,
                                 cancel_callback=self._on_cancel, callback_group=self._query_group)
        self._state_pub = self.create_lifecycle_publisher(MemoryState, "~/memory_state", 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = self.create_timer(self.p("memory_state_period_s"), self._publish_state,
                                        callback_group=self._timer_group)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def p(self, name: str):
        return self.get_parameter(name).value

    def settings(self, cls: type):
        """A settings dataclass filled from this node's parameters of the same names (checked: ValueError)."""
        return cls(**{spec.name: self.p(spec.name) for spec in SECTIONS[cls]})

    def cameras(self) -> list[tuple[str, str]]:
        """(topic, camera name) for each camera topic; ValueError when camera_names does not fit."""
        topics = list(self.p("camera_topics"))
        names = [n for n in self.p("camera_names") if n]
        if names and len(names) != len(topics):
            raise ValueError(f"camera_names has {len(names)} names for {len(topics)} topics")
        return list(zip(topics, names or camera_names(topics), strict=True))

    # ------------------------------------------------------------ lifecycle
    @transition("configure", "inactive")
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        t0 = time.monotonic()
        engine = None
        try:
            self.settings(NodeConfig)
            self.cameras()
            engine = build_engine(self.settings(BackendConfig), self.settings(EngineConfig),
                                  self.settings(MemorySizes))
            warm = engine.warm_up()
        except Exception as e:   # a bad setting or model path, an out-of-memory GPU: say so, stay unconfigured
            self.get_logger().error(f"configure failed: {type(e).__name__}: {e}")
            if engine is not None:
                engine.backend.close()
            del engine
            free_device_memory()
            return FAILURE
        status = engine.restore()
        (self.get_logger().error if status.startswith("ERROR") else self.get_logger().info)(status)
        engine.start()
        self.engine = engine
        enc = engine.backend.encoder
        self.get_logger().info(
            f"backend {engine.backend.name} ({enc.id}) on {enc.device} in {time.monotonic() - t0:.1f} s "
            f"(warm-up {warm:.1f} s); {visual_tokens_text(engine.backend, engine.memory.config, enc.feature_grid)}")
        return super().on_configure(state)

    @transition("activate", "active")
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        known = dict(self.get_topic_names_and_types())
        qos = QoSProfile(depth=self.p("qos_depth"), reliability=ReliabilityPolicy.RELIABLE) \
            if self.p("qos_reliability") == "reliable" \
            else QoSProfile(depth=self.p("qos_depth"), reliability=qos_profile_sensor_data.reliability,
                            durability=qos_profile_sensor_data.durability, history=qos_profile_sensor_data.history)
        for topic, name in self.cameras():
            resolved = self.resolve_topic_name(topic)
            types = known.get(resolved, [])
            compressed = "sensor_msgs/msg/CompressedImage" in types or (not types and resolved.endswith("/compressed"))
            group = MutuallyExclusiveCallbackGroup()   # one camera's frames in order; cameras in parallel
            self._ingest_groups.append(group)
            cb = functools.partial(self._on_compressed if compressed else self._on_image, name)
            self._subs.append(self.create_subscription(CompressedImage if compressed else Image, topic, cb, qos,
                                                       callback_group=group))
            self.get_logger().info(f"camera {name!r}: {resolved} ({'CompressedImage' if compressed else 'Image'})")
        self._subscribe_pose(known)
        self._active = True
        return super().on_activate(state)

    @transition("deactivate", "inactive")
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._unsubscribe()
        return super().on_deactivate(state)

    @transition("cleanup", "unconfigured")
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close_engine()
        return super().on_cleanup(state)

    @transition("shutdown", "finalized")
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._unsubscribe()
        self._close_engine()
        with self._report_lock:                  # no more ~/memory_state or /diagnostics
            self.destroy_timer(self._timer)
            self.destroy_lifecycle_publisher(self._state_pub)
            self.destroy_publisher(self._diag_pub)
            self._timer = None
        return super().on_shutdown(state)

    @transition("error processing", "unconfigured")
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._unsubscribe()
        self._close_engine()
        return SUCCESS

    def _unsubscribe(self) -> None:
        n = len(self._subs)
        for s in self._subs:
            self.destroy_subscription(s)
        self._subs.clear()
        self._ingest_groups.clear()
        if n:
            self.get_logger().info(f"released {n} camera subscription(s)")

    def _close_engine(self) -> None:
        """Stop the engine's workers, save the memory, free the models and their device memory."""
        with self._engine_lock:
            engine, self.engine = self.engine, None
            if engine is None:
                return
            # after SIGINT the context is gone and rosout with it: log to stderr then
            log = self.get_logger() if self.context.ok() else None
            try:
                engine.close()   # stops the workers, saves the memory, frees the models
                path = engine.config.snapshot_path
                text = f"memory saved to {path}" if path else "memory not saved (snapshot_path is empty)"
                log.info(text) if log else print(f"[vstream] {text}", file=sys.stderr)
            except OSError as e:
                text = f"could not save the memory: {e}"
                log.error(text) if log else print(f"[vstream] ERROR: {text}", file=sys.stderr)
            del engine
            free_device_memory()

    # --------------------------------------------------------------- ingest
    # No logging per frame (rclpy's logger inspects its caller on every call, throttled or not):
    # refusals are counted by reason and reported by the state timer and /diagnostics.
    def _on_image(self, camera: str, msg: Image) -> None:
        self._ingest(camera, msg, image_to_rgb, check_image)

    def _on_compressed(self, camera: str, msg: CompressedImage) -> None:
        self._ingest(camera, msg, compressed_to_rgb, None)

    def _ingest(self, camera: str, msg, decode, check) -> None:
        """Cheap header checks, then the frame is offered with a decoder that only runs if it is due."""
        engine = self.engine
        if engine is None:
            return
        try:
            if check is not None:
                check(msg, self._max_pixels)
            engine.offer(camera, to_seconds(msg.header.stamp), functools.partial(decode, msg, self._max_pixels))
        except FrameRejected as e:
            engine.reject(camera, e)
        except Exception as e:   # the last resort: no frame may end the executor's spin
            self._guard.caught(f"camera {camera} callback", e)
            engine.reject(camera, FrameRejected("callback_error", type(e).__name__))

    # ---------------------------------------------------------------- poses
    def _subscribe_pose(self, known: dict[str, list[str]]) -> None:
        """Subscribe to `pose_topic` (if set) with the type it has on the graph; unsubscribed with the
        cameras on deactivate."""
        topic = self.p("pose_topic")
        if not topic:
            return
        resolved = self.resolve_topic_name(topic)
        on_graph = known.get(resolved, [])
        if on_graph and not set(on_graph) & set(POSE_TYPES):
            self.get_logger().error(f"pose_topic {resolved} carries {on_graph}, not a pose type of {POSE_TYPES}: "
                                    "no poses")
            return
        kind = pose_type(resolved, on_graph)
        cls = {ODOMETRY: Odometry, POSE_WITH_COVARIANCE: PoseWithCovarianceStamped}.get(kind, PoseStamped)
        self._subs.append(self.create_subscription(cls, topic, self._on_pose, POSE_QOS,
                                                   callback_group=MutuallyExclusiveCallbackGroup()))
        self.get_logger().info(f"robot pose: {resolved} ({kind.rsplit('/', 1)[-1]}); frames more than "
                               f"{self.p('pose_max_gap_s')} s from a pose get none")

    @guarded(lambda self, msg, error: None)
    def _on_pose(self, msg) -> None:
        """Every pose message: into the engine's buffer, nothing else (unusable ones are counted there)."""
        engine = self.engine
        if engine is not None:
            engine.poses.add(*unpack(msg))

    def _pose_frame(self) -> str:
        return self.engine.poses.frame_id if self.engine is not None else ""

    # ------------------------------------------------------------ questions
    def _refusal(self, req) -> str:
        """Why a question cannot be asked now ("" when it can): the state, or a malformed window."""
        if not self._active or self.engine is None:
            return REFUSED.get(self.lifecycle_state, REFUSED["inactive"])
        try:
            request_window(req.start, req.end)
        except ValueError as e:
            return str(e)
        return ""

    def _submit(self, req, on_piece=None):
        engine = self.engine
        return engine, engine.ask(req.question, request_window(req.start, req.end), list(req.cameras),
                                  int(req.max_new_tokens), on_piece)

    @guarded(lambda self, req, res, error: fill_response(res, QueryResult(False, error)))
    def _on_query(self, req: Query.Request, res: Query.Response) -> Query.Response:
        refusal = self._refusal(req)
        if refusal:
            return fill_response(res, QueryResult(False, refusal))
        engine, job = self._submit(req)
        return fill_response(res, job.wait(engine.config.answer_timeout_s + 10.0), self._pose_frame())

    @guarded(lambda self, req, res, error: locate_response(res, QueryResult(False, error)))
    def _on_locate(self, req: Locate.Request, res: Locate.Response) -> Locate.Response:
        """Sightings of `req.object` in time order with their poses; answered in this callback (no queue)."""
        refusal = self._refusal(req)
        if refusal:
            return locate_response(res, QueryResult(False, refusal))
        result = self.engine.locate(req.object, request_window(req.start, req.end), list(req.cameras),
                                    int(req.max_results))
        return locate_response(res, result, self._pose_frame())

    def _execute_ask(self, goal_handle) -> Ask.Result:
        feedback = Ask.Feedback()

        def on_piece(text: str, tokens: int) -> None:
            feedback.partial_answer, feedback.tokens = text, tokens
            goal_handle.publish_feedback(feedback)

        refusal = self._refusal(goal_handle.request)
        if refusal:
            goal_handle.abort()
            return fill_response(Ask.Result(), QueryResult(False, refusal))
        _, job = self._submit(goal_handle.request, on_piece)
        while not job.done.wait(0.05):
            if goal_handle.is_cancel_requested:
                job.cancel.set()
        result = job.result
        if result.error == CANCELLED or (goal_handle.is_cancel_requested and result.partial):
            # cancelled while waiting or generating: the text so far, labelled partial
            result.error, result.partial = CANCELLED, True
            goal_handle.canceled()
        elif result.success:
            goal_handle.succeed()        # finished before the cancel reached it: a whole answer
        else:
            goal_handle.abort()
        return fill_response(Ask.Result(), result, self._pose_frame())

    def _on_cancel(self, goal_handle) -> CancelResponse:
        self.get_logger().info(f"ask: cancel requested for goal {bytes(goal_handle.goal_id.uuid).hex()[:8]}")
        return CancelResponse.ACCEPT

    @guarded(_trigger_failed)
    def _on_save(self, req, res):
        engine = self.engine
        if engine is None:
            res.success, res.message = False, REFUSED.get(self.lifecycle_state, REFUSED["unconfigured"])
        elif not engine.config.snapshot_path:
            res.success, res.message = False, "snapshot_path is empty: persistence is off"
        else:
            try:
                path = engine.save()
                res.success, res.message = True, f"saved {engine.memory.frames_seen} frames to {path}"
            except OSError as e:
                res.success, res.message = False, f"could not save: {e}"
        return res

    @guarded(_trigger_failed)
    def _on_reset(self, req, res):
        engine = self.engine
        if engine is None:
            res.success, res.message = False, REFUSED.get(self.lifecycle_state, REFUSED["unconfigured"])
        else:
            text = engine.reset()              # archives the memory first, and logs what was discarded
            res.success, res.message = True, f"memory cleared ({text})"
        return res

    # ---------------------------------------------------------- parameters
    @guarded(lambda self, params, error: SetParametersResult(successful=False, reason=error))
    def _on_set_parameters(self, params) -> SetParametersResult:
        changes = {}
        for prm in params:
            spec = BY_NAME.get(prm.name)
            if spec and spec.choices and prm.value not in spec.choices:
                return SetParametersResult(successful=False, reason=f"{prm.name} must be one of {spec.choices}")
            if prm.name in RUNTIME_ENGINE:
                changes[prm.name] = prm.value
        engine = self.engine
        if engine is not None and changes:
            try:
                engine.update_config(**changes)
            except ValueError as e:
                return SetParametersResult(successful=False, reason=str(e))
        for prm in params:
            if prm.name == "max_image_pixels":
                self._max_pixels = prm.value
        return SetParametersResult(successful=True)

    # ------------------------------------------------------ state reporting
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
        for cam, r in engine.camera_state().items():
            st, mem = r.stats, r.memory
            tok = mem.tokens if mem else {}
            nbytes = mem.bytes if mem else {"device": 0, "host": 0}
            rng = mem.stamp_range if mem else None
            msg.cameras.append(CameraMemoryState(
                camera=cam, frames_received=st.received, frames_sampled=st.sampled, frames_encoded=st.encoded,
                frames_dropped=st.dropped, frames_rejected=st.rejected,
                rejected_reasons=list(st.rejected_by_reason), rejected_counts=list(st.rejected_by_reason.values()),
                first_stamp=to_time(rng[0]) if rng else Time(), last_stamp=to_time(rng[1]) if rng else Time(),
                tokens_spatial=tok.get("spatial", 0), tokens_temporal=tok.get("temporal", 0),
                tokens_abstract=tok.get("abstract", 0), tokens_retrieved=tok.get("retrieved", 0),
                bytes_device=nbytes["device"], bytes_host=nbytes["host"], ingest_lag_s=st.ingest_lag_s,
                last_encode_latency_s=st.last_encode_latency_s))
        msg.answer_queue_length = engine.queue_length
        msg.last_answer_latency_s = engine.last_answer_latency_s
        if hasattr(msg, "warnings"):     # interfaces built before the field (scripts/setup.sh rebuilds them)
            msg.warnings = engine.warnings
        diag.status = [diagnostic(h) for h in engine.health(self.p("memory_state_period_s"))]
        diag.status.append(diagnostic(self._guard.health()))
        if not self._active:
            diag.status.append(DiagnosticStatus(level=DiagnosticStatus.WARN, name="vstream: lifecycle",
                                                message=f"{self.lifecycle_state}: {MEANING[self.lifecycle_state]}",
                                                hardware_id="vstream"))
        else:
            self._state_pub.publish(msg)   # a lifecycle publisher: only while active
        self._diag_pub.publish(diag)
        self._refusals.report(msg.cameras, self.get_logger())

    @functools.cached_property
    def _guard(self) -> CallbackGuard:
        return CallbackGuard(self.get_logger())

    @functools.cached_property
    def _refusals(self) -> RefusalLog:
        return RefusalLog()


def diagnostic(h: Health) -> DiagnosticStatus:
    return DiagnosticStatus(level=bytes([int(h.level)]), name=h.name, hardware_id="vstream", message=h.message,
                            values=[KeyValue(key=k, value=v) for k, v in h.values.items()])


def free_device_memory() -> None:
    """Return the memory of freed models to the system: Python's cycles first, then CUDA's cache."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = VStreamNode()
    executor = MultiThreadedExecutor(num_threads=4 + node.p("answer_queue_size"))
    executor.add_node(node)
    if node.p("autostart") and node.trigger_configure() == SUCCESS:
        node.trigger_activate()
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C under `ros2 launch` reaches this process twice (the terminal's process group, then
        # launch itself): the second must not interrupt the save. launch escalates to SIGTERM if needed.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node._close_engine()      # saves the memory (SIGINT and SIGTERM land here)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
