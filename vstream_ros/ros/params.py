"""The node's parameters: one table gives each its default, type, range, description, and whether it
can change at run time. config/vstream.yaml holds the same defaults (a test keeps them in step)."""

from __future__ import annotations

from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


@dataclass(frozen=True)
class Param:
    name: str
    default: object
    description: str
    range: tuple[float, float] | None = None
    runtime: bool = False            # False: read-only once the node has started (needs a restart)
    choices: tuple[str, ...] = ()

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(name=self.name, description=self.description, read_only=not self.runtime)
        if self.choices:
            d.additional_constraints = "one of: " + ", ".join(self.choices)
        if self.range is not None:
            lo, hi = self.range
            if isinstance(self.default, float):
                d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
            else:
                d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        return d


PARAMS: tuple[Param, ...] = (
    Param("autostart", True, "Configure and activate at start, for use without a lifecycle manager"),
    Param("camera_topics", ["/camera/image_raw"],
          "Image topics; sensor_msgs/Image, or CompressedImage for topics ending in /compressed or so typed"),
    Param("camera_names", [""], "A name per topic for answers' evidence; empty: derived from the topic"),
    Param("sample_rate_hz", 1.0, "Frames kept per camera per second of header.stamp", (0.01, 120.0), True),
    Param("qos_reliability", "best_effort", "Subscription reliability: best_effort (sensor data) or reliable",
          choices=("best_effort", "reliable")),
    Param("qos_depth", 5, "Subscription queue depth", (1, 1000)),
    Param("on_stamp_jump_back", "reset", "When a camera's stamps go back (a looping bag): reset its memory, "
          "or refuse those frames", runtime=True, choices=("reset", "refuse")),
    Param("max_image_pixels", 16777216, "Larger frames are refused", (4, 268435456), True),
    Param("backend", "lite", "Model backend", choices=("lite", "flash_vstream", "tiny")),
    Param("model_path", "", "Local checkpoint folder (flash_vstream); empty: the backend's default"),
    Param("vision_tower_path", "", "Local CLIP folder when the checkpoint has no vision-tower weights"),
    Param("device", "auto", "auto, cpu, cuda or cuda:N"),
    Param("dtype", "auto", "auto (bf16 on GPU, fp32 on CPU), float32, float16 or bfloat16"),
    Param("encoder_batch_size", 8, "Frames encoded together across cameras", (1, 256)),
    Param("spatial_frames", 1, "STAR spatial memory: newest frames kept", (1, 64)),
    Param("spatial_size", 8, "Side of spatial and retrieved maps", (1, 64)),
    Param("temporal_slots", 25, "STAR temporal memory: clusters", (1, 1024)),
    Param("temporal_size", 4, "Side of a temporal slot's map", (1, 64)),
    Param("abstract_slots", 25, "STAR abstract memory: slots", (1, 1024)),
    Param("abstract_update_ratio", 0.2, "Abstract memory update ratio alpha", (0.001, 1.0)),
    Param("retrieved_frames", 3, "STAR retrieved memory: key frames", (1, 64)),
    Param("snapshot_path", "~/.ros/vstream/memory.safetensors", "Memory snapshot file; empty: no persistence"),
    Param("autosave_period_s", 60.0, "Save the memory this often when it changed; 0: only on shutdown and "
          "~/save_memory", (0.0, 86400.0), True),
    Param("max_question_chars", 2000, "Longer questions are refused", (1, 100000), True),
    Param("default_max_new_tokens", 128, "Answer length when a request asks for 0", (1, 8192), True),
    Param("max_new_tokens_limit", 512, "Requests asking for more are clamped", (1, 8192), True),
    Param("answer_queue_size", 4, "Questions waiting beyond this are refused", (1, 1024)),
    Param("answer_timeout_s", 120.0, "A question not answered by then fails", (0.1, 3600.0), True),
    Param("memory_state_period_s", 1.0, "Period of ~/memory_state and /diagnostics", (0.05, 60.0)),
)
BY_NAME = {p.name: p for p in PARAMS}
MEMORY_FIELDS = ("spatial_frames", "spatial_size", "temporal_slots", "temporal_size", "abstract_slots",
                 "abstract_update_ratio", "retrieved_frames")
