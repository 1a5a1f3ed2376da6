"""The engine's settings: ingest, encoding, questions and persistence (declared once, see config.py)."""

from __future__ import annotations

from dataclasses import dataclass

from vstream_ros.config import setting, validate


@dataclass(frozen=True)
class EngineConfig:
    sample_rate_hz: float = setting(1.0, "Frames kept per camera per second of header.stamp", range=(0.01, 120.0),
                                    runtime=True)
    on_stamp_jump_back: str = setting(
        "reset", "When a camera's stamps go back (a looping bag): reset its memory, or refuse those frames",
        runtime=True, choices=("reset", "refuse"))
    encoder_batch_size: int = setting(8, "Frames encoded together across cameras", range=(1, 256))
    max_question_chars: int = setting(2000, "Longer questions are refused", range=(1, 100000), runtime=True)
    default_max_new_tokens: int = setting(128, "Answer length when a request asks for 0", range=(1, 8192),
                                          runtime=True)
    max_new_tokens_limit: int = setting(512, "Requests asking for more are clamped", range=(1, 8192), runtime=True)
    answer_queue_size: int = setting(4, "Questions waiting beyond this are refused", range=(1, 1024))
    answer_timeout_s: float = setting(120.0, "A question not answered by then fails", range=(0.1, 3600.0),
                                      runtime=True)
    locate_max_results: int = setting(20, "Sightings a locate request asking for 0 gets (the newest ones)",
                                      range=(1, 10000), runtime=True)
    pose_max_gap_s: float = setting(0.5, "A frame gets no pose when the pose topic has none within this many "
                                    "seconds of its stamp", range=(0.0, 60.0))
    snapshot_path: str = setting("~/.ros/vstream/memory.safetensors",
                                 "Memory snapshot file; empty: no persistence")
    autosave_period_s: float = setting(60.0, "Save the memory this often when it changed; 0: only on shutdown "
                                       "and ~/save_memory", range=(0.0, 86400.0), runtime=True)

    def __post_init__(self) -> None:
        validate(self)
