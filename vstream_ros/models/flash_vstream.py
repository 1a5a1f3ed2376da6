"""The paper's model (Flash-VStream v1): CLIP ViT-L/14 frames into the STAR memory, an mlp2x_gelu
projector, Vicuna-7B answering with the vicuna_v1 prompt. Loads the released checkpoint layout.

The same classes at a tiny random size (models/tiny.py) run the tests and CI.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import (
    AutoTokenizer,
    CLIPVisionConfig,
    CLIPVisionModel,
    DynamicCache,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
)

from vstream_ros.answering.question import Question
from vstream_ros.memory import MemoryConfig, MemoryRead
from vstream_ros.models.base import (
    Answer,
    Backend,
    pick_device,
    pick_dtype,
    resize_center_crop,
    stream_text,
    to_uint8_batch,
)
from vstream_ros.models.checkpoint import (
    IGNORED_KEYS,
    CheckpointError,
    LoadReport,
    checkpoint_keys,
    iter_tensors,
    read_config,
    route,
)

log = logging.getLogger(__name__)

SYSTEM_PROMPT = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
IMAGE_PLACEHOLDER = "<image>"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Vision towers named by the released config; their shapes, for building the tower from checkpoint keys.
KNOWN_TOWERS = {
    "openai/clip-vit-large-patch14": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                          num_attention_heads=16, image_size=224, patch_size=14,
                                          projection_dim=768, hidden_act="quick_gelu"),
    "openai/clip-vit-large-patch14-336": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                              num_attention_heads=16, image_size=336, patch_size=14,
                                              projection_dim=768, hidden_act="quick_gelu"),
}


def vicuna_v1_prompt(question: str) -> str:
    return f"{SYSTEM_PROMPT} USER: {IMAGE_PLACEHOLDER}\n{question} ASSISTANT:"


def attention_implementation(device: torch.device) -> str:
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


class AbstractMemoryAttention(nn.Module):
    """Upstream's abstract-memory module ("NeuralTuringMachine"), with its full parameter layout so
    the checkpoint loads whole. Only q_proj and k_proj take part in the update (the memory calls
    them); v_proj, out_proj and out_ln belong to a deprecated path and stay unused, as upstream."""

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(input_dim, hidden_dim)
        self.k_proj = nn.Linear(input_dim, hidden_dim)
        self.v_proj = nn.Linear(input_dim, hidden_dim)
        self.out_proj = nn.Linear(hidden_dim, input_dim)
        self.out_ln = nn.LayerNorm(input_dim)


class CLIPFrameEncoder:
    """Frames -> CLIP patch features of the selected layer, [B, g, g, D]; preprocessing on the device."""

    def __init__(self, tower: CLIPVisionModel, select_layer: int, encoder_id: str) -> None:
        cfg = tower.config
        self.tower = tower
        self.select_layer = select_layer
        self.id = encoder_id
        self.dim = cfg.hidden_size
        self.image_size = cfg.image_size
        g = cfg.image_size // cfg.patch_size
        self.feature_grid = (g, g)
        p = next(tower.parameters())
        self.device, self.dtype = p.device, p.dtype
        self._mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = to_uint8_batch(frames, self.device).permute(0, 3, 1, 2).float() / 255.0
        x = resize_center_crop(x, self.image_size).clamp_(0.0, 1.0)
        return ((x - self._mean) / self._std).to(self.dtype)

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        out = self.tower(pixel_values=self.preprocess(frames), output_hidden_states=True)
        patches = out.hidden_states[self.select_layer][:, 1:]       # drop CLS
        b, n, d = patches.shape
        return patches.reshape(b, *self.feature_grid, d)


class FlashVStreamModel(nn.Module):
    """Vision tower, projector, abstract-memory module and LLaMA, as in the released checkpoint."""

    def __init__(
        self,
        llm_config: LlamaConfig,
        vision_config: CLIPVisionConfig,
        mm_config: dict,
        tokenizer: PreTrainedTokenizerBase,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        device = torch.device(device)
        attn = attention_implementation(device)
        self.mm_config = dict(mm_config)
        self.tokenizer = tokenizer
        mm_hidden = int(mm_config.get("mm_hidden_size", vision_config.hidden_size))
        if mm_config.get("mm_projector_type", "mlp2x_gelu") != "mlp2x_gelu":
            raise CheckpointError(f"projector type {mm_config['mm_projector_type']!r} is not supported "
                                  "(the released model uses mlp2x_gelu)")
        with torch.device(device):
            self.vision_tower = CLIPVisionModel._from_config(vision_config, attn_implementation=attn, dtype=dtype)
            self.projector = nn.Sequential(
                nn.Linear(mm_hidden, llm_config.hidden_size), nn.GELU(),
                nn.Linear(llm_config.hidden_size, llm_config.hidden_size),
            ).to(dtype)
            self.attention_model = AbstractMemoryAttention(
                mm_hidden, int(mm_config.get("compress_Turing_hidden_dim", 32))).to(dtype)
            self.llm = LlamaForCausalLM._from_config(llm_config, attn_implementation=attn, dtype=dtype)
        self.eval().requires_grad_(False)
        self.device, self.dtype = device, dtype
        self.select_layer = int(mm_config.get("mm_vision_select_layer", -2))
        self.encoder_id = str(mm_config.get("encoder_id") or
                              f"clip:{mm_config.get('mm_vision_tower', 'unknown')}:layer{self.select_layer}")

    # ------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        vision_tower_path: str | Path | None = None,
        strict: bool = True,
        **memory_overrides: int | float,
    ) -> FlashVStreamModel:
        """Load a local folder in the released IVGSZ/Flash-VStream-7b layout.

        The vision tower comes from the checkpoint's own `model.vision_tower.*` keys when present,
        else from `vision_tower_path` (a local CLIP folder). Missing parameters raise CheckpointError
        when `strict` (the default); unknown keys are logged by name; a shape mismatch always raises.
        `memory_overrides` (MemoryConfig field names) replace the sizes read from the config.
        """
        path = Path(path).expanduser()
        device = pick_device(device)
        dtype = pick_dtype(dtype, device)
        cfg = read_config(path)
        keys = checkpoint_keys(path)
        has_tower = any(route(k)[0] == "vision_tower" for k in keys)
        external_tower = None
        if vision_tower_path:
            external_tower = CLIPVisionModel.from_pretrained(vision_tower_path, dtype=dtype).to(device)
            vision_config = external_tower.config
        elif has_tower:
            vision_config = vision_config_for(cfg, keys, path)
        else:
            raise CheckpointError(
                f"{path} has no vision-tower weights; pass vision_tower_path (a local folder of "
                f"{cfg.get('mm_vision_tower', 'the CLIP model')})")
        llm_keys = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "auto_map")}
        llm_config = LlamaConfig(**llm_keys)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, config=llm_config)   # not AutoConfig: "vstream"
        except Exception as e:
            raise CheckpointError(f"cannot load the tokenizer of {path}: {e}") from e
        mm = {k: v for k, v in cfg.items() if k.startswith(("mm_", "compress_", "video_"))}
        mm["encoder_id"] = cfg.get("encoder_id")
        mm["memory_overrides"] = memory_overrides
        model = cls(llm_config, vision_config, mm, tokenizer, device, dtype)
        report = model.load_weights(path, skip_tower=external_tower is not None)
        if external_tower is not None:
            model.vision_tower = external_tower.eval().requires_grad_(False)
            report.missing = [k for k in report.missing if not k.startswith("vision_tower.")]
        if report.unexpected:
            log.warning("checkpoint keys not used by the model: %s", report.unexpected)
        if report.missing and strict:
            raise CheckpointError(f"checkpoint {path} lacks parameters: {report.missing}")
        if report.missing:
            log.warning("parameters left at random init: %s", report.missing)
        model.load_report = report
        return model

    @torch.no_grad()
    def load_weights(self, path: str | Path, skip_tower: bool = False) -> LoadReport:
        """Copy every checkpoint tensor into its parameter, one shard in memory at a time."""
        params = {f"{part}.{name}": t for part in ("vision_tower", "projector", "attention_model", "llm")
                  for name, t in getattr(self, part).state_dict(keep_vars=True).items()}
        tied = self.llm.config.tie_word_embeddings
        tower_nested = any(k.startswith("vision_tower.vision_model.") for k in params)
        report, seen = LoadReport(), set()
        for file, key, tensor in iter_tensors(path):
            if IGNORED_KEYS.match(key):
                report.ignored.append(key)
                continue
            part, inner = route(key)
            if part == "vision_tower" and skip_tower:
                report.ignored.append(key)
                continue
            if part == "vision_tower" and not tower_nested:
                inner = inner.removeprefix("vision_model.")
            ours = f"{part}.{inner}"
            if ours not in params:
                report.unexpected.append(key)
                continue
            dst = params[ours]
            if tuple(tensor.shape) != tuple(dst.shape):
                raise CheckpointError(f"{key} in {file.name} has shape {tuple(tensor.shape)}, "
                                      f"the model expects {tuple(dst.shape)}")
            dst.data.copy_(tensor.to(dst.dtype))
            seen.add(ours)
            report.loaded += 1
        report.missing = sorted(
            k for k in params
            if k not in seen
            and not (tied and k == "llm.lm_head.weight")
            and not (skip_tower and k.startswith("vision_tower."))
        )
        return report

    # -------------------------------------------------------------- parts
    def memory_config(self) -> MemoryConfig:
        """STAR sizes from the checkpoint's config (released defaults where absent), then overrides."""
        c = self.mm_config
        sizes = dict(
            spatial_frames=int(c.get("video_current_memory_length", 1)),
            spatial_size=int(c.get("compress_size", 8)),
            temporal_slots=int(c.get("video_long_memory_length", 25)),
            temporal_size=int(c.get("compress_long_memory_size", 4)),
            abstract_slots=int(c.get("video_Turing_memory_length", 25)),
            abstract_update_ratio=float(c.get("compress_Turing_update_ratio", 0.2)),
            abstract_hidden=self.attention_model.q_proj.out_features,
            retrieved_frames=3,   # upstream's hard-coded key_length
        )
        sizes.update(c.get("memory_overrides") or {})
        return MemoryConfig(**sizes)

    def encoder(self) -> CLIPFrameEncoder:
        return CLIPFrameEncoder(self.vision_tower, self.select_layer, self.encoder_id)

    def abstract_projections(self) -> tuple[nn.Module, nn.Module]:
        return self.attention_model.q_proj, self.attention_model.k_proj

    def as_backend(self, name: str = "flash_vstream") -> Backend:
        def close() -> None:
            self.to("cpu")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        return Backend(name, self.encoder(), self, self.memory_config(), close)

    # ------------------------------------------------------------ answers
    @torch.inference_mode()
    def prompt_embeddings(self, memory_tokens: torch.Tensor, question: str) -> torch.Tensor:
        """[1, L, H]: the vicuna_v1 prompt with <image> replaced by the projected memory tokens."""
        before, after = vicuna_v1_prompt(question).split(IMAGE_PLACEHOLDER)
        ids_before = self.tokenizer(before, return_tensors="pt").input_ids            # with BOS
        ids_after = self.tokenizer(after, add_special_tokens=False, return_tensors="pt").input_ids
        embed = self.llm.get_input_embeddings()
        visual = self.projector(memory_tokens.to(self.device, self.dtype))
        return torch.cat([embed(ids_before.to(self.device))[0], visual, embed(ids_after.to(self.device))[0]])[None]

    def answer(
        self, memory: MemoryRead, question: Question | str, max_new_tokens: int,
        cancel: threading.Event | None = None
    ) -> Answer:
        """Greedy answer, streamed as text pieces. The model reads the whole memory, so every group
        of the read is evidence."""
        stats: dict = {}
        text = question.text if isinstance(question, Question) else question
        pieces = self._stream(memory.tokens, text, max_new_tokens, cancel, stats)
        return Answer(pieces, list(memory.groups), stats=stats)

    def answer_from_tokens(self, tokens: torch.Tensor, question: str, max_new_tokens: int,
                           stop_at_eos: bool = True) -> dict:
        """Answer from raw memory tokens [N, D] at once: {"text", "tokens", "ttft_s", "total_s", ...}.
        Benchmarks use it (with stop_at_eos=False for a fixed number of decoded tokens)."""
        stats: dict = {}
        text = "".join(self._stream(tokens, question, max_new_tokens, None, stats, stop_at_eos))
        return {**stats, "text": text}

    def _stream(self, tokens: torch.Tensor, question: str, max_new_tokens: int,
                cancel: threading.Event | None, stats: dict, stop_at_eos: bool = True) -> Iterator[str]:
        t0 = time.perf_counter()
        embeds = self.prompt_embeddings(tokens, question)
        stats.update(prompt_tokens=int(embeds.shape[1]), tokens=0)
        eos = self.tokenizer.eos_token_id if stop_at_eos else None
        for piece, _ in stream_text(self.tokenizer, greedy_decode(self.llm, embeds, max_new_tokens, eos, cancel),
                                    stats, t0):
            yield piece
        stats["total_s"] = time.perf_counter() - t0
        stats["cancelled"] = bool(cancel and cancel.is_set())


@torch.inference_mode()
def greedy_decode(
    llm: LlamaForCausalLM, inputs_embeds: torch.Tensor, max_new_tokens: int, eos_token_id: int | None,
    cancel: threading.Event | None = None,
) -> Iterator[int]:
    """Greedy decoding with the KV cache, one token at a time, stopping at EOS or when `cancel` is set.

    A plain loop rather than `generate` + a streamer thread: the caller gets each token as it is
    made (time to first token is the prefill), and a cancel takes effect before the next step."""
    if max_new_tokens <= 0:
        return
    cache = {_CACHE_ARG: DynamicCache(config=llm.config)}   # filled in place by each forward
    out = llm(inputs_embeds=inputs_embeds, use_cache=True, **cache)
    for step in range(max_new_tokens):
        tok = int(out.logits[0, -1].argmax())
        if eos_token_id is not None and tok == eos_token_id:
            return
        yield tok
        if step + 1 == max_new_tokens or (cancel is not None and cancel.is_set()):
            return
        out = llm(input_ids=torch.tensor([[tok]], device=inputs_embeds.device), use_cache=True, **cache)


# transformers renamed the KV-cache argument from `past_key_values` to `cache` during 5.x.
_CACHE_ARG = "cache" if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters else "past_key_values"


def vision_config_for(cfg: dict, keys: list[str], path: Path) -> CLIPVisionConfig:
    """The tower's config: a `vision_config` dict in config.json, a known tower name, or the shapes."""
    if isinstance(cfg.get("vision_config"), dict):
        return CLIPVisionConfig(**cfg["vision_config"])
    name = cfg.get("mm_vision_tower", "")
    if name in KNOWN_TOWERS:
        return CLIPVisionConfig(**KNOWN_TOWERS[name])
    return infer_vision_config(path, keys)


def infer_vision_config(path: Path, keys: list[str]) -> CLIPVisionConfig:
    """Rebuild a CLIP tower's config from its weights (head width 64, as in every OpenAI CLIP ViT)."""
    prefix = "model.vision_tower.vision_tower.vision_model."
    shapes = {k[len(prefix):]: tuple(t.shape) for _, k, t in iter_tensors(path) if k.startswith(prefix)}
    try:
        hidden, _, patch, _ = shapes["embeddings.patch_embedding.weight"]
        positions = shapes["embeddings.position_embedding.weight"][0]
        inter = shapes["encoder.layers.0.mlp.fc1.weight"][0]
    except KeyError as e:
        raise CheckpointError(f"cannot infer the vision tower's shape from {path}: {e} missing") from e
    layers = 1 + max(int(k.split(".")[2]) for k in shapes if k.startswith("encoder.layers."))
    side = math.isqrt(positions - 1)
    return CLIPVisionConfig(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                            num_attention_heads=max(1, hidden // 64), image_size=side * patch, patch_size=patch,
                            hidden_act="quick_gelu")
