"""Load shedding (engine/shedding.py): when the encoder cannot keep up it degrades in the order the
encoder declares, before frames are lost, gives levels back only when they fit, and says so. Driven
with a fake clock; nothing sleeps."""

import numpy as np
from enginekit import engine_with

from vstream_ros.backends.lite.backend import Thinned
from vstream_ros.engine import Level
from vstream_ros.engine.shedding import ENGINE_LEVELS, WINDOW_S, LoadShedder, shed_levels

LEVELS = ("detector on every second frame", "smaller input", "fewer windows")


def windows(shedder, clock, fps, cost, n=1, lost=0, enabled=True):
    """n windows of `fps` frames a second costing `cost` s each (busy capped at the window)."""
    out = []
    for _ in range(n):
        frames = int(fps * WINDOW_S)
        clock[0] += WINDOW_S
        out.append(shedder.observe(min(frames * cost, WINDOW_S), frames, lost, enabled))
    return out


def test_the_policy_steps_up_before_frames_are_lost_and_gives_back_only_what_fits():
    clock = [0.0]
    s = LoadShedder(LEVELS, clock=lambda: clock[0])
    cost = {0: 0.30, 1: 0.20, 2: 0.15, 3: 0.14}
    # four frames a second at 0.30 s each: more than the encoder can do; one step per window
    assert windows(s, clock, 4, cost[0]) == [1]
    # 0.8 busy: under HIGH, and level 0 (1.5 times the cost) would not fit: it stays
    assert windows(s, clock, 4, cost[1], n=3) == [None] * 3 and s.level == 1
    # 0.84 busy, no frame lost yet; then a frame lost: one step more
    assert windows(s, clock, 4.2, cost[1], lost=2) == [2] and s.state().doing == "smaller input"
    # the cameras calm down: levels are given back one window at a time, while they fit
    assert windows(s, clock, 1, cost[2], lost=2, n=3) == [1, 0, None]
    assert s.state().level == 0 and s.state().doing == "full work"
    # busy near HIGH without loss: a step before any frame is lost
    assert windows(s, clock, 3, cost[0], lost=2) == [1]
    # switched off: back to full work at once, and kept there
    assert windows(s, clock, 4, cost[0], lost=9, enabled=False, n=2) == [0, None] and not s.state().enabled


def test_an_encoder_without_declared_levels_is_never_degraded(backend):
    assert shed_levels(backend.encoder) == ()
    clock = [0.0]
    s = LoadShedder(shed_levels(backend.encoder), clock=lambda: clock[0])
    assert windows(s, clock, 10, 1.0, lost=5, n=3) == [None] * 3 and s.state().level == 0


class Shedding:
    """The tiny encoder with declared shed levels, recording what it was asked."""

    shed_levels = LEVELS

    def __init__(self, inner):
        self.inner, self.asked = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def set_load_level(self, level):
        self.asked.append(level)


def test_the_engine_applies_the_level_and_reports_the_policy(backend, monkeypatch):
    enc = Shedding(backend.encoder)
    monkeypatch.setattr(backend, "encoder", enc)
    e = engine_with(backend)
    clock = [0.0]
    e.encoder.shedder = LoadShedder(ENGINE_LEVELS + shed_levels(enc), clock=lambda: clock[0], holding=1)
    try:
        # the engine's own step first: the sampler's change frames, the encoder still at full work
        clock[0] += WINDOW_S
        e.encoder._shed(WINDOW_S, 12)                          # busy the whole window
        assert enc.asked == [0] and not e.ingest.follow_changes and e.load_state().level == 1
        h = next(h for h in e.health(1.0) if h.name == "vstream: engine")
        assert h.level == Level.WARN and f"load shedding level 1 of 4 ({ENGINE_LEVELS[0]})" in h.message
        assert h.values["load_level"] == "1" and h.values["load_shedding"] == "on"
        assert h.values["load_policy"] == (f"1. {ENGINE_LEVELS[0]}; 2. detector on every second frame; "
                                           "3. smaller input; 4. fewer windows")
        clock[0] += WINDOW_S
        e.encoder._shed(WINDOW_S, 12)                          # still behind: the encoder's first step
        assert enc.asked == [0, 1] and not e.ingest.follow_changes
        e.update_config(load_shedding=False)
        e.encoder._shed(0.0, 0)
        assert enc.asked == [0, 1, 0] and e.load_state().level == 0 and e.ingest.follow_changes
    finally:
        e.stop()


def test_change_frames_are_held_back_first_and_given_back_only_when_they_would_fit():
    clock = [0.0]
    s = LoadShedder(ENGINE_LEVELS + LEVELS, clock=lambda: clock[0], holding=1)
    held = [0]

    def window(fps, cost, extra):
        """One window: `fps` frames a second encoded at `cost` s each, `extra` a second held back."""
        clock[0] += WINDOW_S
        held[0] += int(extra * WINDOW_S)
        frames = int(fps * WINDOW_S)
        return s.observe(min(frames * cost, WINDOW_S), frames, 0, True, held[0])

    assert window(6, 0.2, 0) == 1                  # six frames a second at 0.2 s: over HIGH
    # three due frames a second at 0.2 s (0.6 busy) and three change frames held back: giving them
    # back would make it 1.2 again, so the level stays (without the held frames it would step down)
    assert [window(3, 0.2, 3) for _ in range(3)] == [None] * 3 and s.level == 1
    assert window(3, 0.2, 0.3) == 0 and s.state().doing == "full work"   # the scene calms down: back


def test_the_change_frames_level_is_passed_over_while_change_sampling_is_off(backend):
    clock = [0.0]
    off = [True]
    s = LoadShedder(ENGINE_LEVELS + LEVELS, clock=lambda: clock[0], holding=1,
                    inert=lambda level: level == 1 and off[0])
    assert windows(s, clock, 6, 0.2) == [2]                   # straight to the encoder's first step
    assert windows(s, clock, 1, 0.1, n=2) == [0, None]        # and straight back to full work
    off[0] = False
    assert windows(s, clock, 6, 0.2) == [1]                   # change sampling on: its frames go first
    # the engine's shedder knows its change frames' level is inert exactly while sample_on_change is 0
    for change, inert in ((0.0, True), (12.0, False)):
        e = engine_with(backend, sample_on_change=change)
        try:
            assert e.encoder.shedder.inert(1) is inert and not e.encoder.shedder.inert(2)
        finally:
            e.stop()


class Counting:
    def __init__(self):
        self.seen = 0

    def detect(self, frames):
        self.seen += len(frames)
        return [["box"] for _ in frames]


def test_a_thinned_detector_sees_every_nth_frame_across_batches():
    det = Counting()
    thin = Thinned(det, 2)
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    out = thin.detect(frames) + thin.detect(frames) + thin.detect(frames[:1])
    assert [bool(o) for o in out] == [True, False, True, False, True, False, True] and det.seen == 4


def test_the_first_window_at_full_work_starts_with_the_first_frame():
    clock = [0.0]
    s = LoadShedder(LEVELS, clock=lambda: clock[0])
    for _ in range(21):                      # 10.5 s idle before the cameras stream (the encoder polls)
        assert s.observe(0.0, 0, 0, True) is None
        clock[0] += 0.5
    # then the encoder is busy all the time: one step a window after the first frame, not two
    steps = []
    for _ in range(int(WINDOW_S / 0.5)):
        clock[0] += 0.5
        steps.append(s.observe(0.5, 2, 0, True))
    assert steps[-1] == 1 and steps[:-1] == [None] * (len(steps) - 1), steps


def test_frames_that_wait_over_a_second_take_a_step_and_one_is_given_back_only_when_they_wait_little():
    """Four cameras: the encoder 0.6 busy keeps up, yet frames wait behind batches of all four (1.4 s from
    offer to memory): one step more. Back only once the frames wait under half LAG_HIGH (and it fits)."""
    from vstream_ros.engine.shedding import LAG_HIGH

    clock = [0.0]
    s = LoadShedder(ENGINE_LEVELS + LEVELS, clock=lambda: clock[0], holding=1)

    def window(lag):
        clock[0] += WINDOW_S
        return s.observe(0.6 * WINDOW_S, 12, 0, True, 0, lag)

    assert window(0.5) is None and s.level == 0          # 0.6 busy, half a second: full work
    assert window(1.4) == 1 and s.state().doing == ENGINE_LEVELS[0]
    assert window(1.1) == 2                              # still over: the encoder's first step
    assert window(0.7) is None and s.level == 2          # under LAG_HIGH, not under half: kept
    assert window(0.3 * LAG_HIGH) == 1                   # waits little and the level fits: one back
