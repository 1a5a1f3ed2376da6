"""Answers from a Flash Memory read with Flash-VStream-Qwen: upstream's prompt, the memories through the
patch merger at their M-RoPE positions, the camera budget, greedy decoding streamed as text."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from transformers import PreTrainedTokenizerBase

from vstream_ros.answering.question import Question
from vstream_ros.backends.contract import Answer, Answerer, CannotLocate
from vstream_ros.backends.flash_qwen.modeling import FlashQwenModel
from vstream_ros.backends.flash_qwen.prompting import Prompt, build_prompt
from vstream_ros.backends.shared.budget import camera_blocks, select_cameras
from vstream_ros.backends.shared.generation import greedy_decode, stream_text
from vstream_ros.memory import MemoryRead

log = logging.getLogger(__name__)


class FlashQwenAnswerer(CannotLocate, Answerer):
    """The Answerer of the flash_vstream_qwen backend."""

    def __init__(self, model: FlashQwenModel, tokenizer: PreTrainedTokenizerBase, stop_ids: frozenset[int]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.settings = model.config.answer

    @property
    def rows_per_token(self) -> int:
        """Flash Memory rows per language-model token: the patch merger folds merge x merge rows into one."""
        return self.model.merge ** 2

    def abstract_projections(self) -> tuple[None, None]:
        return None, None          # the Flash Memory has no abstract part

    def prompt(self, question: Question, cameras: list[str]) -> Prompt:
        return build_prompt(self.tokenizer, question, cameras, self.settings.system_prompt)

    def answer(self, memory: MemoryRead, question: Question, max_new_tokens: int | None = None,
               cancel: threading.Event | None = None) -> Answer:
        """Greedy answer, streamed as text pieces. The model reads every group it is given, so the kept
        groups are the evidence. Cameras that do not fit the trained context together (14000 tokens,
        each camera 4x fewer language-model tokens than memory rows) are left out, the ones the question
        names first (budget.py), and named in `limitations`."""
        n = self.settings.max_new_tokens if max_new_tokens is None else max_new_tokens
        cameras = list(camera_blocks(memory))
        prompt = self.prompt(question, cameras)
        rows_per_token = self.model.merge ** 2
        chosen = select_cameras(memory, (self.settings.context_tokens - prompt.text_tokens) * rows_per_token,
                                 question.text)
        if chosen.warning:
            log.warning("%s", chosen.warning)
        kept = list(camera_blocks(chosen.read))
        if kept != cameras:
            prompt = self.prompt(question, kept)
        stats: dict = {"cameras_dropped": chosen.dropped, "cameras_trimmed": chosen.trimmed,
                       "visual_tokens": chosen.read.num_tokens // rows_per_token}
        pieces = self._stream(prompt, chosen.read, question.frame_interval, n, cancel, stats)
        return Answer(pieces, list(chosen.read.groups), chosen.warning, stats)

    def _stream(self, prompt: Prompt, read: MemoryRead, frame_interval: float, max_new_tokens: int,
                cancel: threading.Event | None, stats: dict) -> Iterator[str]:
        t0 = time.perf_counter()
        embeds, positions = self.model.embed_prompt(prompt, read, frame_interval)
        stats.update(prompt_tokens=int(embeds.shape[1]), tokens=0)
        if prompt.prefill:
            yield prompt.prefill
        tokens = greedy_decode(self.model.qwen, embeds, max_new_tokens, self.stop_ids, cancel, positions)
        for piece, _ in stream_text(self.tokenizer, tokens, stats, t0):
            yield piece
        stats["total_s"] = time.perf_counter() - t0
        stats["cancelled"] = bool(cancel and cancel.is_set())
