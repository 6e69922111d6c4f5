"""explorer bench device: how well a device profile speaks for the phone, out of sample.

Checks the issue's targets for a profile fitted without any RepViT row: the fit set's
leave-one-out and leave-one-family-out errors (with and without EfficientNet-B3, which a
fit can hinge on); the paper's roadmap (Kendall tau over the 12 main-path rows beside
MACs and params, the direction of every on-path step, M0.9 / step 0); the RepViT family
(each within +-15% of the paper); the paper's SE-placement table (Table 7);
and the cost of one prediction once features are cached.

examples:
  explorer bench device                              # iphone12 -> results/bench/device.json
  explorer bench device --profile mine --latencies my_phone.csv --out /tmp/mine.json"""
from __future__ import annotations

import itertools
import os
import statistics
import time
from pathlib import Path
from typing import Any

from explorer.bench import environment
from explorer.paper import FAMILY_LATENCY_MS, PAPER_STEPS, SE_TABLE

#: the RepViT family of the paper's Tables 1-2
FAMILY_MS = {k: v for k, v in FAMILY_LATENCY_MS.items() if k.startswith("repvit")}
#: on-path steps whose direction is checked (step 1 and 10 change no architecture)
PATH = ("0", "2", "3a", "3b", "4", "5", "6", "7", "8", "9")
TARGETS = {"roadmap_tau": 0.5, "ratio_tolerance": 0.10, "family_tolerance": 0.15,
           "lofo_median_abs_pct_error": 10.0}


def _versus(predicted: float, paper: float) -> dict[str, float]:
    return {"paper_ms": paper, "predicted_ms": round(predicted, 4),
            "error_pct": round((predicted / paper - 1) * 100, 1)}


def _fit_errors(path: str, cache_dir: str | None, drop: set[str], progress: bool
                ) -> dict[str, Any]:
    import numpy as np

    from explorer.measure import devicemodel as dm
    from explorer.measure.devicefit import features_of, read_rows

    rows = [r for r in read_rows(path) if r.model not in drop]
    pairs, _ = features_of(rows, Path(path).parent, "fp16", cache_dir, progress, strict=True)
    x = np.array([dm.network_features(c) for _, c in pairs])
    y = np.array([r.latency_ms for r, _ in pairs])
    w = np.array([r.weight for r, _ in pairs])
    loo = dm.held_out(x, y, w, [str(i) for i in range(len(y))])
    lofo = dm.held_out(x, y, w, [r.family for r, _ in pairs])
    return {"rows": len(y), "dropped": sorted(drop),
            "loo": dm.error_summary(loo, y), "lofo": dm.error_summary(lofo, y)}


def _shown(path: str | Path) -> str:
    """A shipped profile's path inside the package (the JSON is committed, and an absolute
    path names one checkout); a user's profile as given."""
    package = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(package.parent))
    except ValueError:
        return str(path)


def run_bench(profile_ref: str = "iphone12", latencies: str | None = None,
              cache_dir: str | None = None, progress: bool = True) -> dict[str, Any]:
    import numpy as np

    from explorer import edits, zoo
    from explorer.candidate import from_spec
    from explorer.measure import devicemodel as dm
    from explorer.measure.backends.model import ModelBackend
    from explorer.measure.opcost import opcost
    from explorer.measure.profiles import load, shipped_dir
    from explorer.measure.timing import Protocol
    from explorer.paper import step_specs

    load_before = os.getloadavg()
    profile = load(profile_ref, cache_dir)
    fit_csv = latencies or str(shipped_dir() / "iphone12_fit.csv")

    def predict(spec: Any) -> tuple[float, dict[str, Any]]:
        cost = opcost(from_spec(spec), profile.precision, cache_dir=cache_dir)
        return dm.predict_ms(profile.parameters, cost), cost.totals()

    roadmap = []
    for step, spec in step_specs(PAPER_STEPS):
        ms, totals = predict(spec)
        roadmap.append({"step": step.id, "paper_ms": step.paper_latency_ms,
                        "predicted_ms": round(ms, 4), "macs": totals["opcost_macs"],
                        "weight_bytes": totals["opcost_weight_bytes"]})
    paper = [r["paper_ms"] for r in roadmap]
    by_step = {r["step"]: r for r in roadmap}
    directions = []
    for a, b in itertools.pairwise(PATH):
        pred = np.sign(by_step[b]["predicted_ms"] - by_step[a]["predicted_ms"])
        ref = np.sign(by_step[b]["paper_ms"] - by_step[a]["paper_ms"])
        directions.append({"from": a, "to": b, "right": bool(pred == ref)})
    ratio = by_step["9"]["predicted_ms"] / by_step["0"]["predicted_ms"]
    paper_ratio = by_step["9"]["paper_ms"] / by_step["0"]["paper_ms"]

    family = {}
    for name, ms in FAMILY_MS.items():
        pred, _ = predict(zoo.get_spec(name))
        family[name] = _versus(pred, ms)
    se_rows = []
    for row in SE_TABLE:
        pred, _ = predict(edits.apply(zoo.get_spec(row.model), [row.edit]))
        se_rows.append({"model": row.model, "edit": row.edit,
                        **_versus(pred, row.paper_latency_ms)})

    backend = ModelBackend(profile_ref)
    cands = [from_spec(zoo.get_spec(n)) for n in FAMILY_MS]
    costs = []
    for _ in range(5):
        for cand in cands:
            t0 = time.perf_counter()
            backend.latency(cand, 1, Protocol(), Path(cache_dir) if cache_dir else None)
            costs.append((time.perf_counter() - t0) * 1e3)

    fit_all = _fit_errors(fit_csv, cache_dir, set(), progress)
    fit_no_b3 = _fit_errors(fit_csv, cache_dir, {"efficientnet_b3"}, progress)
    tau = dm.kendall_tau([r["predicted_ms"] for r in roadmap], paper)
    fam_ok = all(abs(f["error_pct"]) <= 100 * TARGETS["family_tolerance"]
                 for f in family.values())
    return {
        "profile": profile.name, "profile_file": _shown(profile.path),
        "fit_csv": Path(fit_csv).name,
        "parameters": profile.parameters,
        "roadmap": roadmap,
        "roadmap_kendall_tau": tau,
        "roadmap_macs_tau": dm.kendall_tau([r["macs"] for r in roadmap], paper),
        "roadmap_params_tau": dm.kendall_tau([r["weight_bytes"] for r in roadmap], paper),
        "directions": directions,
        "directions_right": sum(d["right"] for d in directions),
        "m0_9_over_step0": round(ratio, 3), "paper_m0_9_over_step0": round(paper_ratio, 3),
        "family": family, "se_table": se_rows,
        "fit_set": fit_all, "fit_set_without_efficientnet_b3": fit_no_b3,
        "prediction_ms_cached": {"median": round(statistics.median(costs), 3),
                                 "max": round(max(costs), 3), "n": len(costs)},
        "targets": {
            **TARGETS,
            "roadmap_tau_met": tau is not None and tau >= TARGETS["roadmap_tau"],
            "directions_met": all(d["right"] for d in directions),
            "ratio_met": abs(ratio / paper_ratio - 1) <= TARGETS["ratio_tolerance"],
            "family_met": fam_ok,
            "lofo_met": fit_all["lofo"]["median_abs_pct_error"]
            <= TARGETS["lofo_median_abs_pct_error"],
        },
        **environment(load_before),
    }
