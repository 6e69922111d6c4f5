"""Reference tables: published ImageNet top-1 of models explorer can build, the ground truth
the proxies are validated against and the fitted proxy is fitted on.

A reference table is a CSV with columns ``model`` (zoo name, timm architecture, spec path
or ``roadmap:STEP``) and ``top1``; an optional ``img_size`` (or ``resolution``) column
gives the input size the accuracy was measured at. Lines starting with ``#`` are comments
(citations).
"""
from __future__ import annotations

import math
import warnings
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from explorer.candidate import Candidate

RESOLUTION_COLUMNS = ("img_size", "resolution")


def packaged_references() -> dict[str, Path]:
    """Reference tables shipped in ``explorer/data`` (name -> path)."""
    root = resources.files("explorer.data")
    return {p.name.removesuffix(".csv"): Path(str(p)) for p in root.iterdir()
            if p.name.endswith(".csv") and not p.name.startswith("proxy_")}


def load_reference(path: str | Path) -> pd.DataFrame:
    """Read and check a reference CSV (a packaged name like 'timm-mobile-dev' works too)."""
    import pandas as pd

    known = packaged_references()
    p = known.get(str(path), Path(path))
    if not p.is_file():
        raise DataError(f"reference table {path} not found (packaged: {', '.join(known)})")
    try:
        with warnings.catch_warnings():  # surplus cells: pandas only warns, then drops them
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(p, comment="#", skipinitialspace=True, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError,
            UnicodeDecodeError) as exc:
        raise DataError(f"cannot read reference table {p}: {exc}") from None
    missing = [c for c in ("model", "top1") if c not in df.columns]
    if missing:
        raise DataError(f"reference table {p} lacks column(s) {', '.join(missing)} "
                        f"(has {', '.join(map(str, df.columns))})")
    if df.empty:
        raise DataError(f"reference table {p} has no rows")
    raw = df.copy()
    df["model"] = [_spec_path(m, p.parent) for m in df["model"].astype(str).str.strip()]
    df["top1"] = pd.to_numeric(df["top1"], errors="coerce")
    _refuse_rows(raw, p, "top1", ~df["top1"].between(0, 100) & df["top1"].notna(),
                 "is not a top-1 percentage in [0, 100]")
    for col in (c for c in RESOLUTION_COLUMNS if c in df.columns):
        given = df[col].notna() & (df[col].astype(str).str.strip() != "")
        size = pd.to_numeric(df[col], errors="coerce")
        _refuse_rows(raw, p, col, given & ~((size >= 32) & (size % 1 == 0)),
                     "is not a whole number of pixels >= 32")
        df[col] = size
    return df


def _refuse_rows(raw: pd.DataFrame, path: Path, col: str, bad: pd.Series,
                 problem: str) -> None:
    """One bad cell fails the table, naming the first such row as written in the file
    (rather than the column being silently ignored or a nonsense value trusted)."""
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        more = int(bad.sum()) - 1
        raise DataError(f"reference table {path}: {col} {str(raw[col].iloc[i]).strip()!r} "
                        f"of data row {i + 1} ({raw['model'].iloc[i]}) {problem}"
                        + (f" ({more} more such rows)" if more else ""))


def _spec_path(model: str, folder: Path) -> str:
    """Spec paths in a reference table are relative to the table's folder."""
    if Path(model).suffix in (".json", ".yaml", ".yml") and not Path(model).is_absolute():
        return str(folder / model)
    return model


def resolve_reference(model: str, resolution: int | None) -> Candidate:
    """A reference row's candidate: ``roadmap:STEP`` is explorer's spec of that roadmap
    step; anything else goes through :func:`explorer.candidate.resolve`."""
    from explorer.candidate import from_spec, resolve

    if not model.startswith("roadmap:"):
        return resolve(model, resolution=resolution)
    from explorer.paper import roadmap_specs

    step = model.split(":", 1)[1]
    specs = dict(roadmap_specs())
    if step not in specs:
        raise DataError(f"unknown roadmap step {step!r}; steps: {', '.join(specs)}")
    spec = specs[step]
    if resolution and resolution != spec.resolution:
        spec = spec.replace(resolution=resolution)
    return from_spec(spec, name=model)


def row_resolution(row: dict[str, Any]) -> int | None:
    for col in RESOLUTION_COLUMNS:
        value = row.get(col)
        if value is not None and isinstance(value, (int, float)) and math.isfinite(value):
            return int(value)
    return None
