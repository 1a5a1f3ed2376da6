"""What lite follows over time at ingest, beside each frame's annotation: identities (perception's
ByteTrack tracker on the detector's boxes) and text in the scene (RapidOCR when its schedule says).

Per camera: one Tracker and one OcrSchedule, fed in stamp order by the encoder worker right after
`annotate` (whose boxes it reuses: no second detector pass). Why these choices:
- A frame the detector did not look at (load shedding thins it to every 2nd or 4th frame) is not fed
  to the tracker: "no boxes" there would age every track as if the things had left. The tracker's
  lost budget stretches to cover the gaps the thinning makes (`lost_s`).
- The tracker's nominal rate follows the camera's sampling (a running mean of the stamp gaps), since
  ingest may sample at 1 Hz or 2 Hz and add frames on change (engine/ingest.py).
- OCR reads the whole frame, at most once per `ocr_period_s` and only when the picture changed
  (perception/ocr.py's OcrSchedule): a read costs 0.4-1 s of one core here. Reads run on their own
  lower-priority thread (perception/ocr.py's BackgroundReader), one at a time: on the encoder's thread a
  read held up every camera's next frames (4 cameras: p95 from offer to memory 1.1-1.7 s, bench/node.py).
  The words reach the memory through `late()`, on the encoder worker's next turn, stamped with the frame
  they were read in; while a read is under way no camera's frame is due (each camera's first frame is,
  so cameras starting together take turns). A read of a camera that was reset since is dropped.
- A missing package (trackers, rapidocr-onnxruntime) turns that part off with one warning; the frames
  are still encoded and annotated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vstream_ros.backends.contract import NOTHING_OBSERVED, Observation
from vstream_ros.backends.lite import colours
from vstream_ros.memory.tracks import TextSighting, Track
from vstream_ros.perception.boxes import area, intersection

log = logging.getLogger(__name__)

OCR_PERIOD_S = 10.0
TRACK_COLOURS = 3                 # colour names kept per track ...
COLOUR_SHARE = 0.1                # ... each covering at least this share of its boxes
BEARER = 0.6                      # a word is read on a box that holds this share of its own box


def _palette(rgb: np.ndarray, box) -> np.ndarray:
    return colours.fractions(rgb, box, inner=0.6)


def as_track(rec) -> Track:
    """A tracker's record (perception/tracking.py) as the memory's Track."""
    cols = rec.colours
    named: tuple[tuple[str, float], ...] = ()
    if cols is not None and float(cols.sum()) > 0:
        share = cols / float(cols.sum())
        named = tuple((colours.NAMES[i], round(float(share[i]), 3)) for i in np.argsort(-share)[:TRACK_COLOURS]
                      if share[i] >= COLOUR_SHARE)
    return Track(rec.id, rec.label, float(rec.first), float(rec.last), int(rec.frames), round(float(rec.best_score), 3),
                 named, bool(rec.entered), bool(rec.exited), first_box=tuple(round(float(v), 4) for v in rec.first_box),
                 last_box=tuple(round(float(v), 4) for v in rec.last_box))


def bearer(box: tuple[float, float, float, float], boxes: Sequence[tuple[str, tuple]]) -> str:
    """The label of the smallest detector box that holds most of a word's box ("person": the words on a
    T-shirt; "truck": a van's livery), or "" when none does (a sign, a screen: things the detector has no
    class for)."""
    own = max(area(box), 1e-9)
    holding = [(label, area(b)) for label, b in boxes if intersection(box, b) >= BEARER * own]
    return min(holding, key=lambda h: h[1])[0] if holding else ""


@dataclass
class _Camera:
    tracker: object | None = None
    schedule: object | None = None
    last_stamp: float | None = None
    gap_s: float | None = None                  # running mean of the gaps between its sampled frames
    newest: tuple[float, np.ndarray, tuple] | None = None   # its newest frame (a copy) and boxes, for read_newest


class Observer:
    """Per-camera trackers and text-reading schedules of one encoder (used by the encoder's one thread)."""

    def __init__(self, tracking: bool = True, ocr: bool = True, ocr_period_s: float = OCR_PERIOD_S,
                 reader=None) -> None:
        self.tracking, self.ocr, self.ocr_period_s = tracking, ocr, float(ocr_period_s)
        self.detector_every = 1                 # load shedding: the detector looks at every n-th frame
        self._reader = reader                   # a perception.ocr.BackgroundReader (made on first use)
        self._cameras: dict[str, _Camera] = {}
        self._reading = threading.Lock()        # schedules and submits: the encoder's thread and read_newest's

    def observe(self, cameras: Sequence[str], stamps: Sequence[float], frames: np.ndarray,
                detections: Sequence[list | None]) -> list[Observation]:
        """One Observation per frame; `detections[b]` None: the detector did not look at frame b."""
        if not (len(cameras) == len(stamps) == len(frames) == len(detections)):
            raise ValueError(f"{len(cameras)} cameras, {len(stamps)} stamps, {len(frames)} frames and "
                             f"{len(detections)} detection lists: one of each per frame")
        return [self._one(c, float(t), f, d) for c, t, f, d in zip(cameras, stamps, frames, detections, strict=True)]

    def late(self) -> list[tuple[str, Observation]]:
        """Words of background reads finished since the last call, by camera (reads of a camera reset or
        forgotten since are dropped). A read's error other than a missing package is raised here."""
        if self._reader is None:
            return []
        from vstream_ros.perception.ocr import OcrUnavailable

        out = []
        for r in self._reader.take():
            camera, cam, boxes = r.key
            if isinstance(r.error, OcrUnavailable):
                log.warning("lite: no text in the scene (%s)", r.error)
                self.ocr = False
            elif r.error is not None:
                raise r.error
            elif self._cameras.get(camera) is cam and r.words:
                out.append((camera, Observation(texts=tuple(
                    TextSighting(w.text, r.stamp, r.stamp, round(w.score, 3), w.box, bearer=bearer(w.box, boxes))
                    for w in r.words))))
        return out

    def pending(self) -> bool:
        """A background read under way or not yet taken by `late`."""
        return self._reader is not None and self._reader.pending()

    def forget(self, camera: str | None = None) -> None:
        """Drop a camera's trackers and schedule (or all cameras')."""
        if camera is None:
            self._cameras.clear()
        else:
            self._cameras.pop(camera, None)

    def _one(self, camera: str, stamp: float, frame: np.ndarray, dets: list | None) -> Observation:
        cam = self._cameras.get(camera)
        if cam is None or (cam.last_stamp is not None and stamp < cam.last_stamp):
            cam = self._cameras[camera] = _Camera()       # time went back: a new stream, whose memory is new
        if cam.last_stamp is not None and stamp > cam.last_stamp:
            gap = stamp - cam.last_stamp
            cam.gap_s = gap if cam.gap_s is None else 0.8 * cam.gap_s + 0.2 * gap
        cam.last_stamp = stamp
        tracks = self._track(cam, stamp, frame, dets) if self.tracking and dets is not None else ()
        if self.ocr:
            boxes = tuple((d.label, tuple(d.box)) for d in dets or ())
            cam.newest = (stamp, np.array(frame, copy=True), boxes)
            self._read(camera, cam, stamp, frame, boxes)
        return Observation(tracks) if tracks else NOTHING_OBSERVED

    def read_newest(self, camera: str) -> bool:
        """Start reading the newest frame of a camera now (a question about the text in view), unless no read
        is needed: text off, no frame yet, or the frame is the one last read or unchanged since. False while
        another read is under way: ask again when `pending` is over (one read at a time)."""
        with self._reading:
            cam = self._cameras.get(camera)
            if not self.ocr or cam is None or cam.newest is None:
                return True
            stamp, frame, boxes = cam.newest
            self._ready_to_read(cam)
            if not cam.schedule.unread(stamp, frame):
                return True
            if not self._reader.submit((camera, cam, boxes), stamp, frame):
                return False
            cam.schedule.due(stamp, frame, force=True)       # counts as read: the schedule's next is 10 s on
            return True

    # ------------------------------------------------------------------ tracks
    def _track(self, cam: _Camera, stamp: float, frame: np.ndarray, dets: list) -> tuple[Track, ...]:
        if cam.tracker is None:
            try:
                from vstream_ros.perception.tracking import Tracker, TrackerUnavailable

                cam.tracker = Tracker(rate_hz=1.0, palette=_palette)
            except (ImportError, TrackerUnavailable) as e:
                log.warning("lite: no identity over time (%s)", e)
                self.tracking = False
                return ()
        tracker = cam.tracker
        if cam.gap_s:
            tracker.rate_hz = 1.0 / cam.gap_s
        from vstream_ros.perception.tracking import LOST_S

        tracker.lost_s = max(LOST_S, 1.5 * self.detector_every * (cam.gap_s or 1.0))
        live_before = set(tracker.live)
        tracker.update(stamp, dets, frame=frame)
        out = [r for r in tracker.live.values() if r.last == stamp]
        gone = live_before - set(tracker.live)
        if gone:                                  # finished by this frame: their final records (exited, ...)
            out += [r for r in tracker.finished if r.id in gone]
        return tuple(as_track(r) for r in out)

    # ------------------------------------------------------------------- text
    def _ready_to_read(self, cam: _Camera) -> None:
        """The camera's text-reading schedule and the shared reader, made on first use (under `_reading`)."""
        from vstream_ros.perception.ocr import BackgroundReader, OcrSchedule

        if cam.schedule is None:
            cam.schedule = OcrSchedule(self.ocr_period_s)
        if self._reader is None:
            self._reader = BackgroundReader()

    def _read(self, camera: str, cam: _Camera, stamp: float, frame: np.ndarray, boxes: tuple) -> None:
        """Start a background read of this frame when the reader is free and the camera's schedule says; the
        frame's boxes (label, box) go with it, to tell what each word was read on."""
        with self._reading:
            self._ready_to_read(cam)
            if self._reader.busy() or not cam.schedule.due(stamp, frame):
                return                          # another read is under way: this camera's turn comes later
            self._reader.submit((camera, cam, boxes), stamp, frame)
