"""Fit and validate device profiles on CSV files of whole-network latencies.

CSV columns: ``model`` (a zoo name, a timm name, ``roadmap:STEP`` or a spec file path,
relative to the CSV's folder or the current one) and ``latency_ms`` are required;
``resolution`` (default: the model's own, 224 for timm), ``weight`` (default 1),
``family`` (default: the name without its size suffix) and ``source`` are optional.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.errors import DataError, ExplorerError
from explorer.measure import devicemodel as dm
from explorer.measure.opcost import PRECISIONS, OpCost, opcost
from explorer.measure.profiles import Profile, check_name

if TYPE_CHECKING:
    from explorer.candidate import Candidate

REQUIRED = ("model", "latency_ms")
OPTIONAL = ("resolution", "weight", "family", "source")


@dataclass(frozen=True)
class Row:
    """One whole-network latency and where it came from."""

    model: str
    latency_ms: float
    resolution: int | None
    weight: float
    family: str
    source: str
    where: str


def _number(text: str, where: str, column: str, kind: type, allow_zero: bool = False) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {column} must be a number, got {text!r}") from None
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
        raise DataError(f"{where}: {column} must be {'non-negative' if allow_zero else 'positive'}"
                        f" and finite, got {text!r}")
    return value


def read_rows(path: str | Path) -> list[Row]:
    """Every row of a latency CSV, checked (one error naming file:line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"latency file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            if len(set(columns)) != len(columns):
                raise DataError(f"{path}: a column name appears twice in the header")
            unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL))
            if unknown:
                raise DataError(f"{path}: unknown column(s) {', '.join(unknown)}; expected "
                                f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}")
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = []
            for line, raw in enumerate(reader, start=2):
                where = f"{path}:{line}"
                if None in raw:
                    raise DataError(f"{where}: more cells than the {len(columns)} columns")
                cell = {k.strip(): (v or "").strip() for k, v in raw.items()}
                if not cell["model"]:
                    raise DataError(f"{where}: empty model")
                rows.append(Row(
                    cell["model"], _number(cell["latency_ms"], where, "latency_ms", float),
                    _number(cell["resolution"], where, "resolution", int)
                    if cell.get("resolution") else None,
                    _number(cell["weight"], where, "weight", float, allow_zero=True)
                    if cell.get("weight") else 1.0,
                    cell.get("family") or dm.family_of(cell["model"]),
                    cell.get("source", ""), where))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV file: {exc}") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def candidate_for(row: Row, folder: Path) -> Candidate:
    """The network a row names (errors name the row's file:line)."""
    from explorer.candidate import from_spec, resolve

    try:
        if row.model.startswith("roadmap:"):
            from explorer.paper import roadmap_specs

            steps = dict(roadmap_specs())
            step = row.model.split(":", 1)[1]
            if step not in steps:
                raise DataError(f"unknown roadmap step {step!r}; steps: {', '.join(steps)}")
            spec = steps[step]
            if row.resolution and row.resolution != spec.resolution:
                spec = spec.replace(resolution=row.resolution)
            return from_spec(spec, row.model)
        ref = row.model
        if Path(ref).suffix in (".json", ".yaml", ".yml") and not Path(ref).is_file():
            ref = str(folder / ref)
        return resolve(ref, resolution=row.resolution)
    except ExplorerError as exc:
        raise DataError(f"{row.where}: {exc}") from None


def features_of(rows: list[Row], folder: Path, precision: str,
                cache_dir: str | Path | None, progress: bool, strict: bool
                ) -> tuple[list[tuple[Row, OpCost]], list[dict[str, str]]]:
    """Operator features of every row's network (cached); with ``strict`` the first bad
    row is an error, else it is listed under ``failed`` with its reason."""
    from tqdm.auto import tqdm

    done: list[tuple[Row, OpCost]] = []
    failed: list[dict[str, str]] = []
    memo: dict[tuple[str, int | None], OpCost] = {}
    for row in tqdm(rows, desc="operator features", unit="model", disable=not progress,
                    leave=False):
        try:
            key = (row.model, row.resolution)
            if key not in memo:
                memo[key] = opcost(candidate_for(row, folder), precision, cache_dir=cache_dir)
            done.append((row, memo[key]))
        except ExplorerError as exc:
            if strict:
                raise
            failed.append({"model": row.model, "where": row.where, "reason": str(exc)})
    return done, failed


def imported_rows(device: str, cache_dir: str | Path | None = None
                  ) -> tuple[list[Row], list[str]]:
    """The whole-network latencies imported for ``device`` with 'explorer latency import',
    as fit rows; a row imported by spec hash names no network to build and is listed."""
    from explorer import zoo
    from explorer.measure.device import imported
    from explorer.paper import roadmap_specs

    steps = {step for step, _ in roadmap_specs()}
    rows, skipped = [], []
    for row in imported(device, cache_dir):
        model, step = row["model"], row["model"].removeprefix("step_")
        ref = (model if model in zoo.list_models() else f"roadmap:{step}" if step in steps
               else None)
        if ref is None:
            skipped.append(f"{model} ({row['source']}): a spec hash, not a network to build")
            continue
        rows.append(Row(ref, float(row["latency_ms"]), row["resolution"], 1.0,
                        dm.family_of(ref), f"latency import --device {device}",
                        f"device {device}: {row['source']}"))
    return rows, skipped


def fit_profile(path: str | Path | None, name: str, precision: str = "fp16", device: str = "",
                cache_dir: str | Path | None = None, progress: bool = True,
                command: str = "", imported: str | None = None
                ) -> tuple[Profile, dict[str, Any]]:
    """Fit a profile on a latency CSV and/or the whole-network latencies imported for the
    device ``imported``; the report carries the held-out error figures."""
    from explorer import __version__

    check_name(name)
    if precision not in PRECISIONS:
        raise DataError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    rows = read_rows(path) if path else []
    extra, skipped = imported_rows(imported, cache_dir) if imported else ([], [])
    rows += extra
    source = " + ".join([*([Path(path).name] if path else []),
                         *([f"latency import --device {imported}"] if imported else [])])
    pairs, _ = features_of(rows, Path(path).parent if path else Path.cwd(), precision,
                           cache_dir, progress, strict=True)
    x = np.array([dm.network_features(cost) for _, cost in pairs])
    y = np.array([r.latency_ms for r, _ in pairs])
    w = np.array([r.weight for r, _ in pairs])
    if (w > 0).sum() < len(dm.PARAMETERS):
        raise DataError(f"{source}: too few rows to fit the {len(dm.PARAMETERS)} parameters "
                        f"of the device model: {(w > 0).sum()} rows with a positive weight")
    fit = dm.fit_parameters(x, y, w)
    loo = dm.held_out(x, y, w, [str(i) for i in range(len(y))])
    lofo = dm.held_out(x, y, w, [r.family for r, _ in pairs])
    kept = w > 0
    loo_err, lofo_err = dm.error_summary(loo[kept], y[kept]), dm.error_summary(lofo[kept],
                                                                                y[kept])
    report = {
        "name": name, "parameters": {k: round(v, 6) for k, v in fit.parameters.items()},
        "rows": int(kept.sum()),
        "families": sorted({r.family for r, _ in pairs}),
        "loo_median_abs_pct_error": loo_err["median_abs_pct_error"],
        "lofo_median_abs_pct_error": lofo_err["median_abs_pct_error"],
        "within_10pct": loo_err["within_10pct"], "within_20pct": loo_err["within_20pct"],
        "lofo_within_10pct": lofo_err["within_10pct"],
        "lofo_within_20pct": lofo_err["within_20pct"],
        "fit_median_abs_pct_error": dm.error_summary(fit.predicted[kept],
                                                     y[kept])["median_abs_pct_error"],
        "predictions": [{"model": r.model, "resolution": c.resolution, "family": r.family,
                         "weight": r.weight, "latency_ms": r.latency_ms,
                         "fit_ms": round(float(f), 4), "loo_ms": round(float(a), 4),
                         "lofo_ms": round(float(b), 4)}
                        for (r, c), f, a, b in zip(pairs, fit.predicted, loo, lofo, strict=True)],
        **({"imported": {"device": imported, "rows": len(extra), "skipped": skipped}}
           if imported else {}),
    }
    provenance = {
        "data": source, "command": command,
        "sources": sorted({r.source for r, _ in pairs if r.source}),
        **{k: report[k] for k in ("rows", "families", "fit_median_abs_pct_error",
                                  "loo_median_abs_pct_error", "lofo_median_abs_pct_error",
                                  "within_10pct", "within_20pct", "lofo_within_10pct",
                                  "lofo_within_20pct")},
    }
    profile = Profile(name, fit.parameters, device, precision, __version__, fit=provenance)
    return profile, report


def validate_profile(profile: Profile, path: str | Path, cache_dir: str | Path | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Kendall tau and median error of ``profile`` on a reference CSV, beside the tau of
    MACs and of (deployed) params on the same rows; rows that cannot be built are listed
    under ``failed`` and skipped."""
    rows = read_rows(path)
    pairs, failed = features_of(rows, Path(path).parent, profile.precision, cache_dir,
                                progress, strict=False)
    measured = [r.latency_ms for r, _ in pairs]
    predicted = [dm.predict_ms(profile.parameters, cost) for _, cost in pairs]
    totals = [cost.totals() for _, cost in pairs]
    macs = [t["opcost_macs"] for t in totals]
    params = [t["opcost_weight_bytes"] / PRECISIONS[profile.precision] for t in totals]
    errors = dm.error_summary(predicted, measured) if pairs else {}
    return {
        "profile": profile.name, "reference": str(path), "n": len(pairs),
        "kendall_tau": dm.kendall_tau(predicted, measured),
        "median_abs_pct_error": errors.get("median_abs_pct_error"),
        "within_10pct": errors.get("within_10pct"), "within_20pct": errors.get("within_20pct"),
        "macs_tau": dm.kendall_tau(macs, measured),
        "params_tau": dm.kendall_tau(params, measured),
        "rows": [{"model": r.model, "resolution": c.resolution, "latency_ms": r.latency_ms,
                  "predicted_ms": round(p, 4), "error_pct": round((p / r.latency_ms - 1) * 100, 1)}
                 for (r, c), p in zip(pairs, predicted, strict=True)],
        "failed": failed,
    }
