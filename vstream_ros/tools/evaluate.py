"""vstream-eval: accuracy and streaming performance of a backend on a bag or a video, in one report.

    vstream-eval BAG|VIDEO --questions QA.json [--backend lite|tiny|flash_vstream] [--out DIR] [--pose-topic T]

Frames go straight into the StreamEngine (no DDS) in stamp order, sampled at the node's rate and as
fast as the machine allows, with load shedding off (the tool waits for the encoder, so no frame is lost
by waiting: every frame gets the full work a lone camera gets on the node, whatever this machine's speed
and load; with it on, the flat-out feed kept the encoder busy and the level it reached, which changed the
frames sampled, varied from run to run), and one frame at a time in step with the encoder's background
reads (scene text is read on a thread of its own; fed flat out, which frames it was read in hung on timing,
where a live camera's pace leaves every read time to finish); the robot's poses in a bag (Odometry,
PoseStamped, PoseWithCovarianceStamped) go into the engine's pose buffer in bag order, as the node's
pose_topic would. Each question is asked at
its timestamp, with only what was seen up to then in memory (the streaming protocol). Writes
answers.jsonl, report.json, report.md and PNG plots.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vstream_ros.engine import EngineConfig, Outcome, StreamEngine
from vstream_ros.engine.evidence import EvidenceRecord
from vstream_ros.engine.startup import EngineSession
from vstream_ros.tools.inputs import Frame, open_input, require_input
from vstream_ros.tools.questions import Question, load_questions
from vstream_ros.tools.scoring import TOL_FRACTION, TOL_MIN_S, score, tally, tolerance_s


# -------------------------------------------------------------------- run
def rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def evaluate(input_path: Path, questions: list[Question], engine: StreamEngine, max_new_tokens: int,
             use_windows: bool, progress: bool = True, pose_topic: str = "") -> tuple[list[dict], dict]:
    from tqdm import tqdm

    frames = open_input(input_path, engine.poses, pose_topic)
    pending: Frame | None = None
    t_first: float | None = None
    t_last = -np.inf
    fed, memory_curve, records, asked = 0, [], [], []
    feed_time = 0.0
    bar = tqdm(total=len(questions), unit="question", disable=not progress, file=sys.stderr)

    def feed_until(limit: float) -> bool:
        """Offer frames up to stamp `limit` (absolute); False once the input is exhausted."""
        nonlocal pending, t_first, t_last, fed, feed_time
        t0 = time.perf_counter()
        try:
            while True:
                if pending is None:
                    pending = next(frames, None)
                    if pending is None:
                        return False
                cam, stamp, decode = pending
                if t_first is None:
                    t_first = stamp
                if stamp > limit:
                    return True
                t_last = max(t_last, stamp)
                status = engine.offer(cam, stamp, decode, wait=True)
                pending = None
                if status.outcome is Outcome.SAMPLED:
                    fed += 1
                    if fed % 25 == 0:
                        engine.flush()
                        memory_curve.append(memory_point(engine))
        finally:
            engine.flush()
            feed_time += time.perf_counter() - t0

    order = sorted(questions, key=lambda q: (q.ask_at is None, q.ask_at or 0.0))
    for q in order:
        rec = {"id": q.id, "type": q.type, "question": q.question, "answer": q.answer, "ask_at": q.ask_at,
               "options": q.options, "correct_option": q.correct}
        if t_first is None:
            feed_until(-np.inf)            # read the first frame's stamp
        if t_first is None:
            raise ValueError(f"{input_path} has no frames")
        more = feed_until(t_first + q.ask_at if q.ask_at is not None else np.inf)
        if q.ask_at is not None and not more and q.ask_at > engine_span(engine, t_first) + 1.0:
            rec["error"] = (f"asked at {q.ask_at:.1f} s but the stream ends at "
                            f"{engine_span(engine, t_first):.1f} s; not asked")
            records.append(rec)
            bar.update(1)
            continue
        window = None
        if use_windows and q.window is not None:
            window = (t_first + q.window[0], t_first + q.window[1])
        result = engine.ask(q.prompt(), window=window, max_new_tokens=max_new_tokens).wait()
        rec |= {"prediction": result.answer, "success": result.success, "error": result.error,
                "latency_s": result.latency_s, "ttft_s": result.stats.get("ttft_s"), "tokens": result.tokens,
                "frames_in_memory": result.frames_in_memory,
                "evidence": [EvidenceRecord.of(g).as_dict(t_first) for g in result.evidence]}
        if result.success:
            asked.append((rec, q))
        memory_curve.append(memory_point(engine))
        records.append(rec)
        bar.update(1)
    while feed_until(np.inf):   # the rest of the stream, for the throughput and memory figures
        pass
    bar.close()
    clip_s = t_last - t_first if t_first is not None and t_last > -np.inf else None
    for rec, q in asked:       # scored once the stream's length (the time tolerance) is known
        rec |= score(rec["prediction"], q, clip_s)
    memory_curve.append(memory_point(engine))
    timings = engine.frame_log.since(0)
    system = {
        "frames_offered_sampled": fed, "frames_encoded": len(timings),
        "ingest_frames_per_s": len(timings) / feed_time if feed_time else None,
        "encode_ms_p50": _ms(pct([t.encode_s for t in timings], 50)),
        "encode_ms_p95": _ms(pct([t.encode_s for t in timings], 95)),
        "memory_update_ms_p50": _ms(pct([t.update_s for t in timings], 50)),
        "memory_update_ms_p95": _ms(pct([t.update_s for t in timings], 95)),
        "stream_seconds": engine_span(engine, t_first or 0.0),
        "load_shedding": engine.config.load_shedding, "shed_level": engine.load_state().level,
        "observe_in_step": engine.config.observe_in_step,
        "clip_seconds": clip_s, "time_tolerance_s": tolerance_s(clip_s),
        "memory_curve": memory_curve,
        "per_frame": [{"i": i, "encode_ms": 1e3 * t.encode_s, "update_ms": 1e3 * t.update_s}
                      for i, t in enumerate(timings)],
    }
    return records, system


def offline_config(sample_rate_hz: float, **settings) -> EngineConfig:
    """The engine as this tool runs it (and bench/calibrate.py fits on it): no snapshot, load shedding off,
    and frames encoded in step with the encoder's background reads (see the module's note)."""
    return EngineConfig(sample_rate_hz=sample_rate_hz, snapshot_path="", load_shedding=False, observe_in_step=True,
                        **settings)


def _ms(v: float | None) -> float | None:
    return None if v is None else 1e3 * v


def engine_span(engine: StreamEngine, t_first: float) -> float:
    span = engine.memory.stamp_range()
    return (span[1] - t_first) if span else 0.0


def memory_point(engine: StreamEngine) -> dict:
    b = engine.memory.nbytes()
    return {"frames_seen": engine.memory.frames_seen, "tokens": engine.memory.tokens(), "bytes_device": b["device"],
            "bytes_host": b["host"], "rss_bytes": rss_bytes()}


def add_judgements(records: list[dict], judge) -> None:
    """Judge every answered open-ended question (after the stream, so timings are not disturbed)."""
    for r in records:
        if r.get("success") and not r["options"]:
            r["judge"] = judge.judge(r["question"], r["answer"], r["prediction"])


def summarize(records: list[dict]) -> dict:
    answered = [r for r in records if r.get("success")]
    judged = [r["judge"] for r in answered if r.get("judge")]
    usable = [j for j in judged if j["pred"] is not None]
    counts = tally(answered)
    lat = [r["latency_s"] for r in answered]
    ttft = [r["ttft_s"] for r in answered if r.get("ttft_s") is not None]
    return {
        "questions": len(records), "answered": len(answered), "errors": len(records) - len(answered),
        "accuracy": counts["overall"]["accuracy"],
        "accuracy_by_type": {k: v["accuracy"] for k, v in counts["by_type"].items()},
        "right": counts["overall"]["right"], "abstained": counts["overall"]["abstained"],
        "no_choice": counts["overall"]["no_choice"], "by_type": counts["by_type"],
        "answer_latency_s_p50": pct(lat, 50), "answer_latency_s_p95": pct(lat, 95),
        "ttft_s_p50": pct(ttft, 50), "ttft_s_p95": pct(ttft, 95),
        "judge_accuracy": statistics.mean(j["pred"] == "yes" for j in usable) if usable else None,
        "judge_score": statistics.mean(j["score"] for j in usable if j["score"] is not None) if usable else None,
        "judge_unparsed": len(judged) - len(usable),
    }


def write_report(out: Path, meta: dict, records: list[dict], system: dict, load_errors: list) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "answers.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    summary = summarize(records)
    report = {**meta, "summary": summary, "system": {k: v for k, v in system.items() if k != "per_frame"},
              "question_file_errors": [asdict(e) for e in load_errors],
              "question_errors": [{"id": r["id"], "error": r["error"]} for r in records if r.get("error")]}
    (out / "report.json").write_text(json.dumps(report, indent=2))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    pf = system["per_frame"]
    axes[0].plot([p["i"] for p in pf], [p["encode_ms"] for p in pf], ".", ms=2, label="encode (ms/frame)")
    axes[0].plot([p["i"] for p in pf], [p["update_ms"] for p in pf], ".", ms=2, label="memory update (ms/frame)")
    answered = [r for r in records if r.get("success")]
    axes[0].plot([r["frames_in_memory"] for r in answered], [1e3 * r["latency_s"] for r in answered], "x",
                 label="answer latency (ms)")
    axes[0].set_xlabel("frames seen")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[0].set_title("latency vs frames seen")
    mc = system["memory_curve"]
    axes[1].plot([m["frames_seen"] for m in mc], [(m["bytes_device"] + m["bytes_host"]) / 2**20 for m in mc],
                 label="memory tensors (MiB)")
    axes[1].plot([m["frames_seen"] for m in mc], [m["rss_bytes"] / 2**20 for m in mc], label="process RSS (MiB)")
    axes[1].set_xlabel("frames seen")
    axes[1].set_yscale("log")
    axes[1].legend()
    axes[1].set_title("memory vs frames seen")
    fig.tight_layout()
    fig.savefig(out / "latency_memory.png", dpi=100)
    plt.close(fig)
    acc = summary["accuracy_by_type"]
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(acc) + 2), 3.5))
    ax.bar(list(acc), list(acc.values()))
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"accuracy by question type ({meta['backend']})")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(out / "accuracy_by_type.png", dpi=100)
    plt.close(fig)

    s, sy = summary, report["system"]
    fmt = lambda v, f="{:.3f}": "n/a" if v is None else f.format(v)   # noqa: E731
    lines = [
        f"# vstream-eval: {meta['input']}", "",
        f"backend `{meta['backend']}`, questions `{meta['questions_file']}`, sampling {meta['sample_rate_hz']} Hz, "
        f"judge: {meta['judge']}", "",
        *([f"judge accuracy {fmt(s['judge_accuracy'])}, judge score {fmt(s['judge_score'], '{:.2f}')} "
           f"({s['judge_unparsed']} judgements unparsed)", ""] if s["judge_accuracy"] is not None else []),
        "| accuracy | answered | errors | answer latency p50 / p95 (s) | TTFT p50 / p95 (s) |",
        "|---|---|---|---|---|",
        f"| {fmt(s['accuracy'])} | {s['answered']}/{s['questions']} | {s['errors']} | "
        f"{fmt(s['answer_latency_s_p50'])} / {fmt(s['answer_latency_s_p95'])} | "
        f"{fmt(s['ttft_s_p50'])} / {fmt(s['ttft_s_p95'])} |", "",
        "| ingest frames/s | encode ms p50 / p95 | memory update ms p50 / p95 | memory MiB (start / end) "
        "| RSS MiB (end) |",
        "|---|---|---|---|---|",
        f"| {fmt(sy['ingest_frames_per_s'], '{:.1f}')} | {fmt(sy['encode_ms_p50'], '{:.1f}')} / "
        f"{fmt(sy['encode_ms_p95'], '{:.1f}')} | {fmt(sy['memory_update_ms_p50'], '{:.2f}')} / "
        f"{fmt(sy['memory_update_ms_p95'], '{:.2f}')} | "
        f"{(mc[0]['bytes_device'] + mc[0]['bytes_host']) / 2**20:.1f} / "
        f"{(mc[-1]['bytes_device'] + mc[-1]['bytes_host']) / 2**20:.1f} | {mc[-1]['rss_bytes'] / 2**20:.0f} |", "",
        "## Accuracy by type", "",
        f"Scored on what each answer asserts (see vstream_ros/tools/scoring.py): {s['right']} right of "
        f"{s['answered']}, {s['abstained']} abstained (said nothing), {s['no_choice']} multiple-choice answers that "
        f"picked no single option. Times within {fmt(sy['time_tolerance_s'], '{:.1f}')} s "
        f"(max({TOL_MIN_S:g} s, {TOL_FRACTION:.0%} of the {fmt(sy['clip_seconds'], '{:.1f}')} s stream)).", "",
        "| type | questions | right | wrong | abstained | no choice | accuracy |", "|---|---|---|---|---|---|---|",
        *[f"| {k} | {v['n']} | {v['right']} | {v['wrong']} | {v['abstained']} | {v['no_choice']} | "
          f"{fmt(v['accuracy'])} |" for k, v in s["by_type"].items()],
        f"| **all** | {s['answered']} | {s['right']} | "
        f"{s['answered'] - s['right'] - s['abstained'] - s['no_choice']} | {s['abstained']} | {s['no_choice']} | "
        f"{fmt(s['accuracy'])} |", "",
        "![latency and memory](latency_memory.png)", "", "![accuracy by type](accuracy_by_type.png)", "",
    ]
    errs = report["question_errors"] + report["question_file_errors"]
    if errs:
        lines += ["## Items not scored", "", *[f"- `{e.get('id', e.get('item'))}`: {e['error']}" for e in errs], ""]
    (out / "report.md").write_text("\n".join(lines))
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vstream-eval", description=__doc__.split("\n")[0])
    ap.add_argument("input", type=Path, help="rosbag2 folder (mcap or sqlite3) or a video file")
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--video-id", help="only the questions of this video (default: the input's name; "
                                       "'all' for every question in the file)")
    ap.add_argument("--backend", default="lite")
    ap.add_argument("--model-path", default="")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sample-rate", type=float, default=1.0, help="frames per second kept (the node's default)")
    ap.add_argument("--sample-on-change", type=float, default=EngineConfig().sample_on_change,
                    help="also keep a frame between due ones when the picture changed this much (the node's "
                         "sample_on_change; 0: off)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--use-windows", action="store_true", help="restrict each question to its annotated span")
    ap.add_argument("--limit", type=int, help="at most this many questions")
    ap.add_argument("--pose-topic", default="", help="the bag's robot pose topic (default: its only one; "
                                                      "'none': no poses)")
    ap.add_argument("--judge", help="judge open-ended answers with a local LLM: 'smollm2' or a model folder")
    ap.add_argument("--out", type=Path, default=Path("out/eval"))
    args = ap.parse_args(argv)

    from vstream_ros.config import BackendConfig

    try:
        video = None if args.video_id == "all" else (args.video_id or args.input.stem)
        questions, load_errors = load_questions(args.questions, video)
        if not questions and video is not None and args.video_id is None:
            questions, load_errors = load_questions(args.questions)   # a file made for this input only
        for e in load_errors:
            print(f"vstream-eval: question {e.item}: {e.error} (skipped)", file=sys.stderr)
        if not questions:
            raise ValueError(f"no questions for {video or args.input} in {args.questions}")
        questions = questions[: args.limit] if args.limit else questions
        require_input(args.input)          # before the backend loads: a mistyped path fails at once
        session = EngineSession(BackendConfig(args.backend, model_path=args.model_path, device=args.device),
                                offline_config(args.sample_rate, answer_timeout_s=600,
                                               sample_on_change=args.sample_on_change,
                                               max_new_tokens_limit=max(512, args.max_new_tokens)))
        with session as engine:      # the node's start-up: built, warmed up, started; closed before judging
            records, system = evaluate(args.input, questions, engine, args.max_new_tokens, args.use_windows,
                                       pose_topic=args.pose_topic)
        if args.judge:
            from vstream_ros.tools.judge import LocalJudge

            add_judgements(records, LocalJudge(args.judge, "cpu" if args.device == "auto" else args.device))
    except ValueError as e:
        print(f"vstream-eval: {e}", file=sys.stderr)
        return 2
    meta = {"input": str(args.input), "questions_file": str(args.questions), "backend": args.backend,
            "judge": args.judge or "none (rule-based scoring only)",
            "sample_rate_hz": args.sample_rate, "sample_on_change": args.sample_on_change,
            "max_new_tokens": args.max_new_tokens,
            "use_windows": args.use_windows}
    report = write_report(args.out, meta, records, system, load_errors)
    s = report["summary"]
    print(f"{s['answered']}/{s['questions']} answered, accuracy {s['accuracy']}, "
          f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
