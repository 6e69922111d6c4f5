"""How far to trust a proxy: rank correlation with published ImageNet top-1.

A reference table is a CSV with columns ``model`` (zoo name, timm architecture or spec
path) and ``top1``; an optional ``img_size`` (or ``resolution``) column gives the input
size the accuracy was measured at. Lines starting with ``#`` are comments (citations).
Every proxy is computed for every row (through the proxy cache); a row that cannot be
resolved or scored is reported with its reason, never silently dropped, and the
correlations use the rows that worked.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from explorer.errors import DataError, ExplorerError
from explorer.measure.proxy import DEFAULT_PROXY, cached_score, proxy_class

if TYPE_CHECKING:
    import pandas as pd

    from explorer.candidate import Candidate

BASELINES = ("params", "macs")
RESOLUTION_COLUMNS = ("img_size", "resolution")


def packaged_references() -> dict[str, Path]:
    """Reference tables shipped in ``explorer/data`` (name -> path)."""
    root = resources.files("explorer.data")
    return {p.name.removesuffix(".csv"): Path(str(p)) for p in root.iterdir()
            if p.name.endswith(".csv") and not p.name.startswith("proxy_")}


def load_reference(path: str | Path) -> "pd.DataFrame":
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


def proxy_names(requested: Iterable[str] | None) -> list[str]:
    """The proxies to validate: the requested ones ('default' allowed) plus the baselines."""
    names = [DEFAULT_PROXY if n == "default" else n for n in (requested or ["default"])]
    for n in names:
        proxy_class(n)  # unknown names fail before any work
    return list(dict.fromkeys([*BASELINES, *names]))


@dataclass
class Validation:
    """Per-model scores and per-proxy correlations of one validation run."""

    proxies: list[str]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> proxy -> value
    seconds: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    top1: dict[str, float] = field(default_factory=dict)
    #: rows left out by ``unseen``: model -> its architectural twins in the fit table
    excluded: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON of ``explorer proxy validate --json``."""
        from scipy.stats import kendalltau, spearmanr

        results = {}
        for name in self.proxies:
            models = [m for m in self.top1 if name in self.scores.get(m, {})]
            x = [self.scores[m][name] for m in models]
            y = [self.top1[m] for m in models]
            enough = len(models) >= 3 and len(set(x)) > 1
            secs = self.seconds.get(name, [])
            results[name] = {
                "kendall_tau": _finite(kendalltau(x, y).statistic) if enough else None,
                "spearman": _finite(spearmanr(x, y).statistic) if enough else None,
                "n": len(models),
                "failed": self.failed.get(name, []),
                "seconds_per_model": round(sum(secs) / len(secs), 4) if secs else None,
            }
        summary: dict[str, Any] = {"default": DEFAULT_PROXY, "results": results}
        if self.excluded:
            summary["excluded_seen_by_fitted"] = self.excluded
        return summary


def _finite(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


def validate(reference: "pd.DataFrame", proxies: Sequence[str], seed: int = 0,
             limit: int | None = None, no_cache: bool = False, cache_dir: str | None = None,
             progress: bool = True, unseen: bool = False) -> Validation:
    """Score every reference row with every proxy; failures are kept per row. With
    ``unseen``, rows whose architecture is in the fitted proxy's fit table (under any
    name, see :func:`explorer.measure.proxies.fitted.twins`) are left out and listed."""
    from tqdm import tqdm

    result = Validation(list(proxies))
    rows = reference.head(limit) if limit else reference
    for row in tqdm(rows.to_dict("records"), desc="validate", unit="model",
                    disable=not progress, file=None):
        model = row["model"]
        try:
            if not math.isfinite(row["top1"]):
                raise DataError("top1 is missing or not a number")
            candidate = resolve_reference(model, row_resolution(row))
            candidate.model  # build once: a broken architecture fails here, for all proxies
        except (ExplorerError, RuntimeError, ValueError, TypeError) as exc:
            for name in proxies:
                result.failed.setdefault(name, []).append({"model": model, "error": str(exc)})
            continue
        if unseen and (seen := _seen_by_fitted(candidate, cache_dir)):
            result.excluded[model] = seen
            continue
        result.top1[model] = float(row["top1"])
        for name in proxies:
            try:
                r = cached_score(candidate, name, seed, no_cache, cache_dir)
            except ExplorerError as exc:
                result.failed.setdefault(name, []).append({"model": model, "error": str(exc)})
                continue
            result.scores.setdefault(model, {})[name] = r.value
            result.seconds.setdefault(name, []).append(r.seconds)
    return result


def _seen_by_fitted(candidate: "Candidate", cache_dir: str | None) -> list[str]:
    from explorer.measure.proxies.features import cached_features
    from explorer.measure.proxies.fitted import load_table, twins

    return twins(cached_features(candidate, cache_dir), load_table())


def resolve_reference(model: str, resolution: int | None) -> "Candidate":
    """A reference row's candidate: ``roadmap:STEP`` is explorer's spec of that roadmap
    step; anything else goes through :func:`explorer.candidate.resolve`."""
    from explorer.candidate import from_spec, resolve

    if not model.startswith("roadmap:"):
        return resolve(model, resolution=resolution)
    from explorer.roadmap import roadmap_specs

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
