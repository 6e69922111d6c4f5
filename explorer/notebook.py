"""The settings both notebooks (notebooks/*.py) read from the environment, in one place.

``make notebooks`` runs them with full settings on backend ort and the default cache (the
committed outputs); the test sets ``EXPLORER_NB_SMALL=1`` so they run in about a minute,
with its own cache (``EXPLORER_CACHE_DIR``) and output folder (``EXPLORER_NB_OUT``).
"""
from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NotebookSettings:
    small: bool  # EXPLORER_NB_SMALL=1: tiny networks and searches
    backend: str  # EXPLORER_NB_BACKEND (default ort)
    proxy: str  # EXPLORER_NB_PROXY (default: the default proxy)
    cache_dir: str | None  # EXPLORER_CACHE_DIR (None: ~/.cache/explorer)
    out: Path  # EXPLORER_NB_OUT (default: a new temporary folder): figures, studies

    @property
    def measure(self) -> dict[str, Any]:
        """Keyword options for ``measure``, ``run_roadmap`` and ``run_search``."""
        return {"backend": self.backend, "threads": 1, "proxy": self.proxy,
                "cache_dir": self.cache_dir}

    def __str__(self) -> str:
        return f"small={self.small} backend={self.backend} proxy={self.proxy}"


def notebook_settings() -> NotebookSettings:
    """Read the settings, create the output folder and silence the libraries' deprecation
    warnings (they would fill the committed outputs with installation paths)."""
    warnings.filterwarnings("ignore")
    env = os.environ.get
    out = Path(env("EXPLORER_NB_OUT") or tempfile.mkdtemp(prefix="explorer-nb-"))
    out.mkdir(parents=True, exist_ok=True)
    return NotebookSettings(env("EXPLORER_NB_SMALL") == "1", env("EXPLORER_NB_BACKEND", "ort"),
                            env("EXPLORER_NB_PROXY", "default"), env("EXPLORER_CACHE_DIR") or None,
                            out)
