"""The `vstream` node: a managed lifecycle node around the StreamEngine.

configure: load the backend, restore the memory snapshot   | activate: subscribe to the cameras
deactivate: unsubscribe (questions still answered)         | cleanup: free the models (and the GPU)
shutdown, SIGINT, SIGTERM: save the memory.

Run: `vstream_node --ros-args --params-file config/vstream.yaml` (or `python -m vstream_ros.ros.node`).
"""

from __future__ import annotations

import functools
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_srvs.srv import Trigger

from vstream_ros.action import Ask
from vstream_ros.cameras import camera_names
from vstream_ros.config import BackendConfig, MemorySizes, runtime_names
from vstream_ros.engine import EngineConfig, Health, QueryResult, StreamEngine, build_engine
from vstream_ros.frames import FrameRejected
from vstream_ros.msg import CameraMemoryState, Evidence, MemoryState
from vstream_ros.ros.guard import CallbackGuard, RefusalLog, guarded
from vstream_ros.ros.image_codec import check_image, compressed_to_rgb, image_to_rgb
from vstream_ros.ros.params import BY_NAME, PARAMS, SECTIONS, descriptor
from vstream_ros.ros.stamps import request_window, to_seconds, to_time
from vstream_ros.srv import Query

# engine settings a parameter change reaches at run time
RUNTIME_ENGINE = runtime_names(EngineConfig)


def _trigger_failed(self, req, res, error: str):
    res.success, res.message = False, error
    return res


def fill_response(res, result: QueryResult):
    res.success, res.error, res.answer, res.partial = result.success, result.error, result.answer, result.partial
    res.evidence = [Evidence(stamp=to_time(g.start), stamp_end=to_time(g.end), camera=g.camera, kind=g.kind,
                             weight=float(g.weight)) for g in result.evidence]
    res.latency_s = float(result.latency_s)
    res.frames_in_memory = int(result.frames_in_memory)
    return res


class VStreamNode(LifecycleNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vstream", **kwargs)
        for p in PARAMS:
            self.declare_parameter(p.name, p.default, descriptor(p))
        self.engine: StreamEngine | None = None
        self._subs = []
        self._ingest_groups: list[MutuallyExclusiveCallbackGroup] = []
        self._query_group = ReentrantCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._max_pixels = self.p("max_image_pixels")
        self._last_diag: dict[str, tuple[float, int, int, int]] = {}
        # Services exist in every state: before configure they answer that the model is not loaded.
        self.create_service(Query, "~/query", self._on_query, callback_group=self._query_group)
        self.create_service(Trigger, "~/save_memory", self._on_save, callback_group=self._query_group)
        self.create_service(Trigger, "~/reset_memory", self._on_reset, callback_group=self._query_group)
        self._ask = ActionServer(self, Ask, "~/ask", execute_callback=self._execute_ask,
                                 goal_callback=lambda _: GoalResponse.ACCEPT,
                                 cancel_callback=lambda _: CancelResponse.ACCEPT, callback_group=self._query_group)
        self._state_pub = self.create_publisher(MemoryState, "~/memory_state", 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = self.create_timer(self.p("memory_state_period_s"), self._publish_state,
                                        callback_group=self._timer_group)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def p(self, name: str):
        return self.get_parameter(name).value

    def settings(self, cls: type):
        """A settings dataclass filled from this node's parameters of the same names."""
        return cls(**{spec.name: self.p(spec.name) for spec in SECTIONS[cls]})

    # ------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        t0 = time.monotonic()
        try:
            engine = build_engine(self.settings(BackendConfig), self.settings(EngineConfig),
                                  self.settings(MemorySizes))
            warm = engine.warm_up()
        except Exception as e:   # a bad model path or an out-of-memory GPU: say so, stay unconfigured
            self.get_logger().error(f"configure failed: {type(e).__name__}: {e}")
            return TransitionCallbackReturn.FAILURE
        status = engine.restore()
        (self.get_logger().error if status.startswith("ERROR") else self.get_logger().info)(status)
        engine.start()
        self.engine = engine
        enc = engine.backend.encoder
        self.get_logger().info(
            f"backend {engine.backend.name} ({enc.id}) on {enc.device} in {time.monotonic() - t0:.1f} s "
            f"(warm-up {warm:.1f} s); memory "
            f"{engine.memory.config.full_tokens(enc.feature_grid)} tokens per camera")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        topics = list(self.p("camera_topics"))
        names = [n for n in self.p("camera_names") if n] or []
        if names and len(names) != len(topics):
            self.get_logger().error(f"camera_names has {len(names)} names for {len(topics)} topics")
            return TransitionCallbackReturn.FAILURE
        names = names or camera_names(topics)
        known = dict(self.get_topic_names_and_types())
        qos = QoSProfile(depth=self.p("qos_depth"), reliability=ReliabilityPolicy.RELIABLE) \
            if self.p("qos_reliability") == "reliable" \
            else QoSProfile(depth=self.p("qos_depth"), reliability=qos_profile_sensor_data.reliability,
                            durability=qos_profile_sensor_data.durability, history=qos_profile_sensor_data.history)
        for topic, name in zip(topics, names, strict=True):
            resolved = self.resolve_topic_name(topic)
            types = known.get(resolved, [])
            compressed = "sensor_msgs/msg/CompressedImage" in types or (not types and resolved.endswith("/compressed"))
            group = MutuallyExclusiveCallbackGroup()   # one camera's frames in order; cameras in parallel
            self._ingest_groups.append(group)
            cb = functools.partial(self._on_compressed if compressed else self._on_image, name)
            self._subs.append(self.create_subscription(CompressedImage if compressed else Image, topic, cb, qos,
                                                       callback_group=group))
            self.get_logger().info(f"camera {name!r}: {resolved} ({'CompressedImage' if compressed else 'Image'})")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        for s in self._subs:
            self.destroy_subscription(s)
        self._subs.clear()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close_engine()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close_engine()
        return TransitionCallbackReturn.SUCCESS

    def _close_engine(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            # after SIGINT the context is gone and rosout with it: log to stderr then
            log = self.get_logger() if self.context.ok() else None
            try:
                engine.close()   # stops the workers, saves the memory, frees the models
                text = f"memory saved to {engine.config.snapshot_path}" if engine.config.snapshot_path else ""
                if text:
                    log.info(text) if log else print(f"[vstream] {text}", file=sys.stderr)
            except OSError as e:
                text = f"could not save the memory: {e}"
                log.error(text) if log else print(f"[vstream] ERROR: {text}", file=sys.stderr)

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

    # ------------------------------------------------------------ questions
    def _submit(self, req, on_piece=None):
        if self.engine is None:
            return None
        return self.engine.ask(req.question, request_window(req.start, req.end), list(req.cameras),
                               int(req.max_new_tokens), on_piece)

    def _not_loaded(self) -> QueryResult:
        return QueryResult(False, "the model is not loaded yet: the node is not configured")

    @guarded(lambda self, req, res, error: fill_response(res, QueryResult(False, error)))
    def _on_query(self, req: Query.Request, res: Query.Response) -> Query.Response:
        job = self._submit(req)
        if job is None:
            return fill_response(res, self._not_loaded())
        return fill_response(res, job.wait(self.engine.config.answer_timeout_s + 10.0))

    def _execute_ask(self, goal_handle) -> Ask.Result:
        feedback = Ask.Feedback()

        def on_piece(text: str, tokens: int) -> None:
            feedback.partial_answer, feedback.tokens = text, tokens
            goal_handle.publish_feedback(feedback)

        job = self._submit(goal_handle.request, on_piece)
        if job is None:
            goal_handle.abort()
            return fill_response(Ask.Result(), self._not_loaded())
        while not job.done.wait(0.05):
            if goal_handle.is_cancel_requested:
                job.cancel.set()
        result = fill_response(Ask.Result(), job.result)
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif job.result.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return result

    @guarded(_trigger_failed)
    def _on_save(self, req, res):
        if self.engine is None:
            res.success, res.message = False, "the model is not loaded yet"
        elif not self.engine.config.snapshot_path:
            res.success, res.message = False, "snapshot_path is empty: persistence is off"
        else:
            try:
                path = self.engine.save()
                res.success, res.message = True, f"saved {self.engine.memory.frames_seen} frames to {path}"
            except OSError as e:
                res.success, res.message = False, f"could not save: {e}"
        return res

    @guarded(_trigger_failed)
    def _on_reset(self, req, res):
        if self.engine is None:
            res.success, res.message = False, "the model is not loaded yet"
        else:
            text = self.engine.reset()         # archives the memory first, and logs what was discarded
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
        if self.engine is not None and changes:
            try:
                self.engine.update_config(**changes)
            except ValueError as e:
                return SetParametersResult(successful=False, reason=str(e))
        for prm in params:
            if prm.name == "max_image_pixels":
                self._max_pixels = prm.value
        return SetParametersResult(successful=True)

    # ------------------------------------------------------ state reporting
    @guarded(lambda self, error: None)
    def _publish_state(self) -> None:
        msg = MemoryState()
        msg.header.stamp = self.get_clock().now().to_msg()
        diag = DiagnosticArray(header=msg.header)
        engine = self.engine
        if engine is None:
            diag.status.append(DiagnosticStatus(level=DiagnosticStatus.WARN, name="vstream: model",
                                                message="not loaded (node not configured)", hardware_id="vstream"))
            self._diag_pub.publish(diag)
            self._state_pub.publish(msg)
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
        diag.status = [diagnostic(h) for h in engine.health(self.p("memory_state_period_s"))]
        diag.status.append(diagnostic(self._guard.health()))
        self._state_pub.publish(msg)
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


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = VStreamNode()
    executor = MultiThreadedExecutor(num_threads=4 + node.p("answer_queue_size"))
    executor.add_node(node)
    if node.p("autostart") and node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
        node.trigger_activate()
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node._close_engine()      # saves the memory (SIGINT and SIGTERM land here)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
