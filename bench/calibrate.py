"""Fit lite's per-source thresholds on the development set's tuning half; print JSON and a table, and
with --write store them in vstream_ros/backends/lite/calibration.json (read by calibration.py).

    python bench/calibrate.py [--cache out/calibrate] [--precision 0.9] [--write]

Each tuning input goes once through a StreamEngine on one loaded lite backend at the node's default rate
(1 frame/s), with load shedding off as vstream-eval runs it (full work on every frame); the annotated
runs of its memory are cached (CACHE/<stem>.npz), so a refit loads no model.
Items, each a source's strongest value over the runs up to the question's time and whether it was right:
- a question about a thing: for each source that can see it, was the thing there (presence: the gold
  answer's yes or no; when, first, last seen and attribute: there; count: answer_count > 0);
- unasked labels (what "what did you see" would list): an ImageNet class or word group, and a detector
  class (source `listed`, its strongest box in the input), right when the gold answers of the input name it
  (a person: any word for one);
- colours: the share of the colour an answer would name, right when the gold answer's keywords hold it;
  and for a presence question that asks a colour ("did a red car pass?"), the largest share of that colour
  over the runs where the thing was seen (its top box's, or any one counted box's), right when the gold
  answer is yes (where it is no, its thing's detector and classifier items are left out: a car may have been
  there all the same). A person's colours (their clothes, measured on parts of the person box) are their own
  source, `clothes`, and a band of the frame's (a floor, the grass) another, `surface`.
The detector's silence is also fitted per thing: a thing whose items without a box were there more than
1 - PRECISION of the time (a cyclist's bicycle, a backpack) gets "I cannot tell" where the detector drew no box,
not "no"; one with MIN_CUT items or more, at most 1 - PRECISION of them there (dogs), gets "no" even where the
classifier has a weak trace of it (`detector_silence`).
Objective (the issue's: at most 10 % confidently wrong, "I cannot tell" before a wrong sighting): `yes` is
the lowest value at and above which 3 or more items are at least PRECISION right, moved down halfway to
the next item below (so the cut sits between two items, not on one); `no` the highest value at
or below `yes` under which at most 1 - PRECISION of the items were there. A thing not there counts only
when lite's words cover the whole subject ("a woman wearing a hat" that was not there says nothing of
the detector's person boxes).
Clips of the check half are refused: they are never fitted on.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vstream_ros.answering.question import Intent, parse  # noqa: E402
from vstream_ros.backends.lite import colours  # noqa: E402
from vstream_ros.backends.lite.acts import one_of_several  # noqa: E402
from vstream_ros.backends.lite.calibration import PATH, SOURCES, group_probability, refuted  # noqa: E402
from vstream_ros.backends.lite.layout import asked_thing  # noqa: E402
from vstream_ros.backends.lite.naming import coco_name  # noqa: E402
from vstream_ros.backends.lite.sightings import coverage, palette_colour  # noqa: E402
from vstream_ros.backends.lite.vision import LAYOUT, N_BOXED  # noqa: E402
from vstream_ros.backends.lite.vocabulary import ALIASES, BOXED, PERSON_WORDS, SCENES, UNLISTED  # noqa: E402
from vstream_ros.tools.questions import load_questions  # noqa: E402
from vstream_ros.tools.scoring import polarity  # noqa: E402

SPLIT = json.loads((REPO / "bench" / "devset" / "split.json").read_text())
GENERIC_PERSON = frozenset(("person", "people", "anyone", "anybody", "someone", "somebody", "persons"))
THERE = ("when", "first_seen", "last_seen", "attribute")
MIN_CUT = 3
MIN_ITEMS = 20          # a source with fewer items keeps its hand-set bounds


def inputs() -> list[tuple[str, Path, Path]]:
    """(stem, input, question file) of the tuning half (bench/devset/split.json); never a check-half one."""
    out = []
    for stem in SPLIT["tuning"]:
        assert stem not in SPLIT["check"], stem
        out.append((stem, REPO / SPLIT["inputs"][stem]["path"], REPO / "bench" / "devset" / f"{stem}.json"))
    return out


# what the cached runs of an input rest on besides its bytes: the offline engine settings and the code that
# annotates frames (a cache from before a change to either was once refit on without notice)
_ANNOTATING = ("vstream_ros/backends/lite/vision.py", "vstream_ros/backends/lite/detection.py",
               "vstream_ros/backends/lite/tfjs.py", "vstream_ros/backends/lite/colours.py",
               "vstream_ros/backends/lite/hands.py", "vstream_ros/backends/lite/faces.py",
               "vstream_ros/backends/lite/layout.py", "vstream_ros/backends/lite/vocabulary.py",
               "vstream_ros/backends/lite/backend.py",
               "vstream_ros/engine/config.py", "vstream_ros/tools/evaluate.py")


def cache_key(path: Path) -> str:
    """A digest of the input's files, the offline settings and the annotating code's source."""
    from vstream_ros.tools.evaluate import offline_config

    h = hashlib.sha256(repr(offline_config(1.0)).encode())
    for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    for src in _ANNOTATING:
        h.update((REPO / src).read_bytes())
    return h.hexdigest()[:16]


def cached(cache: Path, stem: str, key: str) -> dict | None:
    """The input's runs from the cache, when they were made from what `key` digests."""
    f = cache / f"{stem}.npz"
    if not f.exists():
        return None
    runs = dict(np.load(f))
    return runs if str(runs.pop("key", "")) == key else None


def ingest(backend: Callable[[], object], stem: str, path: Path, cache: Path) -> dict:
    """The annotated runs of the memory after the whole input (cached, keyed by `cache_key`): start, end (s
    from the first frame), peak and mean annotations, frames. `backend()` gives lite, loaded only when an
    input is not in the cache."""
    key = cache_key(path)
    if (runs := cached(cache, stem, key)) is not None:
        return runs
    from vstream_ros.backends.lite.sightings import observations
    from vstream_ros.engine import StreamEngine
    from vstream_ros.tools.evaluate import offline_config
    from vstream_ros.tools.inputs import open_input

    engine = StreamEngine(backend(), offline_config(1.0))
    engine.start()
    try:
        t0 = None
        for cam, stamp, decode in open_input(path, engine.poses, ""):
            t0 = stamp if t0 is None else t0
            engine.offer(cam, stamp, decode, wait=True)
        engine.flush(600)
        obs = observations(engine.read())
    finally:
        engine.stop()
    runs = {"start": np.array([r.start - t0 for _, r in obs]), "end": np.array([r.end - t0 for _, r in obs]),
            "peak": np.stack([r.peak for _, r in obs]), "mean": np.stack([r.mean for _, r in obs]),
            "frames": np.array([r.frames for _, r in obs])}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache / f"{stem}.npz", key=np.array(key), **runs)
    return runs


def names_in(text: str, names: list[str]) -> bool:
    return any(re.search(rf"\b{re.escape(n.lower())}(?:e?s)?\b", text) for n in names if len(n) > 2)


def items_of(rec, stem: str, runs: dict, questions: list) -> list[dict]:
    """The fitting items of one input (see the module's doc)."""
    out: list[dict] = []
    gold = " ".join([q.answer for q in questions if polarity(q.answer) >= 0] +
                    [k for q in questions for k in q.keywords]).lower()
    peaks, means = runs["peak"], runs["mean"]

    def add(source: str, raw: float, there: bool, what: str, qid: str) -> None:
        out.append({"source": source, "raw": round(float(raw), 6), "there": bool(there), "what": what,
                    "input": stem, "question": qid})

    for q in questions:
        pq = parse(q.question)
        if not pq.subject or q.options or pq.intent is Intent.CHOICE or pq.besides:
            continue       # "anyone else besides the woman": not whether a person was there
        if q.type == "presence":
            there = polarity(q.answer) >= 0
        elif q.type in THERE:
            there = True
        elif q.type == "count" and q.count is not None:
            there = q.count > 0
        else:
            continue
        if not there and pq.action in ("action", "arrive", "leave", "return"):
            continue       # "did the person drink from the mug? No" says nothing of whether the person was there
        concepts = rec.concept(pq.subject, colour=pq.intent is Intent.ATTRIBUTE)
        upto = np.ones(len(peaks), bool) if q.ask_at is None else runs["start"] <= q.ask_at
        gold_colours = {colours.canonical(k) for k in q.keywords} - {None}     # what a colour answer must name
        bands = [c for c in concepts or [] if c.region]
        if pq.intent is Intent.ATTRIBUTE and bands and gold_colours:
            share = seen_colour(rec, bands[0], peaks[upto], means[upto], runs["frames"][upto])
            if share is not None:
                add("surface", share[1], share[0] in gold_colours, share[0], q.id)
        concepts = [c for c in concepts or [] if not c.region]
        if pq.intent is not Intent.ATTRIBUTE and concepts and any(c.colour for c in concepts):
            # "did a red car pass?": the share of red where a car was seen, not whether a car was there
            for c in (c for c in concepts if c.colour):
                bare = replace(c, colour="")
                shares = [rec.seen(c, p, m, int(n)).colour_share for p, m, n in
                          zip(peaks[upto], means[upto], runs["frames"][upto], strict=True)
                          if rec.seen(bare, p, m, int(n)).score >= 0.5]
                if shares:
                    add(c.colour_source, max(shares), there, c.colour, q.id)
            if not there:
                continue   # no red car says nothing of whether a car was there
        if not concepts or (not there and (len(concepts) > 1 or coverage(pq.subject, concepts) < 1
                                           or concepts[0].person and concepts[0].asked not in GENERIC_PERSON)):
            continue       # not there, but what was not there (the hat, the adult, which thing) lite cannot see
        for c in concepts:
            if c.coco:
                add("detector", peaks[upto][:, LAYOUT.coco_score][:, list(c.coco)].max(initial=0.0), there, c.name,
                    q.id)
            if c.imagenet:
                scene = c.name in SCENES
                vals = [group_probability(p[LAYOUT.imagenet], c.imagenet) for p in peaks[upto]
                        if scene or not refuted(c.coco, p[LAYOUT.coco_score], rec.detector_available, rec.t.detector)]
                add("scene" if scene else "classifier", max(vals, default=0.0), there, c.name, q.id)
                out[-1]["coco"] = bool(c.coco)
        if pq.intent is Intent.ATTRIBUTE and there and gold_colours:
            target = asked_thing(concepts, pq.head, pq.subject)    # the answer's own choice of thing
            if target is not None and one_of_several(pq, concepts, target, (
                    s.count for s in (rec.seen(target, p, m, int(n)) for p, m, n in
                                      zip(peaks[upto], means[upto], runs["frames"][upto], strict=True))
                    if s.score >= 0.5)):
                target = None      # "the car in the left lane" among several at once: the answer names no colour
            share = None if target is None else seen_colour(rec, target, peaks[upto], means[upto],
                                                            runs["frames"][upto])
            if share is not None:
                named, value = share
                add(target.colour_source, value, named in gold_colours, named, q.id)
    # unasked labels: what a description would list, right when the input's gold answers name it
    best: dict[tuple[str, str], float] = {}
    for p in peaks:
        probs, boxes = p[LAYOUT.imagenet], p[LAYOUT.coco_score]
        for word, c in rec._groups.items():
            if word in SCENES or any(boxes[i] >= rec.t.detector.yes for i in c.coco):
                continue
            if not refuted(c.coco, boxes, rec.detector_available, rec.t.detector):
                key = ("classifier", word)
                best[key] = max(best.get(key, 0.0), group_probability(probs, c.imagenet))
        for i in np.argsort(-probs)[:4]:
            if i not in rec._grouped and probs[i] >= 0.05:
                key = ("named", rec.imagenet[i])
                best[key] = max(best.get(key, 0.0), float(probs[i]))
    # unasked boxes: what a description lists of the detector's, right when the gold answers name the thing
    boxes = peaks[:, LAYOUT.coco_score] if len(peaks) else np.zeros((0, N_BOXED))
    for i in range(N_BOXED):
        raw = float(boxes[:, i].max(initial=0.0))
        if raw >= 0.05 and BOXED[i] not in UNLISTED:
            name = coco_name(i)
            words = [name, BOXED[i], *(w for w, to in ALIASES.items() if to == name)]
            add("listed", raw, names_in(gold, [*words, *(PERSON_WORDS if name == "person" else ())]), name,
                "(unasked)")
    for (source, name), raw in best.items():
        if raw >= 0.05:
            words = [w.strip() for w in name.split(",")]
            words += [w.rsplit(" ", 1)[-1] for w in words]
            add(source, raw, names_in(gold, words), words[0], "(unasked)")
            out[-1]["coco"] = source == "classifier" and bool(rec._groups[name].coco)
    return out


def seen_colour(rec, c, peaks, means, frames) -> tuple[str, float] | None:
    """The colour an answer would name for a thing or a band of the frame (a floor, the grass) over the runs
    where it is seen, and its share: each run as the answer reads it (`seen`), their palettes added up as the
    answer adds them (sightings.palette_colour)."""
    runs = (rec.seen(c, p, m, int(n)) for p, m, n in zip(peaks, means, frames, strict=True))
    return palette_colour((s.palette for s in runs if s.score >= 0.5), chromatic_first=not (c.part or c.region))


def precision_upper(right: int, n: int, alpha: float = 0.05) -> float:
    """The upper end of the Clopper-Pearson interval of a proportion (right of n): the largest precision
    that `right` of `n` does not rule out at level alpha."""
    from scipy.stats import beta

    return 1.0 if n == 0 or right >= n else float(beta.ppf(1 - alpha / 2, right + 1, n - right))


def fit(items: list[dict], precision: float) -> dict:
    """yes and no bounds of one source (see the module's doc), and how they do on the items."""
    raw = np.array([i["raw"] for i in items])
    there = np.array([i["there"] for i in items])
    cuts = sorted({float(v) for v in raw if v > 0})
    ok_yes = [v for v in cuts if (raw >= v).sum() >= MIN_CUT and there[raw >= v].mean() >= precision]
    yes = min(ok_yes[0], 1.0) if ok_yes else 1.0
    below = [v for v in cuts if v < yes]
    if ok_yes and below:    # halfway to the next item down: a re-run that moves one score a little keeps the cut
        yes = round((yes + below[-1]) / 2, 4)
    elif ok_yes:            # none below: at the lowest item, rounded down (a cup box of 0.35705 once missed 0.3571)
        yes = math.floor(yes * 1e4) / 1e4
    free = ~np.array([i.get("coco", False) for i in items], bool)   # a COCO thing's "no" is the detector's
    ok_no = [v for v in [0.0, *cuts, yes] if v <= yes and
             ((free & (raw < v)).sum() == 0 or there[free & (raw < v)].mean() <= 1 - precision)]
    no = max(ok_no, default=0.0)
    said_yes, said_no = raw >= yes, raw < no
    return {"yes": round(yes, 4), "no": round(min(no, yes), 4), "items": len(items), "there": int(there.sum()),
            "precision": None if not said_yes.any() else round(float(there[said_yes].mean()), 3),
            "recall": None if not there.any() else round(float((said_yes & there).sum() / there.sum()), 3),
            "no_right": None if not said_no.any() else round(float(1 - there[said_no].mean()), 3),
            "abstained": round(float((~said_yes & ~said_no).mean()), 3) if len(items) else None}


def silence(items: list[dict], precision: float) -> dict:
    """Per thing the detector knows, its items for which it drew no box at all, and how many of those were
    there; `not_no`: the things for which more than 1 - PRECISION were (its silence says nothing of them);
    `is_no`: those with MIN_CUT items or more of which at most 1 - PRECISION were (its silence says "no",
    whatever weak trace the classifier has: a dog label on a scene of people and swings)."""
    by: dict[str, list[int]] = {}
    for i in items:
        if i["source"] == "detector" and i["raw"] == 0.0:
            n = by.setdefault(i["what"], [0, 0])
            n[0], n[1] = n[0] + 1, n[1] + int(i["there"])
    return {"objective": f"a thing's silence says nothing when more than {1 - precision:.0%} of its items "
                         "without a box were there",
            "items": {w: {"items": n, "there": t} for w, (n, t) in sorted(by.items())},
            "not_no": sorted(w for w, (n, t) in by.items() if t > round(1 - precision, 9) * n),
            "is_no": sorted(w for w, (n, t) in by.items() if n >= MIN_CUT and t <= round(1 - precision, 9) * n)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=REPO / "out" / "calibrate")
    ap.add_argument("--precision", type=float, default=0.9, help="of a sighting, every source")
    ap.add_argument("--write", action="store_true", help=f"store the fit in {PATH.relative_to(REPO)}")
    args = ap.parse_args(argv)
    import torch

    from vstream_ros.backends.lite.vision import LiteRecognizer
    from vstream_ros.backends.shared.imagenet import imagenet_classes

    torch.set_num_threads(1)

    @functools.cache
    def lite():
        from vstream_ros.backends import load_backend

        return load_backend("lite", device="cpu")

    items, used = [], []
    for stem, path, qfile in inputs():
        print(f"calibrate: {stem} ({path})", file=sys.stderr, flush=True)
        runs = ingest(lite, stem, path, args.cache)
        questions, _ = load_questions(qfile, stem)
        rec = LiteRecognizer(imagenet_classes(), True)
        items += items_of(rec, stem, runs, questions)
        used.append({"input": stem, "path": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
                     "questions": str(qfile.relative_to(REPO) if qfile.is_relative_to(REPO) else qfile),
                     "questions_sha256": hashlib.sha256(qfile.read_bytes()).hexdigest()[:16]})
    fitted = {s: fit([i for i in items if i["source"] == s], args.precision) for s in SOURCES}
    for s, f in fitted.items():
        if f["items"] < MIN_ITEMS or min(f["there"], f["items"] - f["there"]) < MIN_CUT:   # too little to fit
            upper = precision_upper(f["there"], f["items"])
            if upper < args.precision:     # few items, yet enough to show the source never reaches the precision
                f |= {"yes": 1.0, "no": 0.0, "kept": f"states nothing: {f['there']} of {f['items']} right, the "
                      f"upper 95 % bound of its precision {upper:.2f} < {args.precision}"}
                continue
            from vstream_ros.backends.lite.calibration import DEFAULTS

            f |= {"yes": DEFAULTS[s].yes, "no": DEFAULTS[s].no, "kept": "hand-set (too few items to fit)"}
    result = {"fitted": datetime.date.today().isoformat(), "split": "tuning half (clips chosen before tuning)",
              "objective": f"yes: lowest value at and above which >= {MIN_CUT} items are >= {args.precision:.0%} "
                           f"right, halfway to the next item below; no: highest value <= yes under which "
                           f"<= {1 - args.precision:.0%} of the items "
                           "were there; between: 'I cannot tell'",
              "sample_rate_hz": 1.0, "inputs": used, "sources": fitted,
              "detector_silence": silence(items, args.precision)}
    print(json.dumps(result, indent=1))
    rows = [("source", "yes", "no", "items", "there", "precision", "recall", "no right", "abstained")]
    rows += [(s, f["yes"], f["no"], f["items"], f["there"], f["precision"], f["recall"], f["no_right"],
              f["abstained"]) for s, f in fitted.items()]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows))
    (args.cache / "items.json").write_text(json.dumps(items, indent=0))
    if args.write:
        PATH.write_text(json.dumps(result, indent=1) + "\n")
        print(f"written: {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
