"""Identity over time: ByteTrack (the `trackers` package, Roboflow's maintained home of the ByteTrack that
supervision used to ship) on the detector's boxes at the ingest rate, with bounded per-track records.

Why these settings: ingest keeps 1-2 frames a second, not the 30 ByteTrack was tuned for.
- Time-based: every update carries its stamp, so the Kalman step and the lost-track budget are in
  seconds (`lost_s`), whatever the rate; a frame skipped by load shedding does not age a track twice.
- Plain IoU (0.1) to associate, the library's default. DIoU/GIoU/CIoU, which still match boxes that do
  not overlap, looked right for slow rates but swap identities on the real swing clip: the child's
  track, predicted past the turn of the swing, takes the man's box (28-42 of 116 boxes under the wrong
  identity at 2 Hz, against 3 with IoU; bench/perception.py --clips). A track that breaks is a smaller
  harm than two people's colours mixed into one.
- Thresholds follow NanoDet's scores (0.35 is its floor; people score 0.4-0.85): boxes from 0.5 up
  start and match tracks, 0.35-0.5 only extend tracks (ByteTrack's second stage).
- A track is confirmed on its first match (minimum_consecutive_frames=1): at 1 Hz, asking for more
  loses things on camera for 1.5 s. ByteTrack gives a new track's first box no id; the first sighting
  is written back into the record when the track is confirmed one frame later (`_first_box`).
- The Kalman filter's velocity is halved before every prediction (VELOCITY_DAMPING): between two
  samples a second apart, a box's change is mostly the detector's jitter (half a man, then all of him)
  and a swing's turn, not motion to extrapolate (at 1 Hz the man kept 1 id with 0.5, 3 with 1.0;
  0.0 put 16 of 116 boxes at 2 Hz under the other person's id).
- Lost tracks: ByteTrack's prediction for a track unseen for a few samples drifts onto whatever passes
  (the lost man's track took the child swinging through where he stood). So a match for a track lost a
  sample or more that neither overlaps its last box nor is of its size (within 2x) starts a new record
  (`_jumped`); a new ByteTrack id is first offered to the group's lost records whose last box it
  overlaps (IoU >= 0.3: `_relink`); boxes over 60 % of the frame (at the lens) are not tracked. Colours
  do not help as a gate: the man's and the child's coarse palettes agree, and his own drifts.
- Motion, ByteTrack's blind spot at 1 Hz: a person walking across moves further than their box between
  samples (walkway clip: 5 of 27 person boxes got an id). A second stage (`_by_motion`, motion.py)
  links strong boxes ByteTrack left without an id to a lost track, or to an untracked box of the frame
  before, by the centre's move in the person's own heights a second; `_relink` falls back to it. Walkway
  at 1 Hz: 16 of 27 boxes, a man followed 0-6 s. Swing clip (bench/perception.py --clips, who is who
  from box geometry): at 2 Hz the man 1 id, the child 2 (5 before), no box under the other's id; at
  1 Hz 2 and 8 ids, 3 of 51 boxes under the other's: a swinging child at 1 Hz is fragmented, not mixed.
- One ByteTrack per class group: a swing seat called truck steals no person's track; a van called car,
  then truck, is one vehicle (its label: its most frequent one).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vstream_ros.perception import motion
from vstream_ros.perception.boxes import area, centre_distance, iou, unions

GROUPS: dict[str, str] = {"person": "person", "car": "vehicle", "truck": "vehicle", "bus": "vehicle",
                          "train": "vehicle", "bicycle": "cycle", "motorcycle": "cycle"}
BORDER = 0.02                      # a box within 2 % of the frame's edge is "at the border"
LOST_S = 3.0                       # a track unseen this long is finished (short occlusions: 1-3 s)
HIGH_SCORE, ACTIVATION, LOW_FLOOR = 0.5, 0.5, 0.35
MIN_IOU = 0.1
VELOCITY_DAMPING = 0.5
MAX_LIVE, MAX_FINISHED = 64, 256
MAX_AREA = 0.6                     # a box over 60 % of the frame is at the lens (a swing seat): not tracked
MAX_LABELS = 8                     # label votes kept per track
RELINK_IOU = 0.3
# linked by motion (its gate is a walking pace): on the overpass clip a lane's cars were linked into one
MOTION_GROUPS = frozenset({"person"})


class DetectionLike(Protocol):
    label: str
    score: float
    box: tuple[float, float, float, float]      # x0, y0, x1, y1 as fractions of the frame


Palette = Callable[[np.ndarray, tuple[float, float, float, float]], np.ndarray]


class TrackerUnavailable(RuntimeError):
    """The tracker's package is not installed."""


def at_border(box: Sequence[float], margin: float = BORDER) -> bool:
    x0, y0, x1, y1 = box
    return x0 <= margin or y0 <= margin or x1 >= 1 - margin or y1 >= 1 - margin


@dataclass
class TrackRecord:
    """One identity: what the memory keeps of it (bounded: a few numbers, label votes, a colour sum)."""

    id: int
    group: str
    first: float
    last: float
    frames: int = 0
    best_score: float = 0.0
    first_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    last_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    entered: bool = False          # first seen at the frame's border: it came in (not there from the start)
    exited: bool = False           # last seen at the border: it went out (set when the track finishes)
    finished: bool = False
    labels: Counter = field(default_factory=Counter)
    colour_sum: np.ndarray | None = None         # summed colour fractions over its frames (palette hook)
    velocity: tuple[float, float] = (0.0, 0.0)   # its centre's, between its last two boxes (motion.py)

    @property
    def label(self) -> str:
        return self.labels.most_common(1)[0][0] if self.labels else self.group

    @property
    def colours(self) -> np.ndarray | None:
        """Mean colour fractions over the frames it was seen in (None without a palette)."""
        return None if self.colour_sum is None else self.colour_sum / max(self.frames, 1)

    def add(self, stamp: float, label: str, score: float, box: tuple, colour: np.ndarray | None) -> None:
        if self.frames and stamp > self.last:
            self.velocity = motion.velocity(self.last_box, self.last, box, stamp)
        self.last, self.last_box = max(self.last, stamp), box
        self.first = min(self.first, stamp)
        self.frames += 1
        self.best_score = max(self.best_score, float(score))
        self.labels[label] += 1
        if len(self.labels) > MAX_LABELS:
            del self.labels[min(self.labels, key=self.labels.get)]
        if colour is not None:
            colour = np.asarray(colour, dtype=np.float32)
            self.colour_sum = colour.copy() if self.colour_sum is None else self.colour_sum + colour

    def as_dict(self) -> dict:
        """Plain data for a memory run or a snapshot (JSON-safe)."""
        return {"id": self.id, "label": self.label, "first": self.first, "last": self.last, "frames": self.frames,
                "best_score": round(self.best_score, 3), "entered": self.entered, "exited": self.exited,
                "finished": self.finished, "first_box": [round(v, 4) for v in self.first_box],
                "last_box": [round(v, 4) for v in self.last_box],
                "colours": None if self.colour_sum is None else [round(float(v), 4) for v in self.colours]}


_ESTIMATORS: dict[float, type] = {}


def _estimator(damping: float) -> type:
    """ByteTrack's corner Kalman filter (x0, y0, x1, y1 and their velocities) with the velocity scaled by
    `damping` before every prediction (see the module's note on VELOCITY_DAMPING)."""
    if damping not in _ESTIMATORS:
        from trackers.utils.state_representations import XYXYStateEstimator

        class DampedXYXY(XYXYStateEstimator):
            def clamp_velocity(self, frame_step: float = 1.0) -> None:
                self.kf.state[self._VEL_IDX] *= damping

        _ESTIMATORS[damping] = DampedXYXY
    return _ESTIMATORS[damping]


def _bytetrack(rate_hz: float, lost_s: float, damping: float = VELOCITY_DAMPING):
    try:
        from trackers import ByteTrackTracker, IoU
    except ImportError as e:      # pragma: no cover - depends on the environment
        raise TrackerUnavailable("identity over time needs the `trackers` package (pip install "
                                 "--no-deps trackers, see scripts/setup.sh)") from e
    return ByteTrackTracker(lost_track_buffer=max(1, round(lost_s * 30)), frame_rate=rate_hz,
                            track_activation_threshold=ACTIVATION, minimum_consecutive_frames=1,
                            minimum_iou_threshold=MIN_IOU, high_conf_det_threshold=HIGH_SCORE, iou=IoU(),
                            state_estimator_class=_estimator(damping))


class Tracker:
    """Track ids for each frame's detections, and bounded records of every identity.

    `update(stamp, detections)` returns one id per detection, in their order (-1: not tracked: a weak box
    that extends no track, or a label outside `groups`' reach when `track_all` is False)."""

    def __init__(self, rate_hz: float = 1.0, lost_s: float = LOST_S, max_live: int = MAX_LIVE,
                 max_finished: int = MAX_FINISHED, palette: Palette | None = None, min_score: float = LOW_FLOOR,
                 groups: dict[str, str] | None = None, track_all: bool = True) -> None:
        if not (rate_hz > 0 and lost_s > 0 and max_live > 0 and max_finished >= 0):
            raise ValueError("rate_hz, lost_s and max_live must be positive, max_finished not negative")
        self.rate_hz, self.lost_s, self.max_live = float(rate_hz), float(lost_s), int(max_live)
        self.palette, self.min_score, self.track_all = palette, float(min_score), track_all
        self.groups = dict(GROUPS if groups is None else groups)
        self._trackers: dict[str, object] = {}
        self._ids: dict[tuple[str, int], int] = {}            # (group, ByteTrack's id) -> our id
        self.live: dict[int, TrackRecord] = {}
        self.finished: deque[TrackRecord] = deque(maxlen=int(max_finished))
        self._pending: dict[str, list[tuple[float, tuple, str, float, np.ndarray | None]]] = {}
        self._next_id, self._last_stamp = 1, None
        _bytetrack(self.rate_hz, self.lost_s)                  # fail now, with a clear error, if absent

    # ------------------------------------------------------------------ per frame
    def update(self, stamp: float, detections: Sequence[DetectionLike], frame: np.ndarray | None = None,
               colours: Sequence[np.ndarray | None] | None = None) -> list[int]:
        """Feed one sampled frame's detections (boxes as fractions). `colours`, one per detection, or
        `frame` with the tracker's `palette` give each track its own colours."""
        import supervision as sv

        stamp = float(stamp)
        if not math.isfinite(stamp):
            raise ValueError(f"a frame's stamp must be a finite number of seconds, got {stamp}")
        if colours is not None and len(colours) != len(detections):
            raise ValueError(f"{len(colours)} colour vectors for {len(detections)} detections")
        if self._last_stamp is not None and stamp < self._last_stamp:
            self.reset()                                         # time went back (a bag replayed again)
        if self._last_stamp is not None and stamp == self._last_stamp:
            return [-1] * len(detections)                        # the same frame twice: nothing new
        self._last_stamp = stamp
        ids = [-1] * len(detections)
        by_group: dict[str, list[int]] = {}
        for i, d in enumerate(detections):
            box = tuple(float(v) for v in d.box)
            if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(f"detection {i}: a box is (x0, y0, x1, y1) with x1 > x0, y1 > y0; got {d.box}")
            if float(d.score) < self.min_score or area(box) > MAX_AREA:
                continue
            group = self.groups.get(d.label, d.label if self.track_all else None)
            if group is not None:
                by_group.setdefault(group, []).append(i)
        for group in set(by_group) | set(self._trackers):
            idx = by_group.get(group, [])
            around = unions([detections[i].box for i in idx], [float(detections[i].score) for i in idx])
            idx = [i for k, i in enumerate(idx) if k not in around]      # a box around two: neither's identity
            tracker = self._trackers.get(group)
            if tracker is None:
                tracker = self._trackers[group] = _bytetrack(self.rate_hz, self.lost_s)
            xyxy = np.array([detections[i].box for i in idx], dtype=np.float32).reshape(-1, 4) * 1000.0
            conf = np.array([detections[i].score for i in idx], dtype=np.float32)
            result = tracker.update(sv.Detections(xyxy=xyxy, confidence=conf), timestamp=stamp)
            loose = []
            for row, tid in zip(self._rows(xyxy, result.xyxy), result.tracker_id.tolist(), strict=True):
                i = idx[row]
                d = detections[i]
                colour = self._colour(i, d, frame, colours)
                if tid < 0:
                    loose.append((i, colour))
                    continue
                ids[i] = self._record(group, tid, stamp, d, colour)
            self._pending[group] = self._by_motion(group, stamp, detections, loose, ids)
        self._finish_stale(stamp)
        return ids

    @staticmethod
    def _rows(ours: np.ndarray, theirs: np.ndarray) -> list[int]:
        """ByteTrack returns detections reordered: find each returned box's row in ours."""
        rows, used = [], set()
        for box in theirs:
            diff = np.abs(ours - box).sum(1)
            for r in np.argsort(diff):
                if int(r) not in used:
                    used.add(int(r))
                    rows.append(int(r))
                    break
        return rows

    def _colour(self, i: int, d: DetectionLike, frame: np.ndarray | None, colours) -> np.ndarray | None:
        if colours is not None:
            return None if colours[i] is None else np.asarray(colours[i], dtype=np.float32)
        if frame is not None and self.palette is not None:
            return np.asarray(self.palette(frame, tuple(d.box)), dtype=np.float32)
        return None

    def _record(self, group: str, tid: int, stamp: float, d: DetectionLike, colour) -> int:
        key = (group, tid)
        box = tuple(float(v) for v in d.box)
        our = self._ids.get(key)
        rec = self.live.get(our) if our is not None else None
        if rec is not None and stamp - rec.last > 1.5 / self.rate_hz and self._jumped(rec, box):
            rec = None            # ByteTrack's id moved to another thing (the next box to the lost one)
        if rec is None:
            first = self._first_box(group, box)        # its unconfirmed first box, one sample earlier
            since, fbox = (first[0], first[1]) if first else (stamp, box)
            rec = self._relink(group, since, fbox)
            if rec is None:
                rec = TrackRecord(self._next_id, group, math.inf, -math.inf, first_box=fbox, entered=at_border(fbox))
                self.live[rec.id] = rec
                self._next_id += 1
            our = self._ids[key] = rec.id
            if first:
                rec.add(first[0], first[2], first[3], first[1], first[4])
        if rec.last == stamp and rec.frames:
            return -1           # two ByteTrack ids on one record (after a relink) and both matched: keep one
        rec.add(stamp, d.label, d.score, box, colour)
        return our

    @staticmethod
    def _jumped(rec: TrackRecord, box: tuple) -> bool:
        """A match of a track lost for a sample or more that does not overlap its last box and is of another
        size (over 2x apart) is another thing: at 1-2 Hz a lost man's track otherwise takes the child who swings
        through where he stood (colours do not help: the coarse palettes of
        the two, both mostly dark, agree, and the man's own drifts over 2.5 s)."""
        if iou(rec.last_box, box) >= RELINK_IOU:
            return False
        ratio = area(box) / max(area(rec.last_box), 1e-9)
        return ratio > 2 or ratio < 0.5

    def _lost(self, group: str, stamp: float) -> list[TrackRecord]:
        """The group's live tracks not seen at `stamp`, unseen for at most `lost_s`."""
        return [r for r in self.live.values() if r.group == group and r.last < stamp and stamp - r.last <= self.lost_s]

    def _relink(self, group: str, stamp: float, box: tuple) -> TrackRecord | None:
        """The lost track of this group that the new box continues, if one does (see the module's note):
        the one its box overlaps most, else the one it is nearest to by motion (motion.py)."""
        lost = self._lost(group, stamp)
        best = max(lost, key=lambda r: iou(r.last_box, box), default=None)
        if best is not None and iou(best.last_box, box) >= RELINK_IOU:
            return best
        if group not in MOTION_GROUPS:
            return None
        costs = {(0, j): c for j, r in enumerate(lost)
                 if (c := motion.cost(r.last_box, r.last, r.velocity, box, stamp)) is not None}
        return lost[motion.greedy(costs)[0][1]] if costs else None

    def _by_motion(self, group: str, stamp: float, detections: Sequence[DetectionLike], loose: list, ids: list[int]):
        """Boxes ByteTrack left without an id, linked by motion (motion.py) to a lost track of the group or
        to an untracked box of the frame before (a new track of the two); the rest are this frame's
        untracked boxes, returned. Only boxes that could start a track (HIGH_SCORE) link by motion: a weak
        one extends only a track it overlaps (ByteTrack's second stage), or the man's track, half hidden by
        the swing, would take a sliver of him at the frame's edge and then lose his whole box."""
        lost, earlier = self._lost(group, stamp), self._pending.get(group, [])
        boxes = [tuple(float(v) for v in detections[i].box) for i, _ in loose]
        costs = {}
        for k, box in enumerate(boxes):
            if float(detections[loose[k][0]].score) < HIGH_SCORE or group not in MOTION_GROUPS:
                continue
            for j, r in enumerate(lost):
                if (c := motion.cost(r.last_box, r.last, r.velocity, box, stamp)) is not None:
                    costs[(k, j)] = c
            for j, p in enumerate(earlier):
                if (c := motion.cost(p[1], p[0], (0.0, 0.0), box, stamp)) is not None:
                    costs[(k, len(lost) + j)] = c
        linked = dict(motion.greedy(costs))
        pending = []
        for k, ((i, colour), box) in enumerate(zip(loose, boxes, strict=True)):
            d, j = detections[i], linked.get(k)
            if j is None:
                pending.append((stamp, box, d.label, float(d.score), colour))
                continue
            if j < len(lost):
                rec = lost[j]
            else:
                p = earlier[j - len(lost)]
                rec = TrackRecord(self._next_id, group, math.inf, -math.inf, first_box=p[1], entered=at_border(p[1]))
                self.live[rec.id] = rec
                self._next_id += 1
                rec.add(p[0], p[2], p[3], p[1], p[4])
            rec.add(stamp, d.label, d.score, box, colour)
            ids[i] = rec.id
        return pending

    def _first_box(self, group: str, box: tuple) -> tuple | None:
        """A new track's unconfirmed first box (the previous frame's untracked box nearest to it), taken
        from the pending ones: its first sighting. Without it every first stamp would be a sample late."""
        pending = self._pending.get(group, [])
        best = max(pending, key=lambda p: iou(p[1], box) - centre_distance(p[1], box), default=None)
        if best is None or centre_distance(best[1], box) > 0.5:
            return None
        pending.remove(best)
        return best

    def _finish_stale(self, stamp: float) -> None:
        stale = [r for r in self.live.values() if stamp - r.last > self.lost_s]
        overflow = len(self.live) - len(stale) - self.max_live
        if overflow > 0:      # too many live tracks: finish the ones seen longest ago
            rest = sorted((r for r in self.live.values() if r not in stale), key=lambda r: r.last)
            stale += rest[:overflow]
        for rec in stale:
            self._finish(rec)

    def _finish(self, rec: TrackRecord) -> None:
        rec.finished, rec.exited = True, at_border(rec.last_box)
        del self.live[rec.id]
        self._ids = {k: v for k, v in self._ids.items() if v != rec.id}
        self.finished.append(rec)

    def reset(self) -> None:
        """Finish every live track and start the trackers afresh (ids keep counting up)."""
        for rec in list(self.live.values()):
            self._finish(rec)
        self._trackers.clear()
        self._pending.clear()
        self._last_stamp = None

    # ------------------------------------------------------------------ what the memory reads
    def records(self) -> list[TrackRecord]:
        """Every identity still held, finished ones first, each in order of first sighting."""
        return sorted(self.finished, key=lambda r: r.first) + sorted(self.live.values(), key=lambda r: r.first)

    def count(self, label: str, min_frames: int = 2) -> int:
        """Distinct identities of a label (a group name such as "vehicle" counts the group) seen in at
        least `min_frames` frames: a box seen once is too weak to count as a visitor."""
        return sum(1 for r in self.records() if (r.label == label or r.group == label) and r.frames >= min_frames)

