"""The benchmarks run end to end on this machine (their figures are not asserted: timings never are)."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier


def run_bench(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                         timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    doc = json.loads(text[: text.index("\n}\n") + 2])
    assert "|" in text[text.index("\n}\n"):], "the short table follows the JSON"
    return doc


def test_memory_bench_runs():
    doc = run_bench("memory.py", "--points", "10,100", "--reps", "3", "--baseline-max", "100")
    assert [r["frames_seen"] for r in doc["ours"]] == [10, 100]
    assert doc["flat"]["bytes_equal"] is True and doc["flat"]["tokens_at_last"] == 681
    assert all(r["measured"] for r in doc["baseline_upstream"])


def test_model_bench_runs_tiny():
    doc = run_bench("model.py", "--tiny", "--reps", "1", "--curve", "1,1000", "--new-tokens", "4")
    assert doc["config"] == "tiny" and doc["memory_tokens"] == 489
    assert doc["latency_curve"][1]["baseline_s"] is None   # 1000 frames do not fit the tiny context


def test_flash_memory_bench_runs():
    doc = run_bench("flash_memory.py", "--side", "8", "--points", "10,100", "--reps", "3", "--baseline-max", "100")
    assert [r["frames_seen"] for r in doc["ours"]] == [10, 100]
    assert doc["flat"]["bytes_equal"] is True and doc["flat"]["rows_at_last"] == 60 * 16 + 30 * 64
    assert all(r["measured"] for r in doc["baseline_upstream"])
    assert doc["baseline_upstream"][1]["bytes"] > doc["baseline_upstream"][0]["bytes"]   # its banks grow


def test_stress_bench_runs_quick():
    doc = run_bench("stress.py", "--quick", "--sections", "flood,kills,snapshots")
    flood = doc["flood"]
    assert not flood["crashed"] and flood["answers_after"] and flood["callback_errors"] == "0"
    assert all(v["received"] >= 30 for v in flood["by_kind"].values())
    assert flood["by_kind"]["png_header_100000x100000"]["reasons"] == {"too_large": flood["by_kind"][
        "png_header_100000x100000"]["received"]}
    assert set(flood["resets"].values()) == {"0"}
    assert doc["kills"]["restored_exactly"] == doc["kills"]["restarts"] == 1 and doc["kills"]["corrupt_files"] == 0
    assert doc["snapshots"]["refused"] == doc["snapshots"]["defects"] and doc["snapshots"]["good_restored"]


def test_locate_bench_runs_on_full_memories():
    doc = run_bench("locate.py", "--quick")
    assert doc["memory"]["temporal_slots_filled"] == [doc["memory"]["temporal_slots"]] * doc["memory"]["cameras"]
    cases = {c["phrase"]: c for c in doc["cases"]}
    assert cases["cup"]["success"] and cases["cup"]["sightings"] == cases["cup"]["with_pose"] > 0
    assert cases["flower"]["sightings"] <= 1 and not cases["temple"]["success"]
    assert all(c["p50_ms"] > 0 for c in doc["cases"])
