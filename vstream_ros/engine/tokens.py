"""What one camera's memory costs the language model, for the node's start-up log."""

from __future__ import annotations

from vstream_ros.backends.contract import Backend
from vstream_ros.memory import FlashMemoryConfig


def visual_tokens_text(backend: Backend, config, grid: tuple[int, int]) -> str:
    """"STAR memory: 681 visual tokens per camera for the language model", for the memory kind the backend
    uses. A Flash Memory row is not a token: the answerer's patch merger folds `rows_per_token` rows into
    one; a backend whose language model reads no features (lite) says so."""
    rows = config.full_tokens(grid)
    kind = "Flash Memory" if isinstance(config, FlashMemoryConfig) else "STAR memory"
    answerer = backend.answerer
    if not answerer.reads_visual_tokens:
        return f"{kind}: {rows} memory tokens per camera; the language model reads none (it reads what they show)"
    per = max(1, int(answerer.rows_per_token))
    text = f"{kind}: {rows // per} visual tokens per camera for the language model"
    return text + (f" ({rows} memory rows, {per} to a token)" if per > 1 else "")
