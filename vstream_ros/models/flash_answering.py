"""Answers from a memory read with the flash_vstream model: the upstream prompt, the camera budget,
greedy decoding with upstream's stop rules, text streamed as it is made."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from vstream_ros.answering.question import Question
from vstream_ros.memory import MemoryRead
from vstream_ros.models.base import Answer
from vstream_ros.models.budget import select_cameras
from vstream_ros.models.generation import greedy_decode, stream_until_stop
from vstream_ros.models.modeling import FlashVStreamModel
from vstream_ros.models.prompting import prompt_ids

log = logging.getLogger(__name__)


class FlashVStreamAnswerer:
    """The Answerer of the flash_vstream backend: one model and its tokenizer."""

    def __init__(self, model: FlashVStreamModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = model.config.answer

    def abstract_projections(self) -> tuple[nn.Module, nn.Module]:
        return self.model.abstract_projections()

    def visual_budget(self, text_tokens: int) -> int:
        """Visual tokens a prompt may hold: the prompt within the length the model was trained on
        (upstream cuts its input there; the answer may run on, as upstream's does)."""
        return self.settings.context_tokens - text_tokens

    def answer(
        self, memory: MemoryRead, question: Question | str, max_new_tokens: int | None = None,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """Greedy answer, streamed as text pieces. The model reads every group it is given, so the kept
        groups are the evidence; cameras cut to fit the context are named in `limitations`."""
        question = question.text if isinstance(question, Question) else question
        n = self.settings.max_new_tokens if max_new_tokens is None else max_new_tokens
        ids = prompt_ids(self.tokenizer, question)
        chosen = select_cameras(memory, self.visual_budget(len(ids) - 1), question)
        if chosen.warning:
            log.warning("%s", chosen.warning)
        stats: dict = {"cameras_dropped": chosen.dropped, "cameras_trimmed": chosen.trimmed}
        pieces = self._stream(ids, chosen.read.tokens, n, cancel, stats)
        return Answer(pieces, list(chosen.read.groups), chosen.warning, stats)

    def answer_from_tokens(self, tokens: torch.Tensor, question: str, max_new_tokens: int | None = None,
                           stop_at_eos: bool = True) -> dict:
        """Answer from raw memory tokens [N, D] at once, no camera budget: {"text", "tokens", "ttft_s",
        "total_s", ...}. Benchmarks use it (stop_at_eos=False for a fixed number of decoded tokens)."""
        n = self.settings.max_new_tokens if max_new_tokens is None else max_new_tokens
        stats: dict = {}
        text = "".join(self._stream(prompt_ids(self.tokenizer, question), tokens, n, None, stats, stop_at_eos))
        return {**stats, "text": text}

    def _stream(self, ids: list[int], tokens: torch.Tensor, max_new_tokens: int, cancel: threading.Event | None,
                stats: dict, stop_at_eos: bool = True) -> Iterator[str]:
        t0 = time.perf_counter()
        embeds = self.model.embed_prompt(ids, tokens)
        stats.update(prompt_tokens=int(embeds.shape[1]), tokens=0)
        eos = self.tokenizer.eos_token_id if stop_at_eos else None
        stops = self.settings.stop_strings if stop_at_eos else ()
        yield from stream_until_stop(self.tokenizer, greedy_decode(self.model.llm, embeds, max_new_tokens, eos, cancel),
                                     stats, t0, stops)
        stats["total_s"] = time.perf_counter() - t0
        stats["cancelled"] = bool(cancel and cancel.is_set())
