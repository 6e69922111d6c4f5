"""How far to trust a proxy: rank correlation with published ImageNet top-1 (the reference
tables of :mod:`explorer.measure.proxies.reference`).

Every proxy is computed for every row (through the proxy cache); a row that cannot be
resolved or scored is reported with its reason, never silently dropped, and the
correlations use the rows that worked.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from explorer.errors import DataError, ExplorerError
from explorer.measure.proxies.reference import resolve_reference, row_resolution
from explorer.measure.proxy import DEFAULT_PROXY, cached_score, proxy_class

if TYPE_CHECKING:
    import pandas as pd

    from explorer.candidate import Candidate

BASELINES = ("params", "macs")


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


def validate(reference: pd.DataFrame, proxies: Sequence[str], seed: int = 0,
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
            candidate.model  # noqa: B018 - build once: a broken one fails here, for all proxies
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


def _seen_by_fitted(candidate: Candidate, cache_dir: str | None) -> list[str]:
    from explorer.measure.proxies.features import cached_features
    from explorer.measure.proxies.fitted import load_table, twins

    return twins(cached_features(candidate, cache_dir), load_table())
