"""The engine's settings: ingest, encoding, questions and persistence (declared once, see config.py)."""

from __future__ import annotations

from dataclasses import dataclass

from vstream_ros.config import setting, validate


@dataclass(frozen=True)
class EngineConfig:
    sample_rate_hz: float = setting(1.0, "Frames kept per camera per second of header.stamp", range=(0.01, 120.0),
                                    runtime=True)
    sample_on_change: float = setting(
        0.0, "Also keep a frame between two due ones when the picture changed this much since the last kept one "
        "(mean absolute difference of 16x16 grey thumbnails, 0-255; 12 catches a thing on camera under a second), "
        "at most once per sampling period and half a period after the last kept frame; 0: off, the default (on a "
        "busy scene it nearly doubles the encoder's work)", range=(0.0, 255.0), runtime=True)
    on_stamp_jump_back: str = setting(
        "reset", "When a camera's stamps go back for good (a looping bag): archive and reset its memory, or "
        "refuse those frames", runtime=True, choices=("reset", "refuse"))
    stamp_confirm_frames: int = setting(
        3, "Consecutive frames that must agree on a new time base before a jump in a camera's stamps is taken "
        "(a new stream, or a gap); until then they are refused as outliers", range=(1, 1000), runtime=True)
    stamp_max_gap_s: float = setting(30.0, "A stamp this far after the camera's last one is a jump ahead",
                                     range=(0.001, 1e9), runtime=True)
    stamp_max_future_s: float = setting(60.0, "A stamp this far ahead of the machine's clock is a jump ahead",
                                        range=(0.001, 1e9), runtime=True)
    stamp_jitter_s: float = setting(1.0, "A stamp up to this much before the camera's last one is a late frame "
                                    "(refused), never a new stream", range=(0.0, 1e9), runtime=True)
    stamp_reset_min_interval_s: float = setting(
        60.0, "At most one new stream (a reset of the camera's memory) per camera this often; frames of a new "
        "stream confirmed sooner are refused until then", range=(0.0, 1e9), runtime=True)
    camera_timeout_s: float = setting(5.0, "A subscribed camera with no message for this long is a WARN in "
                                      "/diagnostics (saying what publishes on its topic); 0: never",
                                      range=(0.0, 3600.0), runtime=True)
    load_shedding: bool = setting(True, "When the encoder cannot keep up, degrade its work in the order the "
                                  "encoder declares (shed_levels) before sampled frames are overwritten", runtime=True)
    encoder_batch_size: int = setting(8, "Frames encoded together across cameras", range=(1, 256))
    observe_in_step: bool = setting(False, "Encode one frame at a time and let what the encoder observes in the "
                                    "background (a text read) finish before the next, as a live camera's pace "
                                    "does: offline tools, so that what is read does not hang on how fast frames "
                                    "are fed")
    max_question_chars: int = setting(2000, "Longer questions are refused", range=(1, 100000), runtime=True)
    default_max_new_tokens: int = setting(128, "Answer length when a request asks for 0", range=(1, 8192),
                                          runtime=True)
    max_new_tokens_limit: int = setting(512, "Requests asking for more are clamped", range=(1, 8192), runtime=True)
    text_read_wait_s: float = setting(
        3.0, "A question about the text in view now (\"what does the sign say?\") first has the newest frame of "
        "its cameras read, if no read saw it yet, and waits this long at most (a read takes 0.4-1 s of a core "
        "here); 0: it answers from the reads of the schedule alone (one every 10 s at most)", range=(0.0, 60.0),
        runtime=True)
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
    snapshot_archives: int = setting(5, "Memories cleared by ~/reset_memory or a new stream are archived beside "
                                     "the snapshot first; this many are kept (the ones holding the least "
                                     "history removed first, never the newest); 0: none", range=(0, 1000), runtime=True)
    snapshot_archive_bytes: int = setting(2 << 30, "Archives beyond this many bytes in all are removed (the ones "
                                          "holding the least history first, never the newest); 0: no bound",
                                          range=(0, 1 << 50), runtime=True)
    snapshot_archive_max_age_s: float = setting(30 * 86400.0, "Archives older than this are removed (never the "
                                                "newest); 0: no bound", range=(0.0, 1e10), runtime=True)
    index_uri: str = setting("auto", "The long-term sightings index: auto (the default): sightings.db beside the "
                             "snapshot, embedded (Milvus Lite in this process; none without a snapshot_path); a "
                             "local path; http://host:19530 (a Milvus server the fleet shares); empty: off")
    robot_name: str = setting("", "The name this robot's sightings carry in the index; empty: the node's namespace, "
                              "else 'robot'")
    index_embedder: str = setting("minilm", "Embedder of the index's search by meaning: minilm, or hash[:DIM] (no "
                                  "model; every robot of a fleet must use the same)")
    index_run_s: float = setting(10.0, "Longest stretch of frames one sighting covers (a thing in view longer is "
                                 "several sightings, each with its pose)", range=(0.1, 86400.0))
    index_max_rows: int = setting(1_000_000, "Sightings kept per robot (the oldest dropped first)",
                                  range=(1, 1 << 40))
    index_max_age_s: float = setting(30 * 86400.0, "Sightings older than this (from the robot's newest) are dropped",
                                     range=(1.0, 1e10))
    index_queue_size: int = setting(10_000, "Sightings waiting for the index's writer; more are dropped and counted",
                                    range=(1, 1 << 24))
    index_backlog_rows: int = setting(100_000, "Sightings kept on disk while the index's server is down (the "
                                      "oldest dropped first)", range=(0, 1 << 30))

    def __post_init__(self) -> None:
        validate(self)
