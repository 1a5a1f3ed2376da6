"""Text in the scene: signs, labels, screens and shirts read by RapidOCR (PP-OCRv4 detection and
recognition, ONNX models inside the `rapidocr-onnxruntime` wheel, Apache-2.0), loaded on first use.

Why these settings: the package's own detection size (the frame's short side scaled up to 736 px) is
kept: at the frame's native size, text 15-20 px high on a 480x360 clip (a shirt's print) is not found
at all. One ONNX thread: the node shares the CPU with ingest and answering, and on 2 busy cores one
thread was faster than the default pool. Words under `min_score` (0.8) or `min_height` pixels high, or
with no letter or digit, are dropped: on frames without text PP-OCR returns shapes read as "S=", "OM5"
or a Chinese glyph at 0.5-0.7.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

MIN_SCORE = 0.8
MIN_HEIGHT = 8                    # pixels of the frame (after a crop is mapped back): smaller is noise
LIMIT_SIDE, LIMIT_TYPE = 736, "min"
INSTALL_HINT = ("scene text needs rapidocr-onnxruntime: pip install --no-deps rapidocr-onnxruntime==1.4.4 "
                "onnxruntime pyclipper shapely six (scripts/setup.sh does this)")


class OcrUnavailable(RuntimeError):
    """rapidocr-onnxruntime (or onnxruntime) is not installed."""


@dataclass(frozen=True)
class Word:
    text: str
    score: float
    box: tuple[float, float, float, float]       # x0, y0, x1, y1 as fractions of the whole frame

    def as_dict(self) -> dict:
        return {"text": self.text, "score": round(self.score, 3), "box": [round(v, 4) for v in self.box]}


def _engine(threads: int, limit_side: int, limit_type: str):
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise OcrUnavailable(INSTALL_HINT) from e
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=threads,
                    det_limit_side_len=limit_side, det_limit_type=limit_type)


class SceneText:
    """Words read in an RGB frame or in a box of it. Thread-safe; the model loads on the first read."""

    def __init__(self, min_score: float = MIN_SCORE, min_height: float = MIN_HEIGHT, threads: int = 1,
                 limit_side: int = LIMIT_SIDE, limit_type: str = LIMIT_TYPE) -> None:
        if not 0 <= min_score <= 1 or min_height < 0 or threads < 1 or limit_type not in ("min", "max"):
            raise ValueError("min_score in [0, 1], min_height >= 0, threads >= 1, limit_type 'min' or 'max'")
        self.min_score, self.min_height, self.threads = float(min_score), float(min_height), int(threads)
        self.limit_side, self.limit_type = int(limit_side), limit_type
        self._engine = None
        self._lock = threading.Lock()

    def load(self) -> SceneText:
        with self._lock:
            if self._engine is None:
                self._engine = _engine(self.threads, self.limit_side, self.limit_type)
        return self

    def read(self, frame: np.ndarray, box: tuple[float, float, float, float] | None = None,
             margin: float = 0.1) -> list[Word]:
        """uint8 RGB [H, W, 3] -> the words read, best first. `box` (fractions) reads only that part of the
        frame, widened by `margin` of its size on each side; word boxes are still fractions of the frame."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or min(frame.shape[:2]) < 8:
            raise ValueError(f"expected a uint8 RGB frame [H, W, 3] at least 8 px a side, got "
                             f"{frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        x0 = y0 = 0
        crop = frame
        if box is not None:
            if len(box) != 4 or not all(math.isfinite(float(v)) for v in box) or box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(f"a box is (x0, y0, x1, y1) fractions with x1 > x0, y1 > y0; got {box}")
            bw, bh = box[2] - box[0], box[3] - box[1]
            x0, y0 = max(0, int((box[0] - margin * bw) * w)), max(0, int((box[1] - margin * bh) * h))
            x1, y1 = min(w, math.ceil((box[2] + margin * bw) * w)), min(h, math.ceil((box[3] + margin * bh) * h))
            if x1 - x0 < 8 or y1 - y0 < 8:
                return []
            crop = frame[y0:y1, x0:x1]
        engine = self.load()._engine
        with self._lock:               # one ONNX session: reads from several threads take turns
            result, _ = engine(np.ascontiguousarray(crop[:, :, ::-1]))
        words = []
        for quad, text, score in result or []:
            q = np.asarray(quad, dtype=np.float32)
            (qx0, qy0), (qx1, qy1) = q.min(0), q.max(0)
            text = str(text).strip()
            if float(score) < self.min_score or qy1 - qy0 < self.min_height or not any(c.isalnum() for c in text):
                continue
            words.append(Word(text, float(score), ((x0 + qx0) / w, (y0 + qy0) / h, (x0 + qx1) / w, (y0 + qy1) / h)))
        return sorted(words, key=lambda wd: -wd.score)


class OcrSchedule:
    """When to read a camera's text: reading costs about a second of one core per frame here, so not on
    every sampled frame. Read at most once per `period_s`, and only when the picture changed since the
    last read (mean absolute difference of a 32x24 grey thumbnail over `change`), so a still scene is
    read once; `force` (a question about text: `unread` says whether it needs one) reads now."""

    def __init__(self, period_s: float = 10.0, change: float = 6.0) -> None:
        self.period_s, self.change = float(period_s), float(change)
        self._last_stamp: float | None = None
        self._last_thumb: np.ndarray | None = None

    @staticmethod
    def thumbnail(frame: np.ndarray) -> np.ndarray:
        """32x24 grey levels: the frame shrunk first (the grey mean of a whole 640x480 frame in float took
        8 ms of the encoder's thread on every sampled frame; this is well under one)."""
        import cv2

        small = cv2.resize(np.ascontiguousarray(frame), (32, 24), interpolation=cv2.INTER_AREA)
        return small.reshape(24, 32, -1).mean(2, dtype=np.float32)

    def due(self, stamp: float, frame: np.ndarray, force: bool = False) -> bool:
        """Whether to read this frame; when True, the frame counts as read. The thumbnail is only made
        once the period has passed (or when forced)."""
        if not force and self._last_stamp is not None and abs(stamp - self._last_stamp) < self.period_s:
            return False
        thumb = self.thumbnail(frame)
        if not force and self._last_stamp is not None and not self._changed(thumb):
            return False
        self._last_stamp, self._last_thumb = stamp, thumb
        return True

    def unread(self, stamp: float, frame: np.ndarray) -> bool:
        """Whether a frame may show text no read has seen: it is not the frame last read, and the picture
        changed since (as `due` measures it)."""
        if self._last_stamp is None:
            return True
        return stamp != self._last_stamp and self._changed(self.thumbnail(frame))

    def _changed(self, thumb: np.ndarray) -> bool:
        """The picture changed since the last read (or there is no thumbnail of it to compare)."""
        return self._last_thumb is None or float(np.abs(thumb - self._last_thumb).mean()) >= self.change



NICE = 10                          # the reading thread's niceness above its caller's (Linux: per thread)


@dataclass(frozen=True)
class Reading:
    """One finished read of BackgroundReader: the words, or the error that stopped it."""

    key: object
    stamp: float
    words: tuple[Word, ...] = ()
    error: Exception | None = None


class BackgroundReader:
    """Reads one frame at a time on a thread of its own (one per read, `vstream-ocr`), at a lower CPU
    priority, so that a read (0.4-1 s of a core here) never holds up the caller. `submit` refuses while a
    read is under way (the caller tries a later frame); finished reads wait in `take`. The SceneText is made
    on the first read's thread and kept; a thread per read ends with its read, so nothing of it runs once
    the caller stops submitting (`join` waits for the read under way)."""

    def __init__(self, make: type[SceneText] | None = None, nice: int = NICE) -> None:
        self._make = make or SceneText
        self._nice = int(nice)
        self._lock = threading.Lock()
        self._job: tuple[object, float] | None = None
        self._done: list[Reading] = []
        self._reader: SceneText | None = None
        self._thread: threading.Thread | None = None

    def busy(self) -> bool:
        with self._lock:
            return self._job is not None

    def pending(self) -> bool:
        """A read under way (its thread not yet ended), or finished and not yet taken."""
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            return self._job is not None or bool(self._done) or alive

    def submit(self, key: object, stamp: float, frame: np.ndarray) -> bool:
        """Read `frame` (copied) in the background; False, reading nothing, while another read is under way."""
        with self._lock:
            if self._job is not None:
                return False
            self._job = (key, float(stamp))
            self._thread = threading.Thread(target=self._read, args=(key, float(stamp), np.array(frame, copy=True)),
                                            name="vstream-ocr", daemon=True)
            self._thread.start()
            return True

    def take(self) -> list[Reading]:
        """The reads finished since the last call, oldest first."""
        with self._lock:
            done, self._done = self._done, []
            return done

    def join(self, timeout: float | None = None) -> None:
        """Wait for the read under way, if any."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _read(self, key: object, stamp: float, frame: np.ndarray) -> None:
        try:
            import os

            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self._nice)
        except (AttributeError, OSError):    # not Linux, or not allowed: read at the caller's priority
            pass
        try:
            if self._reader is None:
                self._reader = self._make()
            out = Reading(key, stamp, tuple(self._reader.read(frame)))
        except Exception as e:        # handed to the caller: OcrUnavailable turns text off there
            out = Reading(key, stamp, error=e)
        with self._lock:
            self._done.append(out)
            self._job = None
