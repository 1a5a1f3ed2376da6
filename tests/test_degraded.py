"""A default that lost a part says so: lite without its COCO detector reports WARN in /diagnostics and
lists the missing part in ~/memory_state, so nobody runs the lesser default by accident."""

import pytest
from test_node import Observer, start_node

from vstream_ros.engine.health import HealthMonitor, Level, WorkerState
from vstream_ros.msg import MemoryState

from rosproc import fresh_domain

WORKERS = [WorkerState("encoder", True, 0, "")]


def engine_health(degraded=()):
    return HealthMonitor.engine(0, 4, 0.0, 10, "restored", WORKERS, None, degraded=list(degraded))


def test_a_missing_backend_part_is_a_warning_that_names_it():
    assert engine_health().level == Level.OK
    h = engine_health(["lite runs without its COCO detector: no person is seen"])
    assert h.level == Level.WARN and "COCO detector" in h.message


def test_lite_without_the_detector_reports_it(tmp_path, monkeypatch):
    """The real lite backend, its detector's weights absent from the cache (the language model kept)."""
    from vstream_ros.backends.lite.detection import CocoDetector
    from vstream_ros.backends.lite.files import cache_dir

    smollm = next(cache_dir().glob("smollm2*"), None)
    if smollm is None:
        pytest.skip("lite's converted SmolLM2 is not in the cache yet (run the lite tests or the demo once)")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / smollm.name).symlink_to(smollm)
    monkeypatch.setenv("VSTREAM_CACHE", str(cache))
    assert not CocoDetector.available()
    domain = fresh_domain()
    node = start_node(tmp_path, domain, backend="lite", camera_topics=["/cam0/image_raw"])
    obs = Observer(domain)
    try:
        obs.wait_ready(node, timeout=240)
        assert obs.spin_until(lambda: "vstream: engine" in obs.diagnostics, 30), node.output()
        engine = obs.diagnostics["vstream: engine"]
        assert engine["level"] == 1 and "COCO detector" in engine["message"], engine
        if "warnings" in MemoryState.get_fields_and_field_types():   # interfaces rebuilt (scripts/setup.sh)
            assert any("COCO detector" in w for w in obs.state.warnings), obs.state
    finally:
        obs.close()
        node.stop()


def test_start_up_log_states_the_language_models_visual_tokens_per_memory_kind():
    """Flash Memory rows are four to a language-model token (the 2x2 patch merger); a STAR token is one."""
    from types import SimpleNamespace

    from vstream_ros.backends.contract import Answerer
    from vstream_ros.engine.tokens import visual_tokens_text
    from vstream_ros.memory import FlashMemoryConfig, MemoryConfig

    class Merging(Answerer):
        rows_per_token = 4

    class ReadsText(Answerer):
        reads_visual_tokens = False

    class Plain(Answerer):
        pass

    flash, qwen = FlashMemoryConfig(), SimpleNamespace(answerer=Merging())
    grid = flash.packed_grid((16, 16))           # a 16x16 full map with its 8x8 synopsis map below
    rows = flash.full_tokens(grid)
    assert rows == 60 * 64 + 30 * 256
    assert visual_tokens_text(qwen, flash, grid).startswith(f"Flash Memory: {rows // 4} visual tokens per camera")
    star = visual_tokens_text(SimpleNamespace(answerer=Plain()), MemoryConfig(), (16, 16))
    assert star.startswith("STAR memory: 681 visual tokens per camera")
    lite = visual_tokens_text(SimpleNamespace(answerer=ReadsText()), MemoryConfig(), (7, 7))
    assert "reads none" in lite


def test_every_answerer_takes_what_the_engine_reads_of_it_from_the_contract():
    """reads_visual_tokens and rows_per_token are the Answerer contract's, with defaults: the engine reads
    them as attributes (no getattr), so each answerer in the tree inherits or declares them."""
    from vstream_ros.backends.contract import Answerer
    from vstream_ros.backends.flash_qwen.answering import FlashQwenAnswerer
    from vstream_ros.backends.flash_vstream.answering import FlashVStreamAnswerer
    from vstream_ros.backends.lite.backend import LiteAnswerer

    assert (Answerer.reads_visual_tokens, Answerer.rows_per_token) == (True, 1)
    for cls in (FlashQwenAnswerer, FlashVStreamAnswerer, LiteAnswerer):
        assert Answerer in cls.__mro__, cls
    assert (FlashVStreamAnswerer.reads_visual_tokens, FlashVStreamAnswerer.rows_per_token) == (True, 1)
    assert LiteAnswerer.reads_visual_tokens is False
    assert isinstance(FlashQwenAnswerer.rows_per_token, property)
