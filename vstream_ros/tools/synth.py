"""vstream-synth: a small synthetic camera bag with scenes at known times, and its question file.

    vstream-synth OUT [--cameras 2] [--seconds 40] [--scene-seconds 10] [--fps 10] [--seed 0] [--sqlite3]

Each scene is a coloured shape on a textured background; scenes change at known stamps. Camera 0
publishes sensor_msgs/Image (rgb8), the others CompressedImage (JPEG), all with the same stamps.
Writes the bag folder OUT (OUT.mcap inside, or .db3) and OUT.questions.json in VStream-QA's fields
(id, video_id, question, answer, type, timestamp, start_time, end_time, options for multiple choice).
Deterministic under --seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from vstream_ros.tools.bags import write_image_bag

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (230, 210, 40)}
SHAPES = ("circle", "square", "triangle")
T0 = 1_700_000_000.0


def scene_list(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """n (colour, shape) pairs, consecutive ones always different."""
    out: list[tuple[str, str]] = []
    combos = [(c, s) for c in COLOURS for s in SHAPES]
    while len(out) < n:
        c = combos[rng.integers(len(combos))]
        if not out or out[-1] != c:
            out.append(c)
    return out


def draw(colour: str, shape: str, t: float, texture: np.ndarray, h: int, w: int) -> np.ndarray:
    img = texture.copy()
    cx, cy = int(w / 2 + 0.15 * w * np.sin(t)), int(h / 2 + 0.1 * h * np.cos(0.7 * t))
    r = min(h, w) // 5
    col = COLOURS[colour]
    if shape == "circle":
        cv2.circle(img, (cx, cy), r, col, -1)
    elif shape == "square":
        cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), col, -1)
    else:
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
        cv2.fillPoly(img, [pts], col)
    return img


def synth(out: Path, cameras: int = 2, seconds: float = 40.0, scene_seconds: float = 10.0, fps: float = 10.0,
          seed: int = 0, size: tuple[int, int] = (240, 320), storage: str = "mcap") -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    h, w = size
    n_scenes = int(np.ceil(seconds / scene_seconds))
    scenes = scene_list(n_scenes, rng)
    textures = [np.clip(rng.normal(128, 30, (h, w, 1)) + np.linspace(0, 60, w)[None, :, None] * (k % 2), 0, 255)
                .astype(np.uint8).repeat(3, 2) for k in range(n_scenes)]
    topics = ["/cam0/image_raw"] + [f"/cam{i}/image_raw/compressed" for i in range(1, cameras)]
    n_frames = int(round(seconds * fps))

    def frames():
        for i in range(n_frames):
            t = i / fps
            k = min(int(t // scene_seconds), n_scenes - 1)
            img = draw(*scenes[k], t, textures[k], h, w)
            img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
            for topic in topics:
                yield T0 + t, topic, img

    bag_dir = out.with_suffix("") if out.suffix in (".mcap", ".db3") else out
    raw = {t for t in topics if not t.endswith("/compressed")}
    write_image_bag(bag_dir, frames(), raw, storage)
    questions = []
    last = (n_frames - 1) / fps
    for k, (colour, shape) in enumerate(scenes):
        start, end = k * scene_seconds, min((k + 1) * scene_seconds, seconds) - 1 / fps
        ask = min(end + 1.0, last)
        others = [f"{c} {s}" for c, s in ([(c2, s2) for c2 in COLOURS for s2 in SHAPES]) if (c, s) != (colour, shape)]
        rng.shuffle(others)
        options = others[:3] + [f"{colour} {shape}"]
        rng.shuffle(options)
        questions += [
            {"id": f"s{k}-mc", "video_id": bag_dir.name, "type": "what-shape", "timestamp": round(ask, 3),
             "start_time": round(start, 3), "end_time": round(end, 3),
             "question": f"Which shape was on camera between {start:.0f} s and {end:.0f} s?",
             "options": options, "answer": f"{colour} {shape}"},
            {"id": f"s{k}-oe", "video_id": bag_dir.name, "type": "describe", "timestamp": round(ask, 3),
             "start_time": round(start, 3), "end_time": round(end, 3),
             "question": "What coloured shape did you see most recently?", "answer": f"A {colour} {shape}."},
        ]
    qfile = bag_dir.with_name(bag_dir.name + ".questions.json")
    qfile.write_text(json.dumps(questions, indent=1))
    return bag_dir, qfile


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vstream-synth", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="bag folder to write (a .mcap suffix is dropped)")
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--scene-seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sqlite3", action="store_true", help="sqlite3 storage instead of mcap")
    args = ap.parse_args(argv)
    bag, qfile = synth(args.out, args.cameras, args.seconds, args.scene_seconds, args.fps, args.seed,
                       storage="sqlite3" if args.sqlite3 else "mcap")
    print(f"bag: {bag}\nquestions: {qfile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
