"""Camera names from topic names, one rule for the node and the tools, so that answers name a camera
the same way whether frames came over DDS or straight from a bag."""

from __future__ import annotations

# image_transport and camera-driver suffixes that name the stream, not the camera
_SUFFIXES = ("compressed", "image_raw", "image", "image_rect", "image_color", "image_rect_color")


def camera_name(topic: str) -> str:
    """/front/image_raw/compressed -> front (image_transport suffixes dropped)."""
    parts = [p for p in topic.split("/") if p]
    while len(parts) > 1 and parts[-1] in _SUFFIXES:
        parts.pop()
    return "/".join(parts) or "camera"


def camera_names(topics: list[str]) -> list[str]:
    """A name per topic; topics whose short names clash (/image and /image/compressed) keep their
    whole topic name instead, so no two streams ever share a memory."""
    short = [camera_name(t) for t in topics]
    return [s if short.count(s) == 1 else (t.strip("/") or s) for s, t in zip(short, topics, strict=True)]
