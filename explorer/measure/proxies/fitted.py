"""The fitted default proxy: ridge regression from architecture features to top-1.

Fitted on published ImageNet top-1 of timm mobile models (``explorer/data/
proxy_fit_table.csv``, features computed by :mod:`.features`); coefficients ship as
``explorer/data/proxy_fitted.json`` and are re-made by ``explorer proxy fit``. The
score is a predicted top-1 (%), so higher is better and the number reads naturally.

Honesty rule: a model that is itself in the fit table is never scored with
coefficients that saw it. Its score comes from a refit without it (leave-one-out), so
``explorer proxy validate`` on the fit table reports out-of-sample numbers, and
:func:`cross_validate` gives leave-one-out and leave-family-out figures.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.errors import DataError
from explorer.measure.proxy import Proxy

if TYPE_CHECKING:
    import pandas as pd

    from explorer.candidate import Candidate

FIT_TABLE = "proxy_fit_table.csv"
COEFFICIENTS = "proxy_fitted.json"

#: The shipped choice, made by leave-family-out Kendall tau on the dev table (every subset
#: of the eight features of :mod:`.features`, alpha 1/5/20): MACs, depth and mean width.
#: Re-made by ``explorer proxy fit --select`` (:mod:`.selection`), which also reports the
#: selection-corrected tau; its output is ``results/proxy_select.md``.
DEFAULT_FEATURES = ("log_macs", "log_depth", "log_width")
DEFAULT_ALPHA = 5.0


#: Two networks are the same architecture (twins: a re-implementation, a re-trained or
#: re-named copy) when their resolution-independent features agree this closely: size,
#: depth, classifier width, depthwise share and activation memory per input pixel. Names
#: cannot tell (``tf_mixnet_l`` is ``mixnet_l``); 7% covers torchvision's re-rounded
#: RegNets, while different designs of equal size differ in depth or activations.
TWIN_TOLERANCE = {"log_params": 0.07, "log_depth": 0.05, "log_head": 0.07, "dw_frac": 0.02,
                  "log_act_per_pixel": 0.07}


def twins(row: dict[str, float], table: pd.DataFrame) -> list[str]:
    """The models of ``table`` with the architecture of ``row`` (see TWIN_TOLERANCE)."""
    def per_pixel(t: Any) -> Any:
        return t["log_act"] - 2 * t["log_res"]

    same = np.ones(len(table), bool)
    for name, tol in TWIN_TOLERANCE.items():
        theirs = per_pixel(table) if name == "log_act_per_pixel" else table[name]
        mine = per_pixel(row) if name == "log_act_per_pixel" else row[name]
        same &= (theirs - mine).abs().to_numpy() <= tol
    return list(table["model"][same])


@dataclass(frozen=True)
class RidgeModel:
    """Standardised ridge regression; ``predict`` maps a feature dict to top-1 (%)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    alpha: float
    fitted_on: tuple[str, ...]

    def predict(self, row: dict[str, float]) -> float:
        x = (np.array([row[f] for f in self.features]) - self.mean) / self.scale
        return float(x @ np.array(self.coef) + self.intercept)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"


def ridge(x: np.ndarray, y: np.ndarray,
          alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardised ridge on arrays: (mean, scale, coef, intercept). The numeric core of
    :func:`fit`, kept on plain arrays so the feature-subset search can call it ~10^5 times."""
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(x.shape[1]), z.T @ (y - y.mean()))
    return mean, scale, coef, float(y.mean())


def group_out_predictions(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                          alpha: float) -> np.ndarray:
    """Every row predicted by a ridge fitted without the rows of its group."""
    out = np.empty(len(y))
    for g in np.unique(groups):
        held = groups == g
        mean, scale, coef, intercept = ridge(x[~held], y[~held], alpha)
        out[held] = (x[held] - mean) / scale @ coef + intercept
    return out


def fit(table: pd.DataFrame, features: Sequence[str], alpha: float = 1.0) -> RidgeModel:
    """Ridge fit of ``top1`` on standardised ``features`` (rows: one model each)."""
    missing = [f for f in (*features, "top1", "model") if f not in table.columns]
    if missing:
        raise DataError(f"fit table lacks columns {', '.join(missing)}")
    mean, scale, coef, intercept = ridge(table[list(features)].to_numpy(float),
                                         table["top1"].to_numpy(float), alpha)
    return RidgeModel(tuple(features), tuple(mean), tuple(scale), tuple(coef), intercept,
                      alpha, tuple(table["model"]))


def family(model: str) -> str:
    """Architecture family of a timm/zoo name: 'tf_mobilenetv3_small_100' -> 'mobilenetv3'."""
    name = re.sub(r"^tf_", "", model.split("/")[-1].split(".")[0])
    m = re.match(r"([a-z]+?)(v\d+)?(?:[_\d]|$)", name)
    return m.group(1) + (m.group(2) or "") if m else name


def held_out_predictions(table: pd.DataFrame, features: Sequence[str], alpha: float,
                         by: str = "model") -> np.ndarray:
    """Predictions for every row from a fit that excluded its group: by='model' is
    leave-one-out, by='family' leaves a whole architecture family out."""
    groups = table["model"].map(family) if by == "family" else table["model"]
    return group_out_predictions(table[list(features)].to_numpy(float),
                                 table["top1"].to_numpy(float), groups.to_numpy(), alpha)


def cross_validate(table: pd.DataFrame, features: Sequence[str],
                   alpha: float = 1.0) -> dict[str, float]:
    """Kendall tau of held-out predictions vs top-1 (LOO and leave-family-out)."""
    from scipy.stats import kendalltau

    return {f"tau_{by}_out": float(kendalltau(held_out_predictions(table, features, alpha, by),
                                              table["top1"]).statistic)
            for by in ("model", "family")}


def build_table(reference: pd.DataFrame, cache_dir: str | None = None,
                progress: bool = True, no_cache: bool = False
                ) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Architecture features of every reference row (cached), plus the rows that failed."""
    import pandas as pd
    from tqdm import tqdm

    from explorer.errors import ExplorerError
    from explorer.measure.proxies.features import cached_features
    from explorer.measure.proxies.reference import resolve_reference, row_resolution

    rows, failed = [], []
    for ref in tqdm(reference.to_dict("records"), desc="features", unit="model",
                    disable=not progress):
        try:
            feats = cached_features(resolve_reference(ref["model"], row_resolution(ref)),
                                    cache_dir, no_cache)
        except (ExplorerError, RuntimeError, ValueError) as exc:
            failed.append({"model": ref["model"], "error": str(exc)})
            continue
        rows.append({"model": ref["model"], "top1": ref["top1"], **feats})
    return pd.DataFrame(rows), failed


def load_table() -> pd.DataFrame:
    return _read_table(Path(str(resources.files("explorer.data").joinpath(FIT_TABLE))))


def load_model() -> RidgeModel:
    text = resources.files("explorer.data").joinpath(COEFFICIENTS).read_text()
    data = json.loads(text)
    return RidgeModel(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def refit(reference: str | None = None, features: Sequence[str] | None = None,
          alpha: float | None = None, out: Path | None = None, *,
          cache_dir: str | None = None, no_cache: bool = False) -> dict[str, Any]:
    """Re-make the default proxy: optionally rebuild the feature table from ``reference``
    (features through the cache in ``cache_dir``), fit the shipped feature set, write
    table and coefficients (to ``out`` or the package data folder) and return the
    held-out figures."""
    from explorer.files import atomic_write_text
    from explorer.measure.proxies.reference import load_reference

    if alpha is not None and not (math.isfinite(alpha) and alpha > 0):  # before any write
        raise DataError(f"--alpha must be a positive ridge strength, got {alpha:g}")
    folder = out or Path(str(resources.files("explorer.data")))
    if reference is not None:
        table, failed = build_table(load_reference(reference), cache_dir, no_cache=no_cache)
        if failed:
            raise DataError("features failed for " + "; ".join(
                f"{f['model']}: {f['error']}" for f in failed))
        header = (f"# Architecture features of the {reference} rows (explorer.measure.proxies."
                  "features), made by 'explorer proxy fit --rebuild'.\n")
        atomic_write_text(folder / FIT_TABLE, header + table.to_csv(index=False))
    else:
        table = read_fit_table(out)
    model = fit(table, features or DEFAULT_FEATURES, DEFAULT_ALPHA if alpha is None else alpha)
    if not any(round(c, 4) for c in model.coef):  # a constant proxy ranks nothing
        raise DataError(f"--alpha {model.alpha:g} shrinks every coefficient to 0 on "
                        f"{len(table)} models; give a smaller ridge strength")
    atomic_write_text(folder / COEFFICIENTS, model.to_json())
    return {"n": len(table), "features": list(model.features), "alpha": model.alpha,
            "coef": dict(zip(model.features, (round(c, 4) for c in model.coef), strict=True)),
            **cross_validate(table, model.features, model.alpha)}


def read_fit_table(out: Path | None = None) -> pd.DataFrame:
    """The table a fit in ``out`` uses: its own, or (without one) the shipped table."""
    own = out / FIT_TABLE if out is not None else None
    return _read_table(own) if own is not None and own.is_file() else load_table()


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise DataError(f"no fit table at {path}; run with --rebuild first")
    return pd.read_csv(path, comment="#")


class Fitted(Proxy):
    name = "fitted"
    description = ("predicted top-1 (%) from architecture features, ridge-fitted on "
                   "published timm accuracies (leave-one-out for models it was fitted on)")

    def config(self) -> dict[str, Any]:
        """The coefficients' digest (a refit must not reuse cached scores) and the
        hold-out rule (scores cached under the old by-name rule are not reused)."""
        import hashlib

        text = resources.files("explorer.data").joinpath(COEFFICIENTS).read_text()
        return {**self.options, "coefficients": hashlib.sha256(text.encode()).hexdigest()[:16],
                "held_out_by": "architecture"}

    def compute(self, candidate: Candidate, seed: int) -> tuple[float, dict[str, Any]]:
        """A model whose architecture (or name) is in the fit table is scored by a refit
        without every such row, so a renamed twin is never an in-sample prediction."""
        from explorer.measure.proxies.features import cached_features

        model = load_model()
        row = cached_features(candidate, self.cache_dir, self.no_cache)
        table = load_table()
        seen = sorted({*twins(row, table), *({candidate.name} & set(model.fitted_on))})
        if seen:
            model = fit(table[~table["model"].isin(seen)], model.features, model.alpha)
        return model.predict(row), {"held_out": bool(seen), "twins_in_fit_table": seen}
