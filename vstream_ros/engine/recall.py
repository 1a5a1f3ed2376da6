"""Where / when / first-seen / last-seen answers from the long-term sightings index.

The STAR memory is bounded: it merges away the detail of old runs, and a reset or a restart clears it.
The sightings index (engine/sightings.py) keeps every named run. When the index holds sightings of the
thing that the memory does not (rows that overlap none of the memory's own sightings: before its oldest
stamp, in a window it holds nothing of, or merged away), or holds them finer (a memory sighting that
merged other things in: the index's rows of the thing leave part of its span uncovered, so its stamps
and pose are the merged slot's, not the thing's), the answer is made here from the index's rows and the
memory's sightings together,
stating only what a row holds (its stamps, camera and pose), and says it came from the index. When the
index adds nothing the memory's own answer stands (None).
"""

from __future__ import annotations

from dataclasses import dataclass

from vstream_ros.answering.question import Intent, Question
from vstream_ros.answering.timefmt import covered_s, since
from vstream_ros.engine.sightings import SightingsFeed, find_in_index, held_since
from vstream_ros.memory import MultiCameraMemory, TokenGroup

INTENTS = frozenset({Intent.WHERE, Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN})
FROM_INDEX = "(from the long-term sightings index)"
FROM_MEMORY = "(from the memory)"
WHERE_SHOWN = 3                 # a where answer names the newest few places
SCAN = 200                      # index rows read for a first/when answer (the index returns the newest first)
UNCOVERED_STEPS = 1.5           # a memory sighting with more than this many frame intervals no index row of the
                                # thing covers merged others in (a frame of jitter at either end is no such sign)


@dataclass
class Recalled:
    """An answer from the index: its text, the sightings it rests on (time order) and who answered."""

    text: str
    evidence: list[TokenGroup]
    source: str                 # "index" or "memory+index"
    origin: float               # the stamp the text's times count from (the memory's first frame)


def askable(question: Question) -> bool:
    """Whether the index can answer this question at all: a where/when question about a named thing."""
    return question.intent in INTENTS and bool(question.subject.strip())


def recall(feed: SightingsFeed | None, memory: MultiCameraMemory, locate, question: Question,
           window: tuple[float, float] | None, cameras: list[str], keep: int) -> Recalled | None:
    """The index's answer to a where/when question, or None when the memory's answer stands.
    `locate(window) -> list[TokenGroup]`: the memory's own sightings of the subject (the backend's locate)."""
    if feed is None or not askable(question):
        return None
    held = held_since(memory, cameras)
    mine = [] if held is None or (window is not None and window[1] < held) else locate(window)
    if mine and question.intent == Intent.LAST_SEEN:
        return None                                  # the memory keeps its newest runs: its last is the last
    before = mine[0].start if mine and question.intent == Intent.FIRST_SEEN else None
    scan = max(keep, SCAN) if question.intent in (Intent.FIRST_SEEN, Intent.WHEN) else keep
    found = find_in_index(feed, question.subject.strip(), window, "", scan, before, cameras)
    step = memory.frame_interval(cameras) or 1.0
    mine = [m for m in mine if not _coarse(m, found, step)]             # the index holds those finer
    extra = [g for g in found if not any(_same(g, m) for m in mine)]     # what the memory no longer holds
    if not extra:
        return None
    evidence = sorted(list(mine) + extra, key=lambda g: (g.start, g.end))
    if len(evidence) > keep:                         # the first (when) and the newest
        evidence = evidence[:1] + evidence[1 - keep:] if keep > 1 else evidence[-1:]
    origin = question.origin if held is not None else extra[0].start
    return Recalled(compose(question, evidence, origin), evidence, "memory+index" if mine else "index", origin)


def _coarse(memory: TokenGroup, found: list[TokenGroup], step: float) -> bool:
    """A memory sighting that merged other things in: the index's rows of the thing on its camera (runs cut
    before any merging, each at most `index_run_s`) leave more than UNCOVERED_STEPS frame intervals of its
    span uncovered, so the rows say better when the thing was there (each row counted with one frame
    interval, `step`, so single frames count). No row: the index has nothing finer to say."""
    rows = [(max(g.start, memory.start), min(g.end, memory.end) + step) for g in found if _same(g, memory)]
    if not rows:
        return False
    return (memory.end - memory.start + step) - covered_s(rows) > UNCOVERED_STEPS * step


def _same(index: TokenGroup, memory: TokenGroup) -> bool:
    """An index row of a sighting the memory still holds (same camera, overlapping stamps)."""
    return index.camera == memory.camera and index.start <= memory.end and memory.start <= index.end


def _when(t: float, origin: float) -> str:
    """Seconds since the memory's first frame; a time before it is said as such, never clamped to 0."""
    return since(t, origin) if t >= origin else f"{origin - t:.1f} s before the memory's first frame"


def _span(g: TokenGroup, origin: float) -> str:
    a, b = _when(g.start, origin), _when(g.end, origin)
    return f"at {a}" if a == b else f"from {a} to {b}"


def _place(g: TokenGroup) -> str:
    run = g.runs[0] if g.runs else None
    if run is None or run.pose is None:
        return "no pose was recorded"
    x, y, z = (float(v) for v in run.pose[:3])
    return f"the robot was at x={x:.2f}, y={y:.2f}, z={z:.2f}"


def _said(g: TokenGroup, origin: float) -> str:
    who = FROM_INDEX if g.kind == "index" else FROM_MEMORY
    return f"{_span(g, origin)} on camera {g.camera} {who}"


def compose(question: Question, evidence: list[TokenGroup], origin: float) -> str:
    """The answer's text from the sightings (time order), one sentence per intent."""
    thing, first, last = question.subject.strip(), evidence[0], evidence[-1]
    if question.intent == Intent.FIRST_SEEN:
        return f"I first saw the {thing} {_said(first, origin)}."
    if question.intent == Intent.LAST_SEEN:
        return f"I last saw the {thing} {_said(last, origin)}."
    if question.intent == Intent.WHERE:
        shown = evidence[-WHERE_SHOWN:]
        places = "; ".join(f"{_said(g, origin)}: {_place(g)}" for g in reversed(shown))
        more = f" ({len(evidence) - len(shown)} earlier sightings not listed)" if len(evidence) > len(shown) else ""
        return f"I saw the {thing} {places}{more}."
    if len(evidence) == 1:
        return f"I saw the {thing} {_said(first, origin)}."
    return (f"I saw the {thing} in {len(evidence)} sightings: first {_said(first, origin)}, "
            f"last {_said(last, origin)}.")
