"""Column names of tables measured on several latency backends at once
(``explorer roadmap --backend ort,model:iphone12``).

Each backend's latency columns carry its name in brackets (``latency_ms[ort]``,
``latency_rel[model:iphone12]``), so one CSV holds them side by side without ambiguity.
A table measured on one backend keeps the plain names (``latency_ms``), which every
reader of a single-backend table (reports, Pareto plots) expects; :func:`select` turns
one backend of a multi-backend table back into that form.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from explorer.errors import BackendError


def split(backend: str | Sequence[str]) -> list[str]:
    """The backends of ``--backend A,B`` (a single name is a one-item list). An empty or
    repeated name is an error: it would make an empty or duplicated column."""
    names = ([n.strip() for n in backend.split(",")] if isinstance(backend, str)
             else [str(n) for n in backend])
    if not names or not all(names):
        raise BackendError(f"--backend {','.join(names)!r} has an empty name; give "
                           "comma-separated backends, e.g. ort,torch")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise BackendError(f"--backend lists {', '.join(repeated)} more than once")
    return names


def column(name: str, backend: str | None) -> str:
    """Column ``name`` of ``backend`` in a multi-backend table (``None``: one backend)."""
    return name if backend is None else f"{name}[{backend}]"


def tagged(row: dict[str, Any], backend: str | None) -> dict[str, Any]:
    """A latency row with every key renamed for ``backend``."""
    return {column(k, backend): v for k, v in row.items()}


def backends(df: pd.DataFrame) -> list[str | None]:
    """The backends of a multi-backend table in column order, or ``[None]`` for a table
    measured on one backend (plain column names)."""
    prefix = "latency_ms["
    found = [c[len(prefix):-1] for c in df.columns
             if c.startswith(prefix) and c.endswith("]")]
    return found or [None]


def label(backend: str | None, single: str) -> str:
    """How a table or figure names a backend's series: ``single`` for a one-backend
    table (e.g. "ours"), the backend's name otherwise."""
    return single if backend is None else backend


def select(df: pd.DataFrame, backend: str) -> pd.DataFrame:
    """One backend of a multi-backend table, under the plain names (and with its own
    ``backend`` value), without the other backends' columns."""
    suffix = f"[{backend}]"
    own = {c: c[:-len(suffix)] for c in df.columns if c.endswith(suffix)}
    if not own:
        raise BackendError(f"the table has no columns for backend {backend!r}; it has "
                           f"{', '.join(str(b) for b in backends(df))}")
    shared = [c for c in df.columns if not (c.endswith("]") and "[" in c)]
    out = df[shared].copy()
    for tagged_name, plain in own.items():
        out[plain] = df[tagged_name]
    return out
