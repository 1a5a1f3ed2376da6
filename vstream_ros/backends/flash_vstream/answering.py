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

from vstream_ros.answering.question import OPTION_LETTERS, Intent, Question
from vstream_ros.answering.words import a_phrase
from vstream_ros.backends.contract import Answer, Answerer, CannotLocate
from vstream_ros.backends.flash_vstream.modeling import FlashVStreamModel
from vstream_ros.backends.flash_vstream.prompting import prompt_ids
from vstream_ros.backends.shared.budget import select_cameras
from vstream_ros.backends.shared.generation import greedy_decode, stream_until_stop
from vstream_ros.memory import MemoryRead

log = logging.getLogger(__name__)
# The one multiple-choice instruction of this backend. Upstream v1 has none (its evaluation is open-ended);
# this is LLaVA-1.5's, which the released model saw in its stage-2 data (llava_v1_5_mix665k), in its
# vicuna_v1 format: the question, a newline, the instruction.
CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices directly."


def user_text(question: Question) -> str:
    """The user turn's text: the question, and for multiple choice the backend's instruction (once)."""
    if question.intent is Intent.CHOICE:
        return question.text.rstrip() + "\n" + CHOICE_INSTRUCTION
    return question.text


class FlashVStreamAnswerer(CannotLocate, Answerer):
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
        self, memory: MemoryRead, question: Question, max_new_tokens: int | None = None,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """Greedy answer, streamed as text pieces. The model reads every group it is given, so the kept
        groups are the evidence; cameras cut to fit the context are named in `limitations`."""
        text = user_text(question)
        n = self.settings.max_new_tokens if max_new_tokens is None else max_new_tokens
        ids = prompt_ids(self.tokenizer, text)
        chosen = select_cameras(memory, self.visual_budget(len(ids) - 1), text)
        if chosen.warning:
            log.warning("%s", chosen.warning)
        stats: dict = {"cameras_dropped": chosen.dropped, "cameras_trimmed": chosen.trimmed}
        if question.intent is Intent.CHOICE or question.yes_no:
            pieces = iter([self._decide(question, ids, chosen.read.tokens, stats)])
        else:
            pieces = self._stream(ids, chosen.read.tokens, n, cancel, stats)
        return Answer(pieces, list(chosen.read.groups), chosen.warning, stats)

    @torch.inference_mode()
    def _decide(self, q: Question, ids: list[int], tokens: torch.Tensor, stats: dict) -> str:
        """A multiple-choice or yes/no answer decided by the model's next-token scores over the allowed
        words only: exactly one option, or a Yes or a No, never an echo of the question."""
        t0 = time.perf_counter()
        logits = self.model.llm(inputs_embeds=self.model.embed_prompt(ids, tokens)).logits[0, -1].float()
        if q.intent is Intent.CHOICE:
            words = list(OPTION_LETTERS[: len(q.options)])
        else:
            words = ["Yes", "No"]
        scores = [max(float(logits[t]) for t in self._first_tokens(w)) for w in words]
        k = max(range(len(words)), key=scores.__getitem__)
        stats.update(ttft_s=time.perf_counter() - t0, total_s=time.perf_counter() - t0, tokens=1,
                     choice_scores=dict(zip(words, scores, strict=True)))
        if q.intent is Intent.CHOICE:
            return f"({words[k]}) {q.options[k]}"
        subject = a_phrase(q.subject) if q.subject else "it"
        return f"Yes, I saw {subject}." if k == 0 else f"No, I have not seen {subject}."

    def _first_tokens(self, word: str) -> set[int]:
        """Ids a word may begin with after the prompt (with or without SentencePiece's leading space)."""
        ids = set()
        for variant in (word, " " + word):
            enc = self.tokenizer(variant, add_special_tokens=False).input_ids
            if enc:
                ids.add(enc[0] if self.tokenizer.convert_ids_to_tokens(enc[0]) not in ("▁", " ") else enc[-1])
        return ids

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
