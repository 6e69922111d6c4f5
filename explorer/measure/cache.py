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
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from explorer.errors import OutputError

#: characters a file name derived from a user-chosen name keeps (see :func:`safe_stem`)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_STEM = 100
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


def safe_stem(name: str) -> str:
    """The file-name stem for a user-chosen name (spec ``name:``, study, model label).

    Names are free text, but a file named after one must stay in the folder the user
    gave: every run of characters other than letters, digits and ``. _ + -`` becomes
    ``_``, leading dots are dropped (no ``..``, no hidden files) and the stem is cut to
    100 characters. So ``../../x`` and ``/abs/x`` become plain names, never paths."""
    stem = _UNSAFE.sub("_", name).lstrip(".")[:MAX_STEM]
    return stem or "unnamed"


def make_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and parents); a filesystem refusal becomes one
    :class:`OutputError` naming the folder instead of a traceback after the work."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _blocker(folder)
        reason = f"{blocker} is a file, not a folder" if blocker else exc.strerror or exc
        raise OutputError(f"cannot create folder {folder}: {reason}") from None
    return folder


def _blocker(folder: Path) -> Path | None:
    """The file standing where ``folder`` or one of its parents should be, if any."""
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


def check_writable(path: str | Path, option: str, folder: bool = False) -> Path:
    """Refuse an output that the work could never be written to, before the work (a
    folder given as a file, a file standing where a folder must be, a folder without
    write permission). Creates nothing, so a run that fails leaves no empty folder."""
    target = Path(path)
    if not folder and (target.is_dir() or str(path).endswith(("/", os.sep))):
        raise OutputError(f"{option} {path} is a folder; give a file name")
    parent = target if folder else target.parent
    blocker = _blocker(parent)
    if blocker is not None:
        raise OutputError(f"{option} {path}: {blocker} is a file, not a folder")
    existing = next(p for p in (parent, *parent.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: no permission to write in {existing}")
    return target


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    make_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path``'s sibling ``.lock`` file (POSIX; elsewhere
    the atomic rename alone protects the file)."""
    make_dir(path.parent)
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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
