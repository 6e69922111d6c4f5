"""General file helpers: safe file names, folders created with one clear error, outputs
checked before the work, atomic writes and advisory locks.

Every result file explorer writes (cache entries, tables, figures, reports) goes through
:func:`atomic_path`, so an interrupted run never leaves a half-written file.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from explorer.errors import OutputError

#: characters a file name derived from a user-chosen name keeps (see :func:`safe_stem`)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_STEM = 100


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


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp file beside ``path`` for the block to write; renamed onto ``path`` when the
    block succeeds and removed when it fails, so no half-written file is ever left."""
    make_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


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
