"""The RepViT roadmap (paper section 3, Figure 2) measured step by step beside the paper's
numbers, and the paper's SE-placement table (Table 7) measured the same way. The steps,
their edits and the paper's numbers are data in :mod:`explorer.paper`, below everything
that measures, so the device models, the proxies' validation and the search spaces read
them without importing this runner.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from explorer import backend_columns as bc
from explorer import edits as E
from explorer import zoo
from explorer.candidate import from_spec
from explorer.errors import EditError
from explorer.paper import (
    CONTROL_STEPS,
    PAPER_STEPS,
    SE_TABLE,
    Step,
    custom_steps,
    roadmap_specs,
    roadmap_steps,
    step_specs,
)
from explorer.spec import NetworkSpec

DEFAULT_METRICS = ("params", "macs", "flops", "latency", "proxy")

#: the runner's API; the steps' data and definitions are re-exported from explorer.paper
__all__ = [
    "CONTROL_STEPS", "DEFAULT_METRICS", "PAPER_STEPS", "SE_TABLE", "Step", "agreement",
    "custom_steps", "roadmap_specs", "roadmap_steps", "run_ablation", "run_roadmap",
    "run_se_table", "se_agreement", "step_specs",
]


#: Steps whose paper top-1 reflects the architecture under one recipe (for agreement).
_ARCH_TOP1_EXCLUDE = {"10"}  # distillation changes accuracy, not the architecture


def _measure_one(spec: NetworkSpec, metrics: Sequence[str], backends: Sequence[str],
                 options: dict[str, Any]) -> dict[str, Any]:
    """One row; with several backends, the latency metric runs once per backend and its
    columns are tagged with the backend's name (see :mod:`explorer.backend_columns`)."""
    from explorer.measure import measure, metric_function

    candidate = from_spec(spec)
    if len(backends) == 1 or "latency" not in metrics:
        return measure(candidate, metrics, backend=backends[0], **options)
    row = measure(candidate, [m for m in metrics if m != "latency"], backend=backends[0],
                  **options)
    latency = metric_function("latency")
    runs = [latency(candidate, backend=b, **options) for b in backends]
    for backend, run in zip(backends, runs, strict=True):
        row.update(bc.tagged(run, backend))
    row.update(backend=",".join(backends), threads=runs[0].get("threads"))
    return row


def _measure_rows(named: Sequence[tuple[dict[str, Any], NetworkSpec | None]],
                  metrics: Sequence[str], progress: bool, desc: str, **options: Any
                  ) -> list[dict[str, Any]]:
    """``options["backend"]`` may name several backends, comma-separated."""
    from tqdm.auto import tqdm

    backends = bc.split(options.pop("backend", "ort"))
    rows = []
    bar = tqdm(named, desc=desc, disable=not progress, unit="step", leave=False)
    for info, spec in bar:
        bar.set_postfix_str(next((str(info[k]) for k in ("step", "removed", "model")
                                  if k in info), ""))
        row = dict(info)
        if spec is not None:
            row.update(_measure_one(spec, metrics, backends, options))
        rows.append(row)
    return rows


def _relative(df: pd.DataFrame, col: str, out: str, groups: str | None = None) -> None:
    """``out`` = ``col`` / its first row's value (within each of ``groups``); left out
    when that first value is missing (e.g. no paper numbers for a user's own edits)."""
    if col not in df or not len(df):
        return
    values = pd.to_numeric(df[col], errors="coerce")
    first = values.groupby(df[groups]).transform(lambda v: v.iloc[0]) if groups \
        else pd.Series(values.iloc[0], index=df.index)
    if first.notna().all():
        df[out] = values / first


def _latency_relative(df: pd.DataFrame, out: str, groups: str | None = None) -> None:
    """Every backend's latency and the paper's, relative to the first row (of a group)."""
    for b in bc.backends(df):
        _relative(df, bc.column("latency_ms", b), bc.column(out, b), groups)
    _relative(df, "paper_latency_ms", f"paper_{out}", groups)


def run_roadmap(steps: Sequence[Step] | None = None, base: NetworkSpec | None = None,
                metrics: Sequence[str] = DEFAULT_METRICS, progress: bool = True,
                **options: Any) -> pd.DataFrame:
    """One row per step: measured columns beside the paper's. ``options`` go to
    :func:`explorer.measure.measure` (backend, threads, proxy, seed, no_cache, cache_dir);
    ``backend="ort,torch"`` measures latency on each, in columns ``latency_ms[ort]``..."""
    pairs = step_specs(steps, base)
    named = [({"step": s.id, "edit": "+".join(s.edits), "title": s.title, "on_path": s.on_path,
               "paper_latency_ms": s.paper_latency_ms, "paper_top1": s.paper_top1,
               "paper_params": s.paper_params, "paper_macs": s.paper_macs}, spec)
             for s, spec in pairs]
    df = pd.DataFrame(_measure_rows(named, metrics, progress, "roadmap", **options))
    _latency_relative(df, "latency_rel")
    return df


def run_ablation(steps: Sequence[Step] | None = None, base: NetworkSpec | None = None,
                 metrics: Sequence[str] = DEFAULT_METRICS, progress: bool = True,
                 **options: Any) -> pd.DataFrame:
    """Leave-one-out: the full path minus each edit in turn, measured the same way. A row
    whose remaining edits cannot apply says why instead of failing the table."""
    path = [s for s in (steps if steps is not None else PAPER_STEPS) if s.on_path]
    base = base or zoo.get_spec("mobilenetv3_large_100")
    named: list[tuple[dict[str, Any], NetworkSpec | None]] = [
        ({"removed": "(none: full roadmap)", "status": "ok"},
         E.apply(base, [e for s in path for e in s.edits]))]
    for skip in path:
        refs = [e for s in path if s is not skip for e in s.edits]
        try:
            named.append(({"removed": "+".join(skip.edits), "status": "ok"},
                          E.apply(base, refs)))
        except EditError as exc:
            named.append(({"removed": "+".join(skip.edits), "status": str(exc)}, None))
    df = pd.DataFrame(_measure_rows(named, metrics, progress, "ablation", **options))
    deltas = {bc.column("latency_ms", b): bc.column("latency_ms_delta", b)
              for b in bc.backends(df)}
    deltas.update({col: f"{col}_delta" for col in ("proxy", "params", "macs", "flops")})
    for col, delta in deltas.items():
        if col in df:
            df[delta] = df[col] - df[col].iloc[0]
    return df


def run_se_table(metrics: Sequence[str] = DEFAULT_METRICS, progress: bool = True,
                 resolution: int | None = None, **options: Any) -> pd.DataFrame:
    """The paper's SE-placement ablation (Table 7): each model with no SE, SE in every
    block and cross-block SE, measured beside the paper's iPhone 12 latency and top-1.
    ``latency_rel`` is relative to the same model without SE."""
    def spec(model: str, edit: str) -> NetworkSpec:
        base = zoo.get_spec(model)
        base = base.replace(resolution=resolution or base.resolution)
        return dataclasses.replace(E.apply(base, [edit]), name=f"{model}+{edit}")

    named = [({"model": r.model, "placement": r.placement, "edit": r.edit,
               "paper_latency_ms": r.paper_latency_ms, "paper_top1": r.paper_top1},
              spec(r.model, r.edit)) for r in SE_TABLE]
    df = pd.DataFrame(_measure_rows(named, metrics, progress, "SE table", **options))
    _latency_relative(df, "latency_rel", groups="model")
    return df


def _tau(rows: pd.DataFrame, ours: str, theirs: str) -> dict[str, float | int | None] | None:
    """Kendall tau of column ``ours`` against ``theirs`` where both have a value (None
    when ``ours`` was not measured)."""
    from scipy.stats import kendalltau

    if ours not in rows:
        return None
    sub = rows[[ours, theirs]].dropna()
    tau = kendalltau(sub[ours], sub[theirs]).statistic if len(sub) > 2 else None
    return {"kendall_tau": None if tau is None or math.isnan(tau) else float(tau),
            "n": len(sub)}


def _agreement(latency_rows: pd.DataFrame, top1_rows: pd.DataFrame
               ) -> dict[str, dict[str, float | int | None]]:
    """Each backend's latency vs the paper's (keys tagged per backend when there are
    several) and the proxy vs the paper's top-1."""
    pairs = {bc.column("latency_vs_paper_latency", b):
             (latency_rows, bc.column("latency_ms", b), "paper_latency_ms")
             for b in bc.backends(latency_rows)}
    pairs["proxy_vs_paper_top1"] = (top1_rows, "proxy", "paper_top1")
    taus = {key: _tau(rows, ours, theirs) for key, (rows, ours, theirs) in pairs.items()}
    return {key: tau for key, tau in taus.items() if tau is not None}


def agreement(df: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """Kendall tau of our latency (each backend's) vs the paper's latency, and of our
    proxy vs the paper's top-1, over the main-path steps where the paper gives a number."""
    path = df[df["on_path"]]
    return _agreement(path, path[~path["step"].isin(_ARCH_TOP1_EXCLUDE)])


def se_agreement(df: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """The same Kendall taus over the SE table's rows."""
    return _agreement(df, df)
