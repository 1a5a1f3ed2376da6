"""Greedy decoding with a KV cache, and the stop rules of upstream's CLI (EOS, or "</s>" in the text)."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Collection, Iterator, Sequence

import torch
from transformers import DynamicCache, LlamaForCausalLM

# transformers renamed the KV-cache argument from `past_key_values` to `cache` during 5.x.
_CACHE_ARG = "cache" if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters else "past_key_values"


@torch.inference_mode()
def greedy_decode(
    llm: LlamaForCausalLM, inputs_embeds: torch.Tensor, max_new_tokens: int,
    eos_token_id: int | Collection[int] | None, cancel: threading.Event | None = None,
    position_ids: torch.Tensor | None = None,
) -> Iterator[int]:
    """Greedy decoding with the KV cache, one token at a time, stopping at EOS (one id or several) or when
    `cancel` is set.

    A plain loop rather than `generate` + a streamer thread: the caller gets each token as it is
    made (time to first token is the prefill), and a cancel takes effect before the next step.
    `position_ids` ([3, 1, L] for Qwen2-VL's M-RoPE) place the prompt; new token k then takes position
    p + 1 + k on every axis, p being the last prompt token's. That is Qwen2-VL's `rope_deltas` rule
    (get_rope_index: the largest *nominal* position + 1 - L, the nominal layout ending with the prompt's
    text), which Flash-VStream-Qwen keeps: its memory's times (AM-RoPE) may lie beyond the text and
    must not push the answer further on."""
    if max_new_tokens <= 0:
        return
    eos = set() if eos_token_id is None else {eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id)
    cache = {_CACHE_ARG: DynamicCache(config=llm.config)}   # filled in place by each forward
    where = {} if position_ids is None else {"position_ids": position_ids}
    after = 0 if position_ids is None else int(position_ids[:, :, -1].max()) + 1
    out = llm(inputs_embeds=inputs_embeds, use_cache=True, **where, **cache)
    for step in range(max_new_tokens):
        tok = int(out.logits[0, -1].argmax())
        if tok in eos:
            return
        yield tok
        if step + 1 == max_new_tokens or (cancel is not None and cancel.is_set()):
            return
        if position_ids is not None:
            nxt = after + step
            where = {"position_ids": torch.full((position_ids.shape[0], 1, 1), nxt, device=position_ids.device)}
        out = llm(input_ids=torch.tensor([[tok]], device=inputs_embeds.device), use_cache=True, **where, **cache)


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Characters at the end of `text` that could be the start of a stop string."""
    return max((n for s in stops for n in range(len(s) - 1, 0, -1) if text.endswith(s[:n])), default=0)


def stream_until_stop(tokenizer, tokens: Iterator[int], stats: dict, t0: float,
                      stop_strings: Sequence[str] = ()) -> Iterator[str]:
    """Text pieces of the decoded tokens, ending before the first stop string (upstream's
    KeywordsStoppingCriteria matches it in the decoded text). Text that may begin a stop string is
    held back until it cannot. Sets stats["stopped_by"] when a stop string ended the answer."""
    sent = 0
    full = ""
    for _, full in stream_text(tokenizer, tokens, stats, t0):
        cut = min((i for s in stop_strings if (i := full.find(s)) >= 0), default=-1)
        if cut >= 0:
            if cut > sent:
                yield full[sent:cut]
            stats["stopped_by"] = next(s for s in stop_strings if full.find(s) == cut)
            return
        safe = len(full) - _held_back(full, stop_strings)
        if safe > sent:
            yield full[sent:safe]
            sent = safe
    if len(full) > sent:
        yield full[sent:]


def stream_text(tokenizer, tokens: Iterator[int], stats: dict, t0: float,
                prefix: str = "") -> Iterator[tuple[str, str]]:
    """Detokenize as tokens come: yields (new text, text so far), holding back half a UTF-8 character.
    Records `ttft_s` (from t0) and `tokens` in stats."""
    ids: list[int] = []
    text = prefix
    for tok in tokens:
        if not ids:
            stats["ttft_s"] = time.perf_counter() - t0
        ids.append(tok)
        stats["tokens"] = len(ids)
        full = prefix + tokenizer.decode(ids, skip_special_tokens=True)
        if len(full) > len(text) and not full.endswith("\ufffd"):
            yield full[len(text):], full
            text = full
