"""The 1000 ImageNet class names (timm's list, Apache-2.0): lite's classifier labels them, and the tiny
models train their tokenizers on them so that most pieces are text."""

from __future__ import annotations

import functools
from pathlib import Path

CLASSES_FILE = Path(__file__).with_name("data") / "imagenet_classes.txt"


@functools.cache
def _classes() -> tuple[str, ...]:
    names = tuple(ln.rstrip("\n") for ln in CLASSES_FILE.read_text().splitlines() if not ln.startswith("#"))
    if len(names) != 1000:
        raise RuntimeError(f"{CLASSES_FILE} holds {len(names)} class names, not 1000")
    return names


def imagenet_classes() -> list[str]:
    """The class names in the classifier's output order (a fresh list: callers may change it)."""
    return list(_classes())
