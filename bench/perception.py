"""Cost of identity over time and of scene text per sampled frame, on this CPU, at 640x480.

    python bench/perception.py                 # tracker + OCR on frames of the swing clip
    python bench/perception.py --clips         # also identity quality on the whole clip (runs the detector)

Tracker: ByteTrack (vstream_ros/perception/tracking.py) fed the COCO detector's boxes of real frames
(the detector's own cost is not counted: lite pays it already). OCR: RapidOCR (ocr.py) on whole frames
resized to 640x480, one ONNX thread. Then the cost of one 30 Hz camera at the ingest rate (default
1 Hz) with the tracker on every sampled frame and OCR at most once per --ocr-period seconds (the
OcrSchedule: also only when the picture changed, so this is the worst case), in cores.

--clips: identity on the whole swing clip, sampled at 1 and 2 Hz: how many identities the man and the
child get and how many boxes sit under the other one's identity (who is who from the boxes, as in
tests/test_tracking.py). Prints one JSON document, then a short table; timings are wall-clock on this
machine as it is (other processes included: the load is in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vstream_ros.backends.lite.detection import CocoDetector  # noqa: E402
from vstream_ros.perception.ocr import SceneText  # noqa: E402
from vstream_ros.perception.tracking import Tracker  # noqa: E402

CLIP = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "videos" / "flashvstream_example.mp4"


def detector():
    return CocoDetector.load()


def frames(step: int, limit: int | None = None):
    cap = cv2.VideoCapture(str(CLIP))
    fps, n = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    for k, i in enumerate(range(0, n, step)):
        if limit is not None and k >= limit:
            return
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, bgr = cap.read()
        if not ok:
            return
        yield i, i / fps, np.ascontiguousarray(cv2.resize(bgr, (640, 480))[:, :, ::-1])


def who(d) -> str | None:
    x0, y0, x1, y1 = d.box
    if d.label != "person":
        return None
    if y1 - y0 > 0.55 and y0 < 0.33 and x1 > 0.75 and x1 - x0 < 0.5:
        return "man"
    if y1 - y0 < 0.65 and (x0 + x1) / 2 < 0.65 and x1 - x0 < 0.4:
        return "child"
    return None


def identity(det, hz: float) -> dict:
    step = round(24 / hz)
    tracker, per = Tracker(rate_hz=hz), {}
    for _, t, rgb in frames(step):
        dets = det.detect(rgb)[0]
        for d, i in zip(dets, tracker.update(t, dets), strict=True):
            if who(d) and i >= 0:
                per.setdefault(i, Counter())[who(d)] += 1
    return {"hz": hz, "man_ids": sum(c["man"] > c["child"] for c in per.values()),
            "child_ids": sum(c["child"] >= c["man"] for c in per.values()),
            "boxes": sum(sum(c.values()) for c in per.values()),
            "under_the_other": sum(min(c["man"], c["child"]) for c in per.values()),
            "person_tracks_2plus_frames": tracker.count("person")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20, help="sampled frames for the tracker timing")
    ap.add_argument("--ocr-frames", type=int, default=5)
    ap.add_argument("--rate", type=float, default=1.0, help="ingest rate, frames a second per camera")
    ap.add_argument("--ocr-period", type=float, default=10.0, help="seconds between OCR reads at most")
    ap.add_argument("--clips", action="store_true")
    args = ap.parse_args()
    det = detector()
    bank = [(t, rgb, det.detect(rgb)[0]) for _, t, rgb in frames(12, args.frames)]
    tracker = Tracker(rate_hz=2.0)
    track_ms = []
    for t, _, dets in bank:
        t0 = time.perf_counter()
        tracker.update(t, dets)
        track_ms.append((time.perf_counter() - t0) * 1000)
    reader = SceneText().load()
    ocr_ms = []
    for _, rgb, _ in bank[: args.ocr_frames]:
        t0 = time.perf_counter()
        reader.read(rgb)
        ocr_ms.append((time.perf_counter() - t0) * 1000)
    track_p50, ocr_p50 = statistics.median(track_ms), statistics.median(ocr_ms)
    out = {"machine": {"cpus": os.cpu_count(), "load1": os.getloadavg()[0]}, "frame": "640x480",
           "tracker_ms": {"p50": round(track_p50, 2), "max": round(max(track_ms), 2), "n": len(track_ms),
                          "boxes_per_frame": round(statistics.mean(len(d) for _, _, d in bank), 1)},
           "ocr_ms": {"p50": round(ocr_p50), "max": round(max(ocr_ms)), "n": len(ocr_ms)},
           "camera_cores": {"rate_hz": args.rate, "ocr_period_s": args.ocr_period,
                            "tracker": round(track_p50 / 1000 * args.rate, 5),
                            "ocr_worst": round(ocr_p50 / 1000 / args.ocr_period, 4)}}
    if args.clips:
        out["identity"] = [identity(det, hz) for hz in (1.0, 2.0)]
    print(json.dumps(out, indent=1))
    print(f"\n{'what':<34}{'p50':>10}{'max':>10}")
    print(f"{'tracker, ms per sampled frame':<34}{track_p50:>10.2f}{max(track_ms):>10.2f}")
    print(f"{'OCR, ms per 640x480 frame':<34}{ocr_p50:>10.0f}{max(ocr_ms):>10.0f}")
    cores = out["camera_cores"]
    print(f"cores for one camera at {args.rate:g} Hz: tracker {cores['tracker']}, "
          f"OCR every {args.ocr_period:g} s at most {cores['ocr_worst']}")
    for row in out.get("identity", []):
        print(f"identity at {row['hz']:g} Hz: man {row['man_ids']} ids, child {row['child_ids']} ids, "
              f"{row['under_the_other']} of {row['boxes']} boxes under the other's id")


if __name__ == "__main__":
    main()
