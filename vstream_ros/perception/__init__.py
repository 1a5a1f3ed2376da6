"""Perception that works on the detector's boxes and on frames, apart from any backend: identity over
time (tracking.py: a multi-object tracker with bounded per-track records) and text in the scene
(ocr.py). No ROS, no engine: the engine feeds them at ingest and keeps what they return."""
