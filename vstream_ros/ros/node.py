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

One file per job, as image_pipeline splits its components: this one holds the lifecycle and the
parameters; ros/subscriptions.py the camera and pose inputs, ros/services.py the service and action
adapters, ros/diagnostics.py the ~/memory_state and /diagnostics reports, ros/lifecycle.py what the
states mean.

Run: `vstream_node --ros-args --params-file config/vstream.yaml` (or `python -m vstream_ros.ros.node`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import signal
import sys
import threading

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from vstream_ros.cameras import camera_names
from vstream_ros.config import BackendConfig, MemorySizes, runtime_names
from vstream_ros.engine import EngineConfig, EngineSession, StreamEngine
from vstream_ros.ros.diagnostics import Reports
from vstream_ros.ros.executor import InlineCallbackGroup, NodeExecutor
from vstream_ros.ros.guard import CallbackGuard, RefusalLog, guarded, say
from vstream_ros.ros.lifecycle import FAILURE, SUCCESS, transition
from vstream_ros.ros.params import BY_NAME, PARAMS, SECTIONS, NodeConfig, bad_value, descriptor, unknown_parameters
from vstream_ros.ros.pylog import forward_python_logging
from vstream_ros.ros.services import Adapters
from vstream_ros.ros.subscriptions import Subscriptions

# engine settings a parameter change reaches at run time
RUNTIME_ENGINE = runtime_names(EngineConfig)


class VStreamNode(Subscriptions, Adapters, Reports, LifecycleNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vstream", **kwargs)
        self._pylog = forward_python_logging(self.get_logger())   # the engine's log lines reach /rosout
        self._startup_errors: dict[str, str] = {}   # values refused at start-up: configure fails while any is left
        for p in PARAMS:
            self._declare(p)
        self.engine: StreamEngine | None = None
        self._session: EngineSession | None = None
        self.lifecycle_state = "unconfigured"
        self._active = False                      # ingest and questions; set and cleared by the transitions
        self._subs = []
        self._camera_topics: dict[str, tuple[str, str]] = {}
        self._ingest_groups: list[InlineCallbackGroup] = []
        self._query_group = ReentrantCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._max_pixels = self.p("max_image_pixels")
        self._engine_lock = threading.Lock()      # one closer of the engine at a time
        self._report_lock = threading.Lock()      # the state report against shutdown's release of publishers
        self._create_adapters()                   # in every state: they say why they refuse
        self._create_reports()
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _declare(self, spec) -> None:
        """Declare a parameter; a start-up value its descriptor refuses (out of range, wrong type) is
        recorded, not raised (rclpy would end the process with a traceback): the default stands in and
        configure fails, naming it."""
        try:
            self.declare_parameter(spec.name, spec.default, descriptor(spec))
        except ParameterException:
            given = self._parameter_overrides.pop(spec.name)
            self._startup_errors[spec.name] = bad_value(spec, given.value)
            self.get_logger().error(f"{self._startup_errors[spec.name]}; the node stays unconfigured")
            self.declare_parameter(spec.name, spec.default, descriptor(spec))

    def config_errors(self) -> list[str]:
        """What is wrong with the parameters given at start-up: refused values and unknown names."""
        return [*self._startup_errors.values(),
                *unknown_parameters(list(self._parameter_overrides), set(self._parameters))]

    def destroy_node(self) -> None:
        logging.getLogger("vstream_ros").removeHandler(self._pylog)
        super().destroy_node()

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
        errors = self.config_errors()
        if errors:
            self.get_logger().error(f"configure failed: {'; '.join(errors)}")
            return FAILURE
        try:
            self.settings(NodeConfig)
            self.cameras()
            config = self.settings(EngineConfig)
            if not config.robot_name:        # the sightings index names this robot by its namespace
                config = dataclasses.replace(config, robot_name=self.get_namespace())
            session = EngineSession(self.settings(BackendConfig), config, self.settings(MemorySizes))
            engine = session.open()          # build, warm up, restore, start (engine/startup.py)
        except Exception as e:   # a bad setting or model path, an out-of-memory GPU: say so, stay unconfigured
            self.get_logger().error(f"configure failed: {type(e).__name__}: {e}")
            return FAILURE
        status = session.started.restore
        say(self.get_logger(), not status.startswith("ERROR"), status)
        self._session, self.engine = session, engine
        self.get_logger().info(session.started.summary)
        return super().on_configure(state)

    @transition("activate", "active")
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._subscribe()
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
        self._halt()
        self._stop_reports()
        logging.getLogger("vstream_ros").removeHandler(self._pylog)
        return super().on_shutdown(state)

    @transition("error processing", "unconfigured")
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        return SUCCESS

    def _halt(self) -> None:
        """Shutdown and error processing both leave from any state: stop taking frames, then close the engine."""
        self._active = False
        self._unsubscribe()
        self._close_engine()

    def _close_engine(self) -> None:
        """Stop the engine's workers, save the memory, free the models and their device memory."""
        with self._engine_lock:
            session, self._session, self.engine = self._session, None, None
            if session is None:
                return
            # after SIGINT the context is gone and rosout with it: log to stderr then
            log = self.get_logger() if self.context.ok() else None
            try:
                path = session.close()   # stops the workers, saves the memory, frees the models
                text = f"memory saved to {path}" if path else "memory not saved (snapshot_path is empty)"
                log.info(text) if log else print(f"[vstream] {text}", file=sys.stderr)
            except OSError as e:
                text = f"could not save the memory: {e}"
                log.error(text) if log else print(f"[vstream] ERROR: {text}", file=sys.stderr)

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
            self._startup_errors.pop(prm.name, None)     # a valid value set now replaces a refused one
            if prm.name == "max_image_pixels":
                self._max_pixels = prm.value
        return SetParametersResult(successful=True)

    @functools.cached_property
    def _guard(self) -> CallbackGuard:
        return CallbackGuard(self.get_logger())

    @functools.cached_property
    def _refusals(self) -> RefusalLog:
        return RefusalLog()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = VStreamNode()
    executor = NodeExecutor(num_threads=4 + node.p("answer_queue_size"))
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
