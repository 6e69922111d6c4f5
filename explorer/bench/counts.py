"""explorer bench counts: analytic params, MACs and proxy features against fvcore/torch.

Every zoo spec and ``--samples`` random specs of each shipped space, at their own
resolution: the arithmetic of :mod:`explorer.measure.analytic` must equal, exactly, the
counts of the built networks (torch's parameter count, fvcore's MACs of the training and
the deployed form, fvcore's list of uncounted operators, the traced proxy features).
Reported: mismatches (target none) and the seconds each way per spec.
"""
from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from explorer.bench import environment

if TYPE_CHECKING:
    from explorer.spec import NetworkSpec

FIELDS = ("params", "params_train", "macs", "macs_train", "ops", "features")


def analytic_row(spec: NetworkSpec) -> dict[str, Any]:
    """Every count of ``spec`` by arithmetic (nothing built)."""
    from explorer.measure import analytic

    c = analytic.counts(spec)
    return {"params": c.params, "params_train": c.params_train, "macs": c.macs,
            "macs_train": c.macs_train, "ops": sorted(c.ops),
            "features": analytic.features(spec)}


def traced_row(spec: NetworkSpec) -> dict[str, Any]:
    """The same counts the reference way: built, fused, counted by torch and fvcore."""
    from explorer.candidate import from_spec
    from explorer.measure.complexity import count_macs, count_params
    from explorer.measure.proxies.features import architecture_features

    cand = from_spec(spec)
    deployed = count_macs(cand.deployed, spec.resolution, spec.in_chans)
    train = count_macs(cand.model, spec.resolution, spec.in_chans)
    return {"params": count_params(cand.deployed), "params_train": count_params(cand.model),
            "macs": deployed.macs, "macs_train": train.macs,
            "ops": list(deployed.uncounted_ops),
            "features": architecture_features(cand, macs=deployed.macs)}


def specs_to_check(samples: int, seed: int) -> list[NetworkSpec]:
    """The zoo, then ``samples`` seeded random specs of each shipped space."""
    from explorer import zoo
    from explorer.measure.lut import default_spaces
    from explorer.search_space import load_space

    specs = [zoo.get_spec(name) for name in zoo.list_models()]
    rng = random.Random(seed)
    for path in default_spaces():
        space = load_space(path)
        specs += [space.sample(rng).replace(name=f"{path.stem}-{i}") for i in range(samples)]
    return specs


def run_bench(samples: int = 200, seed: int = 0, progress: bool = True,
              checkpoint: Callable[[dict[str, Any]], None] | None = None,
              every: int = 25) -> dict[str, Any]:
    """Check every spec; ``checkpoint`` receives the report so far (``checked`` < ``specs``)
    every ``every`` specs, so a run cut short still leaves its evidence."""
    from tqdm import tqdm

    from explorer import zoo

    load_before = os.getloadavg()
    mismatches, analytic_s, traced_s = [], [], []
    specs = specs_to_check(samples, seed)

    def report() -> dict[str, Any]:
        return {"specs": len(specs), "checked": len(traced_s),
                "zoo_specs": len(zoo.list_models()), "samples_per_space": samples,
                "seed": seed, "fields": list(FIELDS), "mismatches": mismatches,
                "exact": not mismatches and len(traced_s) == len(specs),
                "median_seconds_analytic": statistics.median(analytic_s),
                "median_seconds_traced": statistics.median(traced_s),
                "speedup": statistics.median(traced_s) / statistics.median(analytic_s),
                **environment(load_before)}

    for spec in tqdm(specs, desc="counts", unit="spec", disable=not progress):
        t0 = time.perf_counter()
        mine = analytic_row(spec)
        t1 = time.perf_counter()
        ref = traced_row(spec)
        t2 = time.perf_counter()
        analytic_s.append(t1 - t0)
        traced_s.append(t2 - t1)
        diff = {k: {"analytic": mine[k], "traced": ref[k]} for k in FIELDS if mine[k] != ref[k]}
        if diff:
            mismatches.append({"name": spec.name, "spec_hash": spec.hash, **diff})
        if checkpoint is not None and len(traced_s) % every == 0 < len(specs) - len(traced_s):
            checkpoint(report())
    return report()
