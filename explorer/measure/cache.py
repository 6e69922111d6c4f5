"""On-disk measurement cache: one JSON file per key, written atomically.

Keys are plain dicts (spec deploy-hash, backend, threads, resolution, versions, machine
fingerprint, ...) so a cached value can never be confused with one measured under other
conditions. A write goes to a temp file that is then renamed, so an interrupted run
never leaves a half-written entry. A read checks that the entry stores the very key asked
for and passes the namespace's validator; anything else (hand-edited, truncated, written
by an older layout) is a miss, so the value is measured again and replaced.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from explorer.errors import OutputError
from explorer.files import atomic_write_text

#: a cached value -> whether it is well formed (a False makes the entry a miss)
Validator = Callable[[Any], bool]


def default_cache_dir() -> Path:
    """``$EXPLORER_CACHE_DIR`` if set, else ``~/.cache/explorer``. Set but empty is refused:
    quietly falling back to the home cache is how a test suite ends up writing there."""
    env = os.environ.get("EXPLORER_CACHE_DIR")
    if env is None:
        return Path.home() / ".cache" / "explorer"
    if not env.strip():
        raise OutputError("EXPLORER_CACHE_DIR is set but empty; unset it (for "
                          "~/.cache/explorer) or name a folder")
    return Path(env)


def finite_number(value: Any) -> bool:
    """A real int/float that is finite (bools and strings are not numbers here)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


class Cache:
    """A namespace of cached measurement rows (e.g. ``latency``, ``proxy``); ``validate``
    says whether a stored value is well formed for this namespace."""

    def __init__(self, namespace: str, root: str | Path | None = None,
                 enabled: bool = True, validate: Validator | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()
        self.dir = self.root / namespace
        self.enabled = enabled
        self.validate = validate or (lambda value: isinstance(value, dict))

    @staticmethod
    def digest(key: dict[str, Any]) -> str:
        canon = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canon.encode()).hexdigest()[:24]

    def path(self, key: dict[str, Any]) -> Path:
        return self.dir / f"{self.digest(key)}.json"

    @staticmethod
    def canonical(key: dict[str, Any]) -> Any:
        """``key`` as it reads back from JSON (tuples become lists, ...)."""
        return json.loads(json.dumps(key, sort_keys=True, default=str))

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The stored value, or None when missing, unreadable, stored under another key
        or rejected by the validator (all misses: the caller measures afresh)."""
        if not self.enabled:
            return None
        try:
            entry = json.loads(self.path(key).read_text())
        except (OSError, ValueError):  # missing, unreadable or corrupt: a miss
            return None
        if not isinstance(entry, dict) or entry.get("key") != self.canonical(key):
            return None
        value = entry.get("value")
        try:
            return value if self.validate(value) else None
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def put(self, key: dict[str, Any], value: dict[str, Any]) -> None:
        """Store ``value`` (also when disabled: --no-cache forces a re-measure, and the
        fresh value replaces the old one)."""
        atomic_write_text(self.path(key), json.dumps({"key": key, "value": value},
                                                     sort_keys=True, default=str))

    def entries(self) -> list[dict[str, Any]]:
        """Every stored entry as {'key':..., 'value':...} (for imports and reports)."""
        if not self.dir.is_dir():
            return []
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except json.JSONDecodeError:
                continue
        return out
