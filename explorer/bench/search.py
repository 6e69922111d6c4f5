"""explorer bench search: constrained TPE vs random search, and search throughput.

At equal trial budgets and seeds, on one space and one latency budget (default: the
space's base network's latency, i.e. "beat RepViT-M0.9 at its own speed"), both samplers
run the same measured objective; reported per sampler are the best feasible proxy and
the hypervolume of (proxy, latency) over the feasible trials -- proxy normalised to the
range both runs saw, latency to the budget, reference point (worst proxy, budget), so
1.0 would be an ideal point at zero latency with the best proxy seen. Throughput is
trials per minute with the latency predictor (backend lut, the default proxy) and with
measured latency (ort), whose runs are shorter (a measured trial costs seconds).
The ort run ignores cached measurements (each trial pays full price); the predictor
runs use the cache like a real search (its table fills on misses, counted in the JSON,
so use a seed the cache has not seen). The predictor runs measure --metrics (default
params, latency, proxy); the ort run measures every default metric, so its median
seconds per metric show what each costs (a spec's MACs are arithmetic on the spec).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.bench import environment

if TYPE_CHECKING:
    from explorer.budget import Budget

TARGET_TRIALS, TARGET_MINUTES = 100, 10.0


def hypervolume(points: list[tuple[float, float]], proxy_range: tuple[float, float],
                budget_ms: float) -> float:
    """Normalised 2-D hypervolume of feasible (proxy, latency) points (see module doc)."""
    import numpy as np
    from optuna._hypervolume import compute_hypervolume  # Optuna's exact WFG/2-D routine

    low, high = proxy_range
    span = (high - low) or 1.0
    losses = np.array([[1.0 - (p - low) / span, lat / budget_ms] for p, lat in points
                       if lat <= budget_ms])
    if losses.size == 0:
        return 0.0
    return float(compute_hypervolume(losses, np.array([1.0, 1.0])))


def _run(space: Any, budget: Budget, trials: int, sampler: str, backend: str, seed: int,
         storage: str, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """One study under ``budget`` (a reference's is stored with its origin, as by
    ``search --budget-ref``)."""
    from explorer.search import run_search

    start = time.perf_counter()
    result = run_search(space, None if budget.ref else budget.ms, trials,
                        budget_ref=budget if budget.ref else None, sampler=sampler, seed=seed,
                        storage=storage, study=f"bench-{sampler}-{backend}-s{seed}",
                        backend=backend, **options)
    elapsed = time.perf_counter() - start
    df = result.trials_frame()
    done = df[df.state == "COMPLETE"]
    seconds = {c[len("seconds_"):]: float(done[c].dropna().median())
               for c in done.columns if c.startswith("seconds_") and done[c].notna().any()}
    best = result.best(1)
    row = {"sampler": sampler, "backend": backend, "seed": seed, "trials": len(df),
           "proxy_name": next(iter(done.proxy_name.dropna()), None),
           "new_trials": result.new_trials, "elapsed_s": round(elapsed, 1),
           "trials_per_minute": round(60 * result.new_trials / elapsed, 2) if elapsed else None,
           "feasible": int(done.feasible.astype(bool).sum()),
           "distinct_specs": int(done.spec_hash.nunique()),
           "best_feasible_proxy": None if best.empty else float(best.proxy.iloc[0]),
           "best_feasible_latency_ms": None if best.empty else float(best.latency_ms.iloc[0]),
           "metrics": sorted(seconds),
           "lut_units_measured_on_miss": sum(t.user_attrs.get("lut_measured_units") or 0
                                             for t in result.study.trials),
           "median_seconds_per_metric": seconds}
    return result, row


def _budget(space: Any, backend: str, budget_ms: float | None, budget_ref: str | None,
            options: dict[str, Any]) -> tuple[Budget, str]:
    """(budget, where it came from) on ``backend``: ``budget_ms``, FACTOR x the
    reference's latency there, or the space's base network's latency there."""
    from explorer.budget import Budget, resolve_budget
    from explorer.candidate import from_spec
    from explorer.measure import measure

    if budget_ref is not None:
        budget = resolve_budget(budget_ref, backend=backend, **options)
        return budget, f"{budget.describe()} on {backend}"
    if budget_ms is not None:
        return Budget(budget_ms), "given (--budget-ms)"
    return (Budget(float(measure(from_spec(space.base), ["latency"], backend=backend,
                                 **options)["latency_ms"])),
            "latency of the space's base network on the same backend")


def run_bench(space_path: str, trials: int, ort_trials: int, seed: int,
              budget_ms: float | None, options: dict[str, Any],
              lut_metrics: tuple[str, ...] = ("params", "latency", "proxy"),
              storage: str | None = None, budget_ref: str | None = None) -> dict[str, Any]:
    """Both samplers on the predictor, then the measured-latency run; ``storage`` keeps
    the studies (default: a temporary SQLite file). ``budget_ref`` (``MODEL[:FACTOR]``)
    sets both runs' budgets, each measured on its own backend before any study starts;
    ``budget_ms`` sets the predictor runs' budget only."""
    from explorer.search_space import load_space

    space = load_space(space_path)
    budget, budget_rule = _budget(space, "lut", budget_ms, budget_ref, options)
    ort_budget, ort_rule = _budget(space, "ort", None, budget_ref, options)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        storage = storage or str(Path(tmp) / "bench.db")
        runs = {s: _run(space, budget, trials, s, "lut", seed, storage,
                        {**options, "metrics": lut_metrics}) for s in ("tpe", "random")}
        points = {s: [(float(p), float(lat)) for p, lat in
                      zip(r.best(len(r.study.trials)).proxy,
                          r.best(len(r.study.trials)).latency_ms, strict=True)]
                  for s, (r, _) in runs.items()}
        proxies = [p for pts in points.values() for p, _ in pts]
        prange = (min(proxies), max(proxies)) if proxies else (0.0, 1.0)
        samplers = {}
        for s, (_, row) in runs.items():
            row["hypervolume"] = round(hypervolume(points[s], prange, budget.ms), 4)
            samplers[s] = row
        # no cache: every ort trial pays what a measured trial really costs
        _, ort = _run(space, ort_budget, ort_trials, "tpe", "ort", seed, storage,
                      {**options, "no_cache": True})
        ort["budget_ms"], ort["budget_rule"] = ort_budget.ms, ort_rule
    tpm = samplers["tpe"]["trials_per_minute"] or 0.0
    return {
        "space": space_path, "space_size": space.size, "budget_ms": budget.ms,
        "budget_rule": budget_rule,
        "proxy": samplers["tpe"].get("proxy_name", options.get("proxy", "default")),
        "trials_per_sampler": trials, "seed": seed, "samplers": samplers,
        "tpe_minus_random": {
            "hypervolume": round(samplers["tpe"]["hypervolume"]
                                 - samplers["random"]["hypervolume"], 4),
            "best_feasible_proxy": (None if None in (samplers["tpe"]["best_feasible_proxy"],
                                                     samplers["random"]["best_feasible_proxy"])
                                    else samplers["tpe"]["best_feasible_proxy"]
                                    - samplers["random"]["best_feasible_proxy"])},
        "measured_latency_run": ort,
        "throughput": {"lut_trials_per_minute": tpm,
                       "ort_trials_per_minute": ort["trials_per_minute"],
                       "target": f">= {TARGET_TRIALS} trials in < {TARGET_MINUTES:g} min "
                                 f"with backend lut and the default proxy",
                       "minutes_for_100_lut_trials": round(TARGET_TRIALS / tpm, 2)
                       if tpm else None,
                       "target_met": tpm * TARGET_MINUTES >= TARGET_TRIALS},
        **environment(load_before),
    }
