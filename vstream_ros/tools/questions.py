"""Question files of streaming video QA benchmarks, read as they are, into one record type.

Layouts understood (see ../shared/data/README.md of the project for the real files):
- flat VStream-QA: [{id, video_id, question, answer, answer_type|type, timestamp | start_time/end_time, options?}]
- conversations (RVS-Ego/Movie in the ReKV layout, StreamingBench): [{video_id, video_path, conversations:
  [{question, answer, start_time?, end_time, choices?, task?}]}]
- OVO-Bench: [{id, task, video, realtime, question, answer, options, gt}]
- Flash-VStream-Qwen test_qa: [{id, video_id, question (options inside as "(A) ..."), answer: index, type}]

Optional structured truth, read from any flat item (the scorer in scoring.py uses it): "answer_span":
[start_s, end_s] (when / first_seen / last_seen), "answer_count": int, "keywords": [accepted words],
"answer_pose": [x, y] (where: the robot's position in metres, in the frame of the bag's pose topic).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from vstream_ros.answering.question import OPTION_LETTERS, clock_seconds

LETTERS = OPTION_LETTERS
_INLINE_OPTION = re.compile(r"^(?:\(([A-H])\)|([A-H])[.)])\s+(.+)$", re.M)   # "(A) x", "A. x", "A) x"


@dataclass
class Question:
    id: str
    question: str
    answer: str                      # the answer text (for multiple choice: the correct option's text)
    ask_at: float | None             # seconds from the start of the stream; None: at its end
    window: tuple[float, float] | None = None   # the span the question is about, if annotated
    type: str = ""
    options: list[str] = field(default_factory=list)
    correct: str = ""                # the correct option letter for multiple choice
    video: str = ""
    span: tuple[float, float] | None = None     # when the object was on camera (s from the first frame)
    count: int | None = None                    # the right number for a count question
    keywords: list[str] = field(default_factory=list)   # accepted words for open answers (any one)
    pose: tuple[float, float] | None = None     # where the robot was when it saw the thing (x, y in metres)

    @property
    def multiple_choice(self) -> bool:
        return bool(self.options)

    def prompt(self) -> str:
        """The question as asked: multiple choice lists the options, "(A) ...". No instruction is added:
        how to ask for a letter is the answering backend's (each in its model's own prompt format)."""
        if not self.options or _INLINE_OPTION.search(self.question):
            return self.question.strip()
        return self.question.strip() + "\n" + "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(self.options))


@dataclass
class ItemError:
    item: str
    error: str


def _num(value) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and ":" in value:      # "00:02:37"
        return clock_seconds(value)
    return float(value)


def _mc(q: dict, options: list[str]) -> tuple[str, str]:
    """(answer text, correct letter) of a multiple-choice item with an answer given as text, letter or index."""
    ans = q.get("gt", q.get("answer"))
    if isinstance(ans, int) and not isinstance(ans, bool):
        return options[ans], LETTERS[ans]
    ans = str(ans).strip()
    if len(ans) == 1 and ans.upper() in LETTERS[: len(options)]:
        i = LETTERS.index(ans.upper())
        return options[i], LETTERS[i]
    for i, o in enumerate(options):
        if o.strip().lower() == ans.lower():
            return o, LETTERS[i]
    raise ValueError(f"answer {ans!r} is none of the options")


def _one(q: dict, ident: str, video: str) -> Question:
    text = q.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no question text")
    options = list(q.get("options") or q.get("choices") or [])
    if not options:   # options written inside the question ("(A) Yellow"); prompt() will not repeat them
        options = [m.group(3).strip() for m in _INLINE_OPTION.finditer(text)]
    if "answer" not in q and "gt" not in q:
        raise ValueError("no answer")
    if options:
        answer, correct = _mc(q, options)
    else:
        answer, correct = str(q["answer"]), ""
    start, end = _num(q.get("start_time")), _num(q.get("end_time"))
    ask_at = _num(q.get("realtime", q.get("timestamp", q.get("time_stamp"))))
    if ask_at is None:
        ask_at = end
    window = (start if start is not None else 0.0, end) if end is not None and start is not None else None
    kind = q.get("type") or q.get("answer_type") or q.get("task") or q.get("task_type") or ""
    return Question(id=ident, question=text, answer=answer, ask_at=ask_at, window=window, type=str(kind),
                    options=options, correct=correct, video=video, **_truth(q))


def _truth(q: dict) -> dict:
    """The structured truth fields of an item, checked: a malformed one makes the item unusable."""
    out: dict = {}
    if q.get("answer_span") is not None:
        span = q["answer_span"]
        if not (isinstance(span, list | tuple) and len(span) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in span) and span[0] <= span[1]):
            raise ValueError(f"answer_span must be [start_s, end_s] with start <= end, not {span!r}")
        out["span"] = (float(span[0]), float(span[1]))
    if q.get("answer_count") is not None:
        n = q["answer_count"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"answer_count must be a whole number >= 0, not {n!r}")
        out["count"] = n
    if q.get("keywords") is not None:
        kw = q["keywords"]
        if not (isinstance(kw, list) and kw and all(isinstance(k, str) and k.strip() for k in kw)):
            raise ValueError(f"keywords must be a non-empty list of words, not {kw!r}")
        out["keywords"] = [k.strip() for k in kw]
    if q.get("answer_pose") is not None:
        xy = q["answer_pose"]
        if not (isinstance(xy, list | tuple) and len(xy) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in xy)):
            raise ValueError(f"answer_pose must be [x, y] in metres, not {xy!r}")
        out["pose"] = (float(xy[0]), float(xy[1]))
    return out


def load_questions(path: str | Path, video: str | None = None) -> tuple[list[Question], list[ItemError]]:
    """All questions of the file (only those of `video` when given: matched against video_id, video or
    video_path, by name without extension), and an error for each item that could not be read."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read question file {path}: {e}") from e
    if isinstance(data, dict):
        data = data.get("questions") or data.get("data") or [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of questions")
    out, errors = [], []

    def matches(v: str) -> bool:
        return video is None or Path(str(v)).stem == Path(video).stem or str(v) == video

    for i, item in enumerate(data):
        if not isinstance(item, dict):
            errors.append(ItemError(f"item {i}", "not an object"))
            continue
        vid = str(item.get("video_id", item.get("video", item.get("video_path", ""))))
        paths = [v for v in (vid, str(item.get("video_path", "")), str(item.get("video", ""))) if v]
        if paths and not any(matches(v) for v in paths):   # an item naming no video belongs to any input
            continue
        convs = item.get("conversations")
        entries = [(f"{vid}#{j}", c) for j, c in enumerate(convs)] if isinstance(convs, list) else \
            [(str(item.get("id", i)), item)]
        for ident, q in entries:
            try:
                out.append(_one(q, ident, vid))
            except (ValueError, TypeError, IndexError, KeyError) as e:
                errors.append(ItemError(ident, str(e)))
    return out, errors
