"""The vicuna_v1 prompt and its token ids, built the way upstream builds them for the released model.

Upstream (mm_utils.tokenizer_image_token) splits the prompt at `<image>`, tokenises each piece on its
own with the slow (SentencePiece) LLaMA tokenizer, keeps the first piece's BOS only, and splices the
placeholder id -200 between the pieces; the model then replaces the placeholder by the visual tokens.
Tokenised separately, the piece after the image starts with SentencePiece's dummy prefix ("▁") before
the newline, which one tokenisation of the whole string would not give.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from vstream_ros.backends.shared.checkpoint import CheckpointError

SYSTEM_PROMPT = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
IMAGE_PLACEHOLDER = "<image>"
IMAGE_TOKEN_INDEX = -200        # upstream's constants.IMAGE_TOKEN_INDEX


def vicuna_v1_prompt(question: str) -> str:
    """The conversation template `vicuna_v1` with one user turn, the image first (as the CLI builds it)."""
    return f"{SYSTEM_PROMPT} USER: {IMAGE_PLACEHOLDER}\n{question} ASSISTANT:"


def prompt_ids(tokenizer: PreTrainedTokenizerBase, question: str) -> list[int]:
    """Token ids of the prompt with IMAGE_TOKEN_INDEX where the visual tokens go.

    The pieces are the template's, so a question that itself contains "<image>" (or "</s>") stays text:
    special-token strings in the question are not turned into control tokens.
    """
    before = f"{SYSTEM_PROMPT} USER: "
    after = f"\n{question} ASSISTANT:"
    head = tokenizer(before).input_ids                                   # BOS + text
    tail = tokenizer(after, add_special_tokens=False, split_special_tokens=True).input_ids
    return [*head, IMAGE_TOKEN_INDEX, *tail]


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """The checkpoint's LLaMA tokenizer, as upstream loads it (`use_fast=False`: from tokenizer.model).

    transformers 5 has one LLaMA tokenizer class and builds it from tokenizer.model with sentencepiece
    and protobuf when the folder has no tokenizer.json (the release has none)."""
    if not any((Path(path) / f).exists() for f in ("tokenizer.model", "tokenizer.json")):
        raise CheckpointError(f"{path} has no tokenizer (tokenizer.model or tokenizer.json)")
    try:
        tok = AutoTokenizer.from_pretrained(path, use_fast=False)
    except Exception as e:
        hint = ""
        if not (Path(path) / "tokenizer.json").exists():
            hint = " (a tokenizer.model needs the sentencepiece and protobuf packages)"
        raise CheckpointError(f"cannot load the tokenizer of {path}: {e}{hint}") from e
    if tok.bos_token_id is None or tok.eos_token_id is None:
        raise CheckpointError(f"the tokenizer of {path} has no BOS or EOS token")
    return tok
