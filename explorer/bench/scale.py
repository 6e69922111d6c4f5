"""explorer bench scale: searches of a thousand trials on the latency predictor.

1. A constrained TPE study of ``--trials`` (default 1,000) trials on a space (default
   ``repvit``) with ``--backend lut`` and the default proxy, stored in SQLite as the CLI
   stores it, the budget the space's base network's predicted latency. The table first
   gets every unit of the space (timed apart: "table already built"). Reported: wall time
   (target <= 5 minutes), trials per minute, median seconds per metric, and where the
   rest goes -- inside trials outside the metrics (Optuna's sampling in ``suggest``,
   storage writes) and between trials -- per block of 100 trials, so growth shows.
2. Optuna's own sampling cost: seconds to sample one trial (ask + every dimension) from
   in-memory copies of that study's first 100 / 500 / 1,000 trials, TPE vs random.
3. Multi-objective (proxy up, latency down): the normalised hypervolume after
   ``--mo-trials`` (default 500) trials of the default sampler (TPE) and of random search
   at three seeds; target: TPE's median beats random's.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from explorer.bench import environment

TARGET_MINUTES = 5.0
SAMPLING_SIZES = (100, 500, 1000)
SAMPLING_REPEATS = 5


def fill_table(space: Any, cache_dir: str, threads: int = 1) -> dict[str, Any]:
    """Measure every unit of ``space`` the ort table lacks (one network per unit)."""
    from explorer.measure.lut import load_table
    from explorer.measure.spaceunits import space_units

    start = time.perf_counter()
    table = load_table("ort", threads, cache_dir)
    found = space_units(space).found
    added = sum(table.measure(spec, save=False) for _, spec in found.values())
    table.save()
    return {"space_units": len(found), "measured": added,
            "seconds": round(time.perf_counter() - start, 1)}


def trial_costs(study: Any, elapsed: float) -> dict[str, Any]:
    """Per 100-trial block: median seconds of a trial, of its metrics, and of the rest of
    the trial (sampling inside ``suggest``, storage writes); the time between trials."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    rows = []
    for t in done:
        total = (t.datetime_complete - t.datetime_start).total_seconds()
        metrics = sum(v for k, v in t.user_attrs.items() if k.startswith("seconds_"))
        rows.append((t.number, total, metrics))
    blocks = {}
    for lo in range(0, len(rows), 100):
        block = rows[lo:lo + 100]
        blocks[f"{lo}-{lo + len(block) - 1}"] = {
            "trial_s": statistics.median(r[1] for r in block),
            "metrics_s": statistics.median(r[2] for r in block),
            "outside_metrics_s": statistics.median(r[1] - r[2] for r in block)}
    inside = sum(r[1] for r in rows)
    return {"per_100_trials": blocks, "seconds_inside_trials": round(inside, 3),
            "seconds_in_metrics": round(sum(r[2] for r in rows), 3),
            "seconds_between_trials": round(elapsed - inside, 3)}


def sampling_cost(study: Any, space: Any, seed: int) -> dict[str, dict[str, float]]:
    """Median seconds to sample one trial given the study's first N trials (in memory,
    so storage costs nothing), for TPE as the search configures it and for random."""
    import optuna
    from optuna.trial import TrialState

    from explorer.search import make_sampler

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    out: dict[str, dict[str, float]] = {}
    for kind in ("tpe", "random"):
        out[kind] = {}
        for n in (n for n in SAMPLING_SIZES if n <= len(done)):
            memory = optuna.create_study(directions=study.directions,
                                         sampler=make_sampler(kind, seed))
            memory.add_trials(done[:n])
            seconds = []
            for _ in range(SAMPLING_REPEATS):
                start = time.perf_counter()
                trial = memory.ask()
                space.suggest(trial)
                seconds.append(time.perf_counter() - start)
                memory.tell(trial, state=TrialState.FAIL)  # not an observation
            out[kind][str(n)] = statistics.median(seconds)
    return out


def _study(space: Any, budget_ms: float | None, trials: int, objective: str, sampler: str,
           seed: int, storage: str, options: dict[str, Any]) -> tuple[Any, float]:
    from explorer.search import run_search

    start = time.perf_counter()
    result = run_search(space, budget_ms, trials, objective, sampler=sampler, seed=seed,
                        storage=storage, study=f"scale-{objective}-{sampler}-s{seed}",
                        backend="lut", progress=False, metrics=("params", "latency", "proxy"),
                        **options)
    return result, time.perf_counter() - start


def mo_hypervolumes(space: Any, trials: int, seeds: tuple[int, ...], storage: str,
                    options: dict[str, Any]) -> dict[str, Any]:
    """Hypervolume of (proxy, latency) after ``trials`` trials, TPE vs random per seed:
    both normalised to the range the two runs of a seed saw together (reference point:
    worst proxy, slowest latency)."""
    from explorer.bench.search import hypervolume

    per_seed = {}
    for seed in seeds:
        points = {}
        for sampler in ("tpe", "random"):
            result, _ = _study(space, None, trials, "multi", sampler, seed, storage, options)
            df = result.trials_frame()
            df = df[df.state == "COMPLETE"]
            points[sampler] = list(zip(df.proxy.astype(float), df.latency_ms.astype(float),
                                       strict=True))
        every = [p for pts in points.values() for p in pts]
        proxy_range = (min(p for p, _ in every), max(p for p, _ in every))
        slowest = max(lat for _, lat in every)
        per_seed[str(seed)] = {s: round(hypervolume(pts, proxy_range, slowest), 4)
                               for s, pts in points.items()}
    median = {s: statistics.median(v[s] for v in per_seed.values()) for s in ("tpe", "random")}
    return {"trials": trials, "per_seed": per_seed, "median": median,
            "tpe_beats_random": median["tpe"] > median["random"]}


def run_bench(space_path: str = "repvit", trials: int = 1000, mo_trials: int = 500,
              seed: int = 0, mo_seeds: tuple[int, ...] = (0, 1, 2),
              cache_dir: str | None = None) -> dict[str, Any]:
    from explorer.candidate import from_spec
    from explorer.measure import measure
    from explorer.measure.cache import default_cache_dir
    from explorer.search_space import load_space

    load_before = os.getloadavg()
    cache_dir = str(cache_dir or default_cache_dir())
    options = {"cache_dir": cache_dir}
    space = load_space(space_path)
    table = fill_table(space, cache_dir)
    budget_ms = float(measure(from_spec(space.base), ["latency"], backend="lut",
                              **options)["latency_ms"])
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        storage = str(Path(tmp) / "scale.db")
        result, elapsed = _study(space, budget_ms, trials, "proxy", "tpe", seed, storage,
                                 options)
        df = result.trials_frame()
        done = df[df.state == "COMPLETE"]
        seconds = {c[len("seconds_"):]: float(done[c].dropna().median())
                   for c in done.columns if c.startswith("seconds_") and done[c].notna().any()}
        constrained = {
            "trials": len(done), "elapsed_s": round(elapsed, 1),
            "minutes": round(elapsed / 60, 2), "target_minutes": TARGET_MINUTES,
            "target_met": elapsed / 60 <= TARGET_MINUTES,
            "trials_per_minute": round(60 * result.new_trials / elapsed, 1),
            "feasible": int(done.feasible.astype(bool).sum()),
            "distinct_specs": int(done.spec_hash.nunique()),
            "median_seconds_per_metric": seconds,
            **trial_costs(result.study, elapsed),
            "optuna_sampling_seconds_per_trial": sampling_cost(result.study, space, seed)}
        mo = mo_hypervolumes(space, mo_trials, mo_seeds, storage, options)
    return {"space": space_path, "space_size": space.size, "backend": "lut",
            "budget_ms": budget_ms, "budget_rule": "the space's base network on lut",
            "table_fill": table, "constrained_tpe": constrained, "multi_objective": mo,
            **environment(load_before)}
