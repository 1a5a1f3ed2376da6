"""The node's service and action adapters: ~/query, ~/locate, ~/save_memory, ~/reset_memory and the
~/ask action. Each turns a request into an engine call and the result into a response; each exists in
every state and says why it refuses outside the active one; none raises (ros/guard.py)."""

from __future__ import annotations

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from std_srvs.srv import Trigger

from vstream_ros.action import Ask
from vstream_ros.engine import CANCELLED, QueryResult
from vstream_ros.ros.evidence import evidence_msg
from vstream_ros.ros.guard import guarded, say
from vstream_ros.ros.lifecycle import REFUSED
from vstream_ros.ros.stamps import request_window, to_time
from vstream_ros.srv import Locate, Query


def fill_response(res, result: QueryResult, pose_frame: str = ""):
    """A Query response or an Ask result from the engine's result (and the stamp its times count from)."""
    res.time_origin = to_time(result.time_origin)
    res.success, res.error, res.answer, res.partial = result.success, result.error, result.answer, result.partial
    res.intent = result.intent
    res.evidence = [evidence_msg(g, pose_frame) for g in result.evidence]
    res.latency_s = float(result.latency_s)
    res.frames_in_memory = int(result.frames_in_memory)
    return res


def locate_response(res, result: QueryResult, pose_frame: str = ""):
    res.time_origin = to_time(result.time_origin)
    res.success, res.error = result.success, result.error
    res.sightings = [evidence_msg(g, pose_frame) for g in result.evidence]
    res.frames_in_memory = int(result.frames_in_memory)
    res.source = result.source
    return res


def _trigger_failed(self, req, res, error: str):
    """A std_srvs/Trigger response for a callback that raised (see ros/guard.py)."""
    res.success, res.message = False, error
    return res


class Adapters:
    """Mixed into VStreamNode: needs `engine`, `lifecycle_state`, `_active`, `_query_group`, `_guard`."""

    def _create_adapters(self) -> None:
        self.create_service(Query, "~/query", self._on_query, callback_group=self._query_group)
        self.create_service(Locate, "~/locate", self._on_locate, callback_group=self._query_group)
        self.create_service(Trigger, "~/save_memory", self._on_save, callback_group=self._query_group)
        self.create_service(Trigger, "~/reset_memory", self._on_reset, callback_group=self._query_group)
        self._ask = ActionServer(self, Ask, "~/ask", execute_callback=self._execute_ask,
                                 goal_callback=self._on_goal,
                                 cancel_callback=self._on_cancel, callback_group=self._query_group)

    def _pose_frame(self) -> str:
        return self.engine.poses.frame_id if self.engine is not None else ""

    def _refusal(self, req) -> str:
        """Why a question cannot be asked now ("" when it can): the state, or a malformed window."""
        if not self._active or self.engine is None:
            return REFUSED.get(self.lifecycle_state, REFUSED["inactive"])
        try:
            request_window(req.start, req.end)
        except ValueError as e:
            return str(e)
        return ""

    def _on_goal(self, goal) -> GoalResponse:
        """A goal the node cannot answer now (not active, a malformed window) is rejected at once, and the
        log says why (an action's rejection carries no text)."""
        refusal = self._refusal(goal)
        if refusal:
            self.get_logger().warning(f"ask: goal rejected: {refusal}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _submit(self, req, on_piece=None):
        engine = self.engine
        return engine, engine.ask(req.question, request_window(req.start, req.end), list(req.cameras),
                                  int(req.max_new_tokens), on_piece, bool(req.relative))

    def _with_origin(self, result: QueryResult, cameras) -> QueryResult:
        """A result that does not say where its times count from (a refusal, a locate) gets the memory's."""
        engine = self.engine
        if not result.time_origin and engine is not None:
            result.time_origin = engine.time_origin(list(cameras))
        return result

    @guarded(lambda self, req, res, error: fill_response(res, QueryResult(False, error)))
    def _on_query(self, req: Query.Request, res: Query.Response) -> Query.Response:
        refusal = self._refusal(req)
        if refusal:
            return fill_response(res, QueryResult(False, refusal))
        engine, job = self._submit(req)
        return fill_response(res, self._with_origin(job.wait(engine.config.answer_timeout_s + 10.0), req.cameras),
                             self._pose_frame())

    @guarded(lambda self, req, res, error: locate_response(res, QueryResult(False, error)))
    def _on_locate(self, req: Locate.Request, res: Locate.Response) -> Locate.Response:
        """Sightings of `req.object` in time order with their poses; answered in this callback (no queue)."""
        refusal = self._refusal(req)
        if refusal:
            return locate_response(res, QueryResult(False, refusal))
        result = self.engine.locate(req.object, request_window(req.start, req.end), list(req.cameras),
                                    int(req.max_results), req.robot.strip(), bool(req.relative))
        return locate_response(res, self._with_origin(result, req.cameras), self._pose_frame())

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
        return fill_response(Ask.Result(), self._with_origin(result, goal_handle.request.cameras), self._pose_frame())

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
        say(self.get_logger(), res.success, f"save_memory: {res.message}")
        return res

    @guarded(_trigger_failed)
    def _on_reset(self, req, res):
        engine = self.engine
        if engine is None:
            res.success, res.message = False, REFUSED.get(self.lifecycle_state, REFUSED["unconfigured"])
        else:
            text = engine.reset()              # archives the memory first
            res.success, res.message = True, f"memory cleared ({text})"
        say(self.get_logger(), res.success, f"reset_memory: {res.message}")
        return res
