"""Tokenizers built from files at run time (the tiny test models'), made once per process."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

from transformers import PreTrainedTokenizerBase


def tokenizer_once(write_files: Callable[[str], Path],
                   load: Callable[[Path], PreTrainedTokenizerBase]) -> Callable[[], PreTrainedTokenizerBase]:
    """A function giving the tokenizer that `load` reads from the files `write_files` puts in a temporary
    folder: written and loaded on the first call, the same object after (callers copy it to change it)."""
    @functools.cache
    def built() -> PreTrainedTokenizerBase:
        with tempfile.TemporaryDirectory() as d:
            return load(write_files(d))
    return built
