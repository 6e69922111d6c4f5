"""A cost model of a device explorer cannot drive (an iPhone's Core ML), fitted on published
or imported whole-network latencies.

Latency is a sum of physically named, smooth terms over the executed operators of the
deployed network (:mod:`explorer.measure.opcost`) plus a fixed per-inference cost::

    t = fixed + sum over ops of ( MACs / throughput[op group]
                                  + weight bytes / weight bandwidth
                                  + activation bytes / activation bandwidth
                                  + data-movement bytes / movement bandwidth
                                  + dispatch cost per operator )

Every parameter is a non-negative time per unit (ms per GMAC, ms per MB, ms per op), so
the model is linear in them: a fit is a bounded, robust (soft-L1) least squares on
*relative* error, weighted per row. There are no thresholds, so no parameter can land by
chance on one layer's size. A :class:`Profile` holds the parameters with the fit's
provenance and its own leave-one-out and leave-one-family-out errors.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from explorer.errors import DataError
from explorer.measure.opcost import Op

if TYPE_CHECKING:
    from explorer.measure.opcost import OpCost

_MOVE = {"reshape", "softmax", "norm", "other"}
_SIZE = re.compile(r"^(?:[a-z]{0,3}\d+|xxs|xs|s|m|l|xl|t|b)$")  # s0, xs, l, 100, b3, m0, 9


@dataclass(frozen=True)
class Term:
    """One parameter: its name (with unit), what it means, and its per-op feature."""

    name: str
    meaning: str
    feature: Callable[[Op], float]


#: The parameters, in profile order. ``fixed_ms`` is per inference, the rest per operator.
TERMS: tuple[Term, ...] = (
    Term("conv_ms_per_gmac", "dense and grouped convolution compute",
         lambda op: op.macs / 1e9 if op.cls in ("conv", "gconv") else 0.0),
    Term("dwconv_ms_per_gmac", "depthwise convolution compute",
         lambda op: op.macs / 1e9 if op.cls == "dwconv" else 0.0),
    Term("matmul_ms_per_gmac", "linear layers and activation matmuls (attention)",
         lambda op: op.macs / 1e9 if op.cls in ("linear", "matmul") else 0.0),
    Term("weight_ms_per_mb", "streaming weights from memory (1 / weight bandwidth)",
         lambda op: op.weight_bytes / 1e6),
    Term("act_ms_per_mb", "reading and writing activations (1 / activation bandwidth)",
         lambda op: op.act_bytes / 1e6),
    Term("move_ms_per_mb", "extra cost of data movement: reshapes, transposes, softmax, "
         "unfused normalisation (attention-style graphs)",
         lambda op: op.act_bytes / 1e6 if op.cls in _MOVE else 0.0),
    Term("op_ms", "dispatch cost per executed operator", lambda op: 1.0),
)
FIXED = "fixed_ms"
PARAMETERS: tuple[str, ...] = (FIXED, *(t.name for t in TERMS))


def op_features(op: Op) -> np.ndarray:
    """The per-op feature vector (one entry per :data:`TERMS` entry)."""
    if not op.executed:
        return np.zeros(len(TERMS))
    return np.array([t.feature(op) for t in TERMS], dtype=float)


def network_features(cost: OpCost) -> np.ndarray:
    """Feature row of a whole network: 1 (the fixed cost) then the per-op sums."""
    total = np.zeros(len(TERMS))
    for op in cost.ops:
        total += op_features(op)
    return np.concatenate([[1.0], total])


def predict_ms(parameters: dict[str, float], cost: OpCost) -> float:
    theta = np.array([parameters.get(p, 0.0) for p in PARAMETERS])
    return float(network_features(cost) @ theta)


def op_times_ms(parameters: dict[str, float], cost: OpCost) -> list[float]:
    """Predicted time of each operator (0 for fused or constant-folded ones)."""
    theta = np.array([parameters.get(t.name, 0.0) for t in TERMS])
    return [float(op_features(op) @ theta) for op in cost.ops]


@dataclass(frozen=True)
class Fit:
    """Fitted parameters and the residuals of the rows they were fitted on."""

    parameters: dict[str, float]
    predicted: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)  # in feature-column order


def fit_parameters(features: np.ndarray, latency_ms: np.ndarray,
                   weights: np.ndarray | None = None, f_scale: float = 0.1) -> Fit:
    """Non-negative, weighted, robust least squares on relative error.

    ``f_scale`` is the relative error (10%) beyond which a row's pull grows only linearly,
    so one conversion outlier cannot drag the fit."""
    from scipy.optimize import least_squares, nnls

    n, k = features.shape
    if n < k:
        raise DataError(f"too few rows to fit the {k} parameters of the device model: "
                        f"{n} given, at least {k} needed (more is better)")
    y = np.asarray(latency_ms, dtype=float)
    w = np.sqrt(np.ones(n) if weights is None else np.asarray(weights, dtype=float))
    scale = features.max(axis=0)
    scale[scale == 0] = 1.0
    a = features / scale  # columns of comparable size: a well-conditioned problem
    rel = (a / y[:, None]) * w[:, None]
    start, _ = nnls(rel, w, maxiter=50 * k)

    def residuals(theta: np.ndarray) -> np.ndarray:
        return (a @ theta - y) / y * w

    result = least_squares(residuals, start + 1e-9, bounds=(0.0, np.inf), loss="soft_l1",
                           f_scale=f_scale, x_scale="jac", max_nfev=2000)
    theta = result.x / scale
    theta[theta < 1e-9] = 0.0  # a parameter at its bound is zero
    names = PARAMETERS if k == len(PARAMETERS) else tuple(f"p{i}" for i in range(k))
    return Fit(dict(zip(names, (float(v) for v in theta), strict=True)), features @ theta, theta)


def error_summary(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """Median absolute % error and the shares within +-10% and +-20% (over the rows that
    have a prediction)."""
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    err = (np.abs(p - m) / m)[~np.isnan(p)]
    if not len(err):
        return {"median_abs_pct_error": float("nan"), "within_10pct": float("nan"),
                "within_20pct": float("nan"), "max_abs_pct_error": float("nan")}
    return {"median_abs_pct_error": round(float(np.median(err)) * 100, 2),
            "within_10pct": round(float(np.mean(err <= 0.10)), 3),
            "within_20pct": round(float(np.mean(err <= 0.20)), 3),
            "max_abs_pct_error": round(float(err.max()) * 100, 2)}


def held_out(features: np.ndarray, latency_ms: np.ndarray, weights: np.ndarray,
             groups: Sequence[str]) -> np.ndarray:
    """Each row predicted by a fit that never saw its group (leave-one-group-out); NaN
    where the other groups hold too few rows to fit."""
    groups = np.asarray(groups)
    out = np.full(len(latency_ms), np.nan)
    for g in dict.fromkeys(groups):
        test = groups == g
        if (weights[~test] > 0).sum() < features.shape[1]:
            continue
        fit = fit_parameters(features[~test], latency_ms[~test], weights[~test])
        out[test] = features[test] @ fit.theta
    return out


def family_of(model: str) -> str:
    """A model's family for leave-one-family-out: its name without size suffixes
    (``mobileone_s2`` -> ``mobileone``, ``efficientformerv2_l`` -> ``efficientformerv2``,
    ``repvit_m0_9`` -> ``repvit``, ``roadmap:3a`` -> ``roadmap``)."""
    base = model.replace("\\", "/").rsplit("/", 1)[-1].split(":", 1)[0]
    base = base.rsplit(".", 1)[0] if base.endswith((".yaml", ".yml", ".json")) else base
    while "_" in base:
        head, _, tail = base.rpartition("_")
        if not _SIZE.match(tail):
            break
        base = head
    return base


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    from scipy.stats import kendalltau

    if len(a) < 3:
        return None
    tau = kendalltau(a, b).statistic
    return None if tau is None or math.isnan(tau) else round(float(tau), 3)
