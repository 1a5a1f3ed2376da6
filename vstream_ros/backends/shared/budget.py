"""Which cameras' memories go into one prompt when together they exceed the model's context.

The released model was trained on one video per prompt, at most `tokenizer_model_max_length` (2048)
tokens in all; each camera's memory is a full A | T | R | S block (681 tokens with CLIP), so three
cameras do not fit. Upstream would cut the sequence at 2048, mid-camera, and lose the question.
Here whole cameras are kept, in this order of priority, as long as they fit:
1. cameras the question names (its name, or the last part of a topic-like name, as words);
2. the other cameras, the most recent first (latest stamp in their memory).
The kept cameras stay in the read's order, so a camera's block is never split or reordered. When not
even one camera fits whole, the first in priority keeps its newest groups (its oldest groups are
dropped from the front: A, then T oldest first). What was left out is said in a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import torch

from vstream_ros.memory import MemoryRead, TokenGroup


@dataclass
class CameraSelection:
    read: MemoryRead
    dropped: list[str] = field(default_factory=list)    # cameras left out whole
    trimmed: list[str] = field(default_factory=list)    # cameras kept in part (oldest groups dropped)
    warning: str = ""


def camera_blocks(read: MemoryRead) -> dict[str, list[TokenGroup]]:
    """The read's groups per camera, cameras in the read's order."""
    blocks: dict[str, list[TokenGroup]] = {}
    for g in read.groups:
        blocks.setdefault(g.camera, []).append(g)
    return blocks


def names_camera(question: str, camera: str) -> bool:
    """Whether the question mentions the camera: its name or its last path part, as whole words,
    any case, with '_', '-' and '/' read as spaces ("front_left" matches "front left camera")."""
    def words(s: str) -> str:
        return " " + " ".join(re.sub(r"[\W_]+", " ", s.lower()).split()) + " "

    names = {words(camera), words(camera.rstrip("/").rsplit("/", 1)[-1])} - {"  "}
    return any(n in words(question) for n in names)


def _subset(read: MemoryRead, groups: list[TokenGroup]) -> MemoryRead:
    tokens, out, offset = [], [], 0
    for g in groups:
        tokens.append(read.group_tokens(g))
        out.append(replace(g, offset=offset))
        offset += g.length
    t = torch.cat(tokens) if tokens else read.tokens[:0]
    kept = {g.camera for g in groups}
    return replace(read, tokens=t, groups=out, tracks=tuple(x for x in read.tracks if x.camera in kept),
                   texts=tuple(x for x in read.texts if x.camera in kept))


def select_cameras(read: MemoryRead, budget: int, question: str) -> CameraSelection:
    """Keep at most `budget` tokens of the read, by the policy above."""
    if read.num_tokens <= budget:
        return CameraSelection(read)
    if budget <= 0:
        raise ValueError("the question leaves no room for visual tokens in the model's context")
    blocks = camera_blocks(read)
    size = {c: sum(g.length for g in gs) for c, gs in blocks.items()}
    latest = {c: max(g.end for g in gs) for c, gs in blocks.items()}
    named = [c for c in blocks if names_camera(question, c)]
    others = sorted((c for c in blocks if c not in named), key=lambda c: -latest[c])
    kept, used = set(), 0
    for c in named + others:
        if used + size[c] <= budget:
            kept.add(c)
            used += size[c]
    trimmed: list[str] = []
    groups = [g for c, gs in blocks.items() if c in kept for g in gs]
    if not kept:
        first = (named + others)[0]
        tail, n = [], 0
        for g in reversed(blocks[first]):     # newest groups last in a camera's block: S, R, T
            if n + g.length > budget:
                break
            tail.insert(0, g)
            n += g.length
        groups, trimmed, kept = tail, [first], {first}
    dropped = [c for c in blocks if c not in kept]
    label = {c: c or "(unnamed)" for c in blocks}
    parts = []
    if dropped:
        parts.append(f"left out the memory of camera(s) {', '.join(label[c] for c in dropped)}")
    if trimmed:
        parts.append(f"kept only the newest part of camera {label[trimmed[0]]}")
    warning = (f"{' and '.join(parts)}: the cameras need {read.num_tokens} visual tokens, the model takes "
               f"{budget} with this question; name a camera in the question to choose it")
    return CameraSelection(_subset(read, groups), dropped, trimmed, warning)
