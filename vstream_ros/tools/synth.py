"""vstream-synth: a small synthetic camera bag with scenes at known times and places, and its question file.

    vstream-synth OUT [--cameras 2] [--seconds 40] [--scene-seconds 10] [--fps 10] [--seed 0] [--photos]
                      [--odom-hz 20] [--sqlite3]

Each scene is a coloured shape on a textured background (or, with --photos, a real photograph that the
lite backend recognises: a cat, a cup of coffee, a rocket, ...); scenes change at known stamps. Camera 0
publishes sensor_msgs/Image (rgb8), the others CompressedImage (JPEG), all with the same stamps.

The robot drives a loop (tools/trajectory.py) and publishes nav_msgs/Odometry on /odom (frame "odom")
at --odom-hz: each scene is seen from its own station; during the first DRIVE_FRACTION of a scene the
robot drives there and its cameras see the bare background (the corridor), then it stands at the
station while the scene is on camera. --odom-hz 0: no odometry, the scene fills its whole span.

Writes the bag folder OUT (OUT.mcap inside, or .db3) and OUT.questions.json in VStream-QA's fields
(id, video_id, question, answer, type, timestamp, start_time, end_time, options for multiple choice),
with "where" questions whose "answer_pose" is [x, y], the station in the odom frame (metres).
Deterministic under --seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

from vstream_ros.tools.bags import write_image_bag
from vstream_ros.tools.photos import PHOTOS, hand_held, load_photo
from vstream_ros.tools.trajectory import StationLoop

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (230, 210, 40)}
SHAPES = ("circle", "square", "triangle")
T0 = 1_700_000_000.0
DRIVE_FRACTION = 0.2       # of each scene (but the first): driving to its station, the scene not yet in view
ODOM_HZ = 20.0
LOOP_RADIUS_M = 2.0
PHOTO_PHRASES = {"coffee": "cup of coffee"}   # how a question names a photo, where not by its name


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
          seed: int = 0, size: tuple[int, int] = (240, 320), storage: str = "mcap", photos: bool = False,
          odom_hz: float = ODOM_HZ) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    h, w = size
    n_scenes = int(np.ceil(seconds / scene_seconds))
    names = [PHOTOS[k % len(PHOTOS)][0] for k in range(n_scenes)] if photos else []
    scenes = [] if photos else scene_list(n_scenes, rng)
    textures = [np.clip(rng.normal(128, 30, (h, w, 1)) + np.linspace(0, 60, w)[None, :, None] * (k % 2), 0, 255)
                .astype(np.uint8).repeat(3, 2) for k in range(n_scenes)]
    images = {n: load_photo(src) for n, src, _ in PHOTOS if n in names}
    topics = ["/cam0/image_raw"] + [f"/cam{i}/image_raw/compressed" for i in range(1, cameras)]
    n_frames = int(round(seconds * fps))
    drive = DRIVE_FRACTION * scene_seconds if odom_hz > 0 and n_scenes > 1 else 0.0
    loop = StationLoop(n_scenes, scene_seconds, drive, LOOP_RADIUS_M)

    def frames():
        for i in range(n_frames):
            t = i / fps
            k = min(int(t // scene_seconds), n_scenes - 1)
            in_view = t + 1e-9 >= loop.standing(k)[0]
            if photos and in_view:
                img = hand_held(images[names[k]], i, size, rng)
            else:
                img = draw(*scenes[k], t, textures[k], h, w) if in_view else textures[k]
                img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
            for topic in topics:
                yield T0 + t, topic, img

    bag_dir = out.with_suffix("") if out.suffix in (".mcap", ".db3") else out
    raw = {t for t in topics if not t.endswith("/compressed")}
    odometry = loop.odometry(T0, (n_frames - 1) / fps, odom_hz) if odom_hz > 0 else ()
    write_image_bag(bag_dir, frames(), raw, storage, odometry)
    questions = []
    last = (n_frames - 1) / fps
    for k in range(n_scenes):
        start = math.ceil(loop.standing(k)[0] * fps - 1e-9) / fps          # the scene's first frame
        end = min((k + 1) * scene_seconds, seconds) - 1 / fps
        ask = min(end + 1.0, last)
        thing = PHOTO_PHRASES.get(names[k], names[k]) if photos else " ".join(scenes[k])
        if odom_hz > 0:
            x, y, _ = loop.station(k)
            questions.append(
                {"id": f"s{k}-where", "video_id": bag_dir.name, "type": "where", "timestamp": round(ask, 3),
                 "start_time": round(start, 3), "end_time": round(end, 3),
                 "question": f"Where did you see the {thing}?",
                 "answer": f"At x={x:.2f} m, y={y:.2f} m (odom frame), where the robot stood while it saw the {thing}.",
                 "answer_pose": [round(x, 3), round(y, 3)]})
        if photos:
            continue
        colour, shape = scenes[k]
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
    ap.add_argument("--photos", action="store_true", help="real photographs (lite recognises them) instead of shapes")
    ap.add_argument("--odom-hz", type=float, default=ODOM_HZ, help="odometry rate on /odom; 0: none")
    ap.add_argument("--sqlite3", action="store_true", help="sqlite3 storage instead of mcap")
    args = ap.parse_args(argv)
    bag, qfile = synth(args.out, args.cameras, args.seconds, args.scene_seconds, args.fps, args.seed,
                       storage="sqlite3" if args.sqlite3 else "mcap", photos=args.photos, odom_hz=args.odom_hz)
    print(f"bag: {bag}\nquestions: {qfile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
