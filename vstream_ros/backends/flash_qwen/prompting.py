"""The prompt as upstream's evaluation builds it: Qwen2-VL's chat template with the video first, then the
instruction and the question (inference_mcq_vqa.py), and its token ids with a slot per camera's memory.

    <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n
    <|vision_start|>[memory]<|vision_end|>{instruction}{question}<|im_end|>\n<|im_start|>assistant\n{prefill}

Multiple choice: the instruction is upstream's ("Select the best answer ... Respond with only the
letter (A, B, C, or D) of the correct option.", the letters as many as the options) and the
assistant turn is pre-filled with "Best option: ("; otherwise the open-ended instruction. With
several cameras each memory is its own video, preceded by "Camera <name>:" (upstream has one video).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase, Qwen2Tokenizer

from vstream_ros.answering.question import OPTION_LETTERS, Intent, Question
from vstream_ros.backends.shared.checkpoint import CheckpointError

VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"
IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
REQUIRED_TOKENS = (IM_START, IM_END, VISION_START, VISION_END)
OPEN_INSTRUCTION = "Answer the following open-ended question based on the video. "
CHOICE_PREFILL = "Best option: ("


def choice_instruction(options: int) -> str:
    letters = list(OPTION_LETTERS[: max(options, 2)])
    listed = f"{', '.join(letters[:-1])}, or {letters[-1]}" if len(letters) > 2 else " or ".join(letters)
    return ("Select the best answer to the following multiple-choice question based on the video. "
            f"Respond with only the letter ({listed}) of the correct option.")


@dataclass(frozen=True)
class Prompt:
    """Token ids around the memories: `pieces` alternates ids (list[int]) and camera names (str, where that
    camera's memory goes); `prefill` is text the answer starts with (already in the last piece)."""

    pieces: tuple[list[int] | str, ...]
    prefill: str = ""

    @property
    def text_tokens(self) -> int:
        return sum(len(p) for p in self.pieces if isinstance(p, list))


def user_text(question: Question | str) -> tuple[str, str]:
    """(instruction + question, assistant prefill) for a parsed question or plain text."""
    if isinstance(question, Question) and question.intent is Intent.CHOICE and question.options:
        return choice_instruction(len(question.options)) + question.text, CHOICE_PREFILL
    text = question.text if isinstance(question, Question) else question
    return OPEN_INSTRUCTION + text, ""


def build_prompt(tokenizer: PreTrainedTokenizerBase, question: Question | str, cameras: list[str],
                 system: str = "You are a helpful assistant.") -> Prompt:
    """The prompt's pieces for memories of `cameras` (in that order). The question is tokenised with its
    special-token strings as plain text, so it cannot close the turn or open a video."""
    text, prefill = user_text(question)

    def enc(s: str) -> list[int]:
        return tokenizer(s, add_special_tokens=False).input_ids

    def plain(s: str) -> list[int]:
        return tokenizer(s, add_special_tokens=False, split_special_tokens=True).input_ids

    pieces: list[list[int] | str] = [enc(f"{IM_START}system\n{system}{IM_END}\n{IM_START}user\n")]
    for k, cam in enumerate(cameras):
        label = plain(f"Camera {cam or '(unnamed)'}: ") if len(cameras) > 1 else []
        pieces[-1] += [*label, *enc(VISION_START)]
        pieces += [cam, enc(VISION_END) + (enc("\n") if len(cameras) > 1 and k < len(cameras) - 1 else [])]
    pieces[-1] += plain(text) + enc(f"{IM_END}\n{IM_START}assistant\n") + plain(prefill)
    return Prompt(tuple(pieces), prefill)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """The checkpoint's Qwen2 tokenizer (tokenizer.json, or vocab.json + merges.txt), with the chat and
    vision tokens the prompt needs. Loaded by its class, not AutoTokenizer, which would read config.json
    as a config of no known model type."""
    path = Path(path)
    if not any((path / f).exists() for f in ("tokenizer.json", "vocab.json")):
        raise CheckpointError(f"{path} has no tokenizer (tokenizer.json or vocab.json + merges.txt)")
    try:
        tok = Qwen2Tokenizer.from_pretrained(path)
    except Exception as e:
        raise CheckpointError(f"cannot load the tokenizer of {path}: {e}") from e
    vocab = tok.get_vocab()
    missing = [t for t in REQUIRED_TOKENS if t not in vocab]
    if missing:
        raise CheckpointError(f"the tokenizer of {path} lacks the special tokens {missing}")
    return tok


def stop_ids(tokenizer: PreTrainedTokenizerBase, generation_config: dict | None = None) -> frozenset[int]:
    """Tokens that end an answer: generation_config.json's eos_token_id (the release: <|im_end|> and
    <|endoftext|>), else those two."""
    eos = (generation_config or {}).get("eos_token_id")
    if eos is None:
        vocab = tokenizer.get_vocab()
        eos = [vocab[t] for t in (IM_END, END_OF_TEXT) if t in vocab]
    return frozenset([eos] if isinstance(eos, int) else eos)
