"""Progress bars only on a terminal. Model loading (huggingface_hub, transformers, tqdm) draws bars on
stderr; under `ros2 launch`, systemd or a log file they come out as blank or garbled lines."""

from __future__ import annotations

import os
import sys


def quiet_unless_terminal() -> bool:
    """Turn the bars off when stderr is not a terminal (True then). Call before the model libraries are
    imported: they read these variables at import. A variable the user set is left as it is."""
    if sys.stderr.isatty():
        return False
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")   # huggingface_hub, and transformers with it
    os.environ.setdefault("TQDM_DISABLE", "1")                   # any other tqdm bar
    return True
