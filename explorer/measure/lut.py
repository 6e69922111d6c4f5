"""Latency predictor: a lookup table of per-unit latencies, summed and calibrated.

A network is cut into the units :mod:`explorer.build` makes of it -- the stem, each
downsampling unit, each body block, the head -- and a unit's latency depends only on its
configuration (kind, input/output width, stride, input resolution, kernel, expansion, SE,
activation). ``lut build`` times each distinct configuration once, on the real backend,
as the standalone *deployed* submodule cut out of a built network (so it is exactly what
the full network runs). ``predict`` sums the table per unit group (stem, downsampling
units, inverted residuals, RepViT blocks, head) and applies a calibration fitted on full
networks measured for real, spanning the sizes of the spaces (a different sample from the
one ``lut validate`` checks against) -- but only where it helps: :func:`calibrate` keeps
a calibration only where its leave-one-out error beats the plain sums'. A calibration can
absorb what standalone timing gets wrong (a unit timed alone keeps its weights in cache,
and pays a per-call overhead the network pays once); fitted on a few networks, it can
also learn their noise, which is why plain sums stay the default.

A configuration missing at predict time is measured then and stored (measure-on-miss),
so a search never fails on a table that does not cover its space.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from explorer.errors import DataError
from explorer.files import atomic_write_text, file_lock
from explorer.machine import fingerprint, versions
from explorer.measure.backends.base import measure_with
from explorer.measure.backends.runtimes import runtime
from explorer.measure.cache import Cache, default_cache_dir
from explorer.measure.timing import Protocol, disturbed, time_runner

if TYPE_CHECKING:
    from torch import nn

    from explorer.spec import NetworkSpec

#: standalone units are fast: shorter batches, more samples for a stable median
UNIT_PROTOCOL = Protocol(warmup_s=0.1, min_samples=30, batch_s=0.1, rel_tol=0.01, max_s=3.0)
#: full networks (calibration, validation): the standard protocol
NETWORK_PROTOCOL = Protocol()
TABLE_VERSION = 2
#: the fewest full networks a calibration is fitted on
MIN_CALIBRATION = 3


@dataclass(frozen=True)
class Unit:
    """One unit of a network: its configuration (the table key), its input shape, and
    where :class:`explorer.build.Network` keeps it (``stem``, ``stages.S.J``, ``head``)."""

    config: tuple
    channels: int
    resolution: int
    path: str

    @property
    def key(self) -> str:
        return json.dumps([*self.config, self.channels, self.resolution])


def _half(resolution: int) -> int:
    """Output size of a stride-2 conv with 'same' padding."""
    return (resolution + 1) // 2


def units(spec: NetworkSpec) -> list[Unit]:
    """The units of ``spec`` in execution order, derived from the spec alone (no torch),
    following :class:`explorer.build.Network`'s layout."""
    res, cin = spec.resolution, spec.in_chans
    stem = spec.stem
    out = [Unit(("stem", stem.kind, tuple(stem.widths), tuple(stem.acts)), cin, res, "stem")]
    for _ in range(1 if stem.kind == "mbv3" else len(stem.widths)):
        res = _half(res)
    cin = stem.widths[-1]
    for s, stage in enumerate(spec.stages):
        j = 0
        if stage.downsample is not None:
            d = stage.downsample
            out.append(Unit(("down", d.kind, d.width, d.kernel, d.expansion, d.act), cin, res,
                            f"stages.{s}.{j}"))
            res, cin, j = _half(res), d.width, j + 1
        for block in stage.blocks:
            out.append(Unit(("block", block.kind, block.width, block.kernel, block.expansion,
                             block.stride, block.se, block.act), cin, res, f"stages.{s}.{j}"))
            res = _half(res) if block.stride == 2 else res
            cin, j = block.width, j + 1
    h = spec.head
    out.append(Unit(("head", h.kind, tuple(h.widths), h.act, spec.num_classes), cin, res,
                    "head"))
    return out


def _submodule(network: nn.Module, path: str) -> nn.Module:
    module = network
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


#: calibration groups: each gets its own scale (standalone timing misjudges them
#: differently: e.g. a big head is cache-cold inside a network, warm on its own)
GROUPS = ("stem", "down", "block:ir", "block:repvit", "head")


def group(unit: Unit) -> str:
    return f"block:{unit.config[1]}" if unit.config[0] == "block" else unit.config[0]


class LatencyTable:
    """Per-unit latencies for one backend + thread count on this machine, stored as JSON."""

    def __init__(self, path: Path, backend: str = "ort", threads: int = 1,
                 protocol: Protocol | None = None) -> None:
        self.path = Path(path)
        self.backend = backend
        self.threads = threads
        self.protocol = protocol or UNIT_PROTOCOL
        self.entries: dict[str, dict[str, float]] = {}
        self.calibration: dict[str, Any] | None = None
        self._loaded_calibration: dict[str, Any] | None = None  # as read: changed = refit
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            header = (data["backend"], data["threads"])
            entries, calibration = data["entries"], data.get("calibration")
        except (ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON or bytes
            raise DataError(f"{self.path}: not a latency table ({exc}); delete it and run "
                            "'explorer lut build', or pass another --table") from None
        if data.get("version") != TABLE_VERSION:
            return  # an older layout: start afresh (the file is replaced on save)
        if header != (self.backend, self.threads):
            raise DataError(f"{self.path}: table is for backend {data['backend']!r} with "
                            f"{data['threads']} thread(s), not {self.backend!r} with "
                            f"{self.threads}")
        self.entries, self.calibration = entries, calibration
        self._loaded_calibration = calibration

    def save(self) -> None:
        """Write atomically under a lock, merging with what is on disk now: entries
        another process added meanwhile are kept, and so is its calibration unless this
        table fitted a newer one (a search that opened the table before 'lut build'
        finished must not write back its stale, or missing, calibration)."""
        with file_lock(self.path):
            if self.path.is_file():
                try:
                    on_disk = LatencyTable(self.path, self.backend, self.threads)
                except DataError:
                    on_disk = None
                if on_disk is not None:
                    self.entries = {**on_disk.entries, **self.entries}
                    if self.calibration == self._loaded_calibration:  # not refitted here
                        self.calibration = on_disk.calibration
            atomic_write_text(self.path, json.dumps(
                {"version": TABLE_VERSION, "backend": self.backend, "threads": self.threads,
                 "versions": versions(), "fingerprint": fingerprint(),
                 "calibration": self.calibration, "entries": self.entries}, indent=1))
            self._loaded_calibration = self.calibration

    # -- measuring -----------------------------------------------------------------------
    def missing(self, spec: NetworkSpec) -> list[Unit]:
        seen: set[str] = set()
        out = []
        for unit in units(spec):
            if unit.key not in self.entries and unit.key not in seen:
                seen.add(unit.key)
                out.append(unit)
        return out

    def measure(self, spec: NetworkSpec, save: bool = True) -> int:
        """Time every unit of ``spec`` the table lacks; returns how many were added."""
        from explorer.candidate import from_spec

        todo = self.missing(spec)
        if not todo:
            return 0
        backend = runtime(self.backend)
        backend.check()
        network = from_spec(spec).deployed
        for unit in todo:
            module = _submodule(network, unit.path)
            x = torch.randn(1, unit.channels, unit.resolution, unit.resolution)
            clock = backend.clock_for(self.threads, self.protocol)
            timing = time_runner(backend.runner(module, x, self.threads, unit.path, clock),
                                 self.protocol)
            self.entries[unit.key] = {"ms": timing.median_ms, "iqr_ms": timing.iqr_ms}
        if save:
            self.save()
        return len(todo)

    # -- predicting ----------------------------------------------------------------------
    def sums(self, spec: NetworkSpec) -> np.ndarray:
        """Summed unit latencies (ms) per calibration group, measuring misses first."""
        self.measure(spec)
        out = np.zeros(len(GROUPS))
        for unit in units(spec):
            out[GROUPS.index(group(unit))] += self.entries[unit.key]["ms"]
        return out

    @property
    def calibrated(self) -> bool:
        """Whether predictions apply a calibration (one that beat the plain sums)."""
        return bool(self.calibration and self.calibration.get("used"))

    def predict(self, spec: NetworkSpec) -> float:
        return apply(self.calibration if self.calibrated else None, self.sums(spec))

    def fit(self, specs: Sequence[NetworkSpec], measured_ms: Sequence[float]) -> dict:
        """Fit :func:`calibrate` on full networks measured for real, and store it (with
        the choice it made: plain sums where no calibration beats them)."""
        if len(specs) < MIN_CALIBRATION:
            raise DataError(f"calibration needs at least {MIN_CALIBRATION} measured networks")
        sums = np.array([self.sums(spec) for spec in specs])
        self.calibration = {**calibrate(sums, np.asarray(measured_ms, dtype=float)),
                            "fitted_on": [s.hash for s in specs]}
        self.save()
        return self.calibration


#: ridge penalties tried for the per-group scales (on relative error, so unitless)
RIDGE_GRID = (0.0, 0.01, 0.1, 1.0, 10.0, 100.0)
#: calibration models, each fitted on relative error: one scale for the whole sum (plus an
#: offset), or one scale per group of :data:`GROUPS` (plus an offset, ridge towards 1)
MODELS = ("one scale", "group scales")
PLAIN = "plain sums"


def calibrate(sums: np.ndarray, real: np.ndarray, what: str = "networks") -> dict[str, Any]:
    """Choose how unit sums (networks x :data:`GROUPS`) become latencies: plain sums, or
    the calibration model of :data:`MODELS` with the lowest leave-one-out error, kept only
    where that error beats the plain sums' (a calibration must never make the predictor
    worse). Both models are fitted on relative error, so a 2 ms and a 40 ms network weigh
    alike (on absolute error the big ones set the offset and small ones come out 15-35%
    too slow). The returned ``scale``/``offset`` are what predictions apply (1 and 0 for
    plain sums); ``fitted`` holds the best model's own, for reports with and without it."""
    plain = _mean_abs_pct(sums.sum(axis=1), real)
    loo = {m: _loo_error(lambda s, r, m=m: _fit(m, s, r)[:2], sums, real) for m in MODELS}
    best = min(MODELS, key=loo.__getitem__)
    scale, offset, ridge = _fit(best, sums, real)
    used = loo[best] < plain
    applied = (scale, offset) if used else (np.ones(len(GROUPS)), 0.0)
    verdict = f"calibrated ({best})" if used else f"{PLAIN} (calibration does not beat them)"
    return {"groups": list(GROUPS), "used": used, "chosen": best if used else PLAIN,
            "scale": [float(x) for x in applied[0]], "offset": float(applied[1]),
            "fitted": {"model": best, "scale": [float(x) for x in scale],
                       "offset": offset, "ridge": ridge},
            "networks": len(sums), "loo_mean_abs_pct_error": loo[best],
            "loo_by_model": loo, "plain_mean_abs_pct_error": plain,
            "fit_median_abs_pct_error": 100 * float(np.median(
                np.abs(sums @ applied[0] + applied[1] - real) / real)),
            "summary": f"{verdict}: on {len(sums)} {what}, leave-one-out mean |error| "
                       f"{loo[best]:.1f}% calibrated ({best}) vs {plain:.1f}% {PLAIN}"}


def apply(calibration: dict[str, Any] | None, sums: np.ndarray) -> float:
    """Predicted ms from group sums: plain sums without a calibration."""
    if not calibration:
        return float(sums.sum())
    return float(np.dot(calibration["scale"], sums) + calibration["offset"])


def _mean_abs_pct(predicted: np.ndarray, real: np.ndarray) -> float:
    return 100 * float(np.mean(np.abs(predicted - real) / real))


def _fit(model: str, sums: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(scale per group, offset, ridge) of ``model`` fitted on these networks; the group
    model's ridge is chosen by leave-one-out within them (so an outer leave-one-out of
    this fit is honest: the held-out network never picks the penalty)."""
    if model == "one scale":
        scale, offset = _ridge(sums.sum(axis=1, keepdims=True), real, 0.0)
        return np.full(len(GROUPS), scale[0]), offset, 0.0
    ridge = min(RIDGE_GRID, key=lambda lam: _loo_error(
        lambda s, r: _ridge(s, r, lam), sums, real))
    return (*_ridge(sums, real, ridge), ridge)


def _ridge(sums: np.ndarray, real: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """Scales (penalised towards 1) and an unpenalised offset, least squares on relative
    error (each row divided by its latency)."""
    features = np.hstack([sums, np.ones((len(sums), 1))]) / real[:, None]
    target = (real - sums.sum(axis=1)) / real
    penalty = lam * np.eye(features.shape[1])
    penalty[-1, -1] = 0.0
    delta = np.linalg.lstsq(features.T @ features + penalty, features.T @ target,
                            rcond=None)[0]
    return 1.0 + delta[:-1], float(delta[-1])


def _loo_error(fit: Any, sums: np.ndarray, real: np.ndarray) -> float:
    """Mean absolute % error predicting each network from ``fit`` on the others."""
    errors = []
    for i in range(len(sums)):
        keep = np.arange(len(sums)) != i
        scale, offset = fit(sums[keep], real[keep])
        errors.append(abs(sums[i] @ scale + offset - real[i]) / real[i])
    return 100 * float(np.mean(errors))


def table_path(backend: str = "ort", threads: int = 1,
               cache_dir: str | Path | None = None) -> Path:
    """Default table location: per backend, thread count, machine and library versions."""
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    tag = Cache.digest({"versions": versions(), "fingerprint": fingerprint()})[:10]
    return root / "lut" / f"{backend}-t{threads}-{tag}.json"


def load_table(backend: str = "ort", threads: int = 1, cache_dir: str | Path | None = None,
               path: str | Path | None = None) -> LatencyTable:
    return LatencyTable(Path(path) if path else table_path(backend, threads, cache_dir),
                        backend, threads)


def _progress(items: Sequence, desc: str, show: bool, unit: str = "net") -> Iterable:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=not show, leave=False)


#: interleaved measurement rounds of each full network (calibration and validation)
ROUNDS = 2


#: a round timed while another process competed for the core is retaken up to this often
MAX_RETAKES = 3


def real_latencies(specs: Sequence[NetworkSpec], backend: str, threads: int,
                   cache_dir: str | Path | None, desc: str,
                   progress: bool = True) -> list[list[dict[str, Any]]]:
    """Every network's rounds (:data:`ROUNDS` of them), each a median latency with its
    ``cpu_share`` and ``retakes``. Rounds are taken one after the other over all networks
    (the first may come from the cache), so a burst of interference hits one round of a
    network, not all; a round measured while another process competed for the core
    (:func:`explorer.measure.timing.disturbed`) is retaken, not kept -- up to
    :data:`MAX_RETAKES` times, then the least disturbed take stands, marked ``disturbed``."""
    from explorer.candidate import from_spec

    candidates = [from_spec(spec) for spec in specs]
    rounds: list[list[dict[str, Any]]] = [[] for _ in specs]
    todo = [(r, i) for r in range(ROUNDS) for i in range(len(specs))]
    for r, i in _progress(todo, desc, progress, unit="run"):
        takes = [measure_with(candidates[i], runtime(backend), threads, no_cache=r > 0,
                              cache_dir=cache_dir, protocol=NETWORK_PROTOCOL)]
        while disturbed(takes[-1]) and len(takes) <= MAX_RETAKES:
            takes.append(measure_with(candidates[i], runtime(backend), threads,
                                      no_cache=True, cache_dir=cache_dir,
                                      protocol=NETWORK_PROTOCOL))
        kept = next((t for t in takes if not disturbed(t)),
                    max(takes, key=lambda t: t.get("cpu_share") or 0.0))
        rounds[i].append({"latency_ms": kept["latency_ms"], "cpu_share": kept.get("cpu_share"),
                          "retakes": len(takes) - 1, "disturbed": disturbed(kept)})
    return rounds


def best(rounds: list[dict[str, Any]]) -> float:
    """Interference only ever slows a run down: the lowest round median is the estimate."""
    return min(r["latency_ms"] for r in rounds)


def build_table(specs: Sequence[NetworkSpec], calibration: Sequence[NetworkSpec],
                backend: str = "ort", threads: int = 1, cache_dir: str | Path | None = None,
                path: str | Path | None = None, progress: bool = True) -> LatencyTable:
    """Measure every unit configuration of ``specs`` (and of ``calibration``), then fit
    the calibration on the real latencies of the ``calibration`` networks."""
    table = load_table(backend, threads, cache_dir, path)
    for spec in _progress([*specs, *calibration], "lut units", progress):
        table.measure(spec)
    rounds = real_latencies(calibration, backend, threads, cache_dir, "lut calibration",
                            progress)
    table.fit(calibration, [best(r) for r in rounds])
    return table


def default_spaces() -> list[Path]:
    """The repository's search spaces (``search_spaces/*.yaml`` beside the package)."""
    from explorer.search_space import SPACES_DIR

    return sorted(SPACES_DIR.glob("*.yaml"))


def sample_specs(spaces: Sequence[str | Path], n: int, seed: int) -> list[NetworkSpec]:
    """``n`` seeded random specs, drawn from the spaces in turn (one RNG for all)."""
    import dataclasses
    import random

    from explorer.search_space import load_space

    if not spaces:
        raise DataError("no search space: pass --space FILE (e.g. search_spaces/repvit.yaml)")
    loaded = [load_space(path) for path in spaces]
    rng = random.Random(seed)
    return [dataclasses.replace(loaded[i % len(loaded)].sample(rng),
                                name=f"{Path(spaces[i % len(loaded)]).stem}-s{seed}-{i}")
            for i in range(n)]


#: calibration networks come from this seed, so they differ from validation samples
CALIBRATION_SEED = 1_000_003
#: calibration networks are picked from this many random ones per network wanted
POOL_FACTOR = 20


def calibration_specs(spaces: Sequence[str | Path], n: int,
                      seed: int = CALIBRATION_SEED) -> list[NetworkSpec]:
    """``n`` networks spanning the sizes a search visits, shared among the spaces: each
    space's smallest and largest network and, between them, networks evenly spaced in
    MACs (ranks) over a seeded random pool. Random draws alone bunch in the middle, and
    a calibration fitted there extrapolates to the small networks a tight budget visits."""
    import random

    from explorer.measure.analytic import counts
    from explorer.search_space import load_space

    if not spaces:
        raise DataError("no search space: pass --space FILE (e.g. search_spaces/repvit.yaml)")
    rng = random.Random(seed)
    out: list[NetworkSpec] = []
    for k, path in enumerate(spaces):
        wanted = n // len(spaces) + (k < n % len(spaces))
        space = load_space(path)
        pool = [space.smallest(), space.largest(),
                *(space.sample(rng) for _ in range(POOL_FACTOR * wanted))]
        pool.sort(key=lambda spec: counts(spec).macs)
        picks = sorted({round(i * (len(pool) - 1) / max(wanted - 1, 1))
                        for i in range(wanted)})
        out += [pool[i].replace(name=f"{Path(path).stem}-cal{j}") for j, i in enumerate(picks)]
    return out


def validate(table: LatencyTable, specs: Sequence[NetworkSpec],
             cache_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Predicted vs measured latency on ``specs`` (minus any the calibration was fitted
    on): the error distribution of what predictions apply (top level), and of both the
    plain sums and the fitted calibration whichever was chosen (``by_predictor``)."""
    cal = table.calibration or {}
    held_out = [spec for spec in specs if spec.hash not in set(cal.get("fitted_on", []))]
    sums = [table.sums(spec) for spec in _progress(held_out, "lut predict", progress)]
    rounds = real_latencies(held_out, table.backend, table.threads, cache_dir, "lut measure",
                            progress)
    if not held_out:
        raise DataError("nothing to validate: no sampled network outside the calibration set")
    applied = "calibrated" if table.calibrated else PLAIN
    predictors: dict[str, Any] = {PLAIN: None}
    if "fitted" in cal:  # the fitted calibration, applied or not
        predictors["calibrated"] = cal if table.calibrated else cal["fitted"]
    rows = []
    for spec, group_sums, taken in zip(held_out, sums, rounds, strict=True):
        measured = best(taken)
        preds = {name: apply(c, group_sums) for name, c in predictors.items()}
        rows.append({"name": spec.name, "spec_hash": spec.hash,
                     "predicted_ms": preds[applied], "measured_ms": measured,
                     "round_medians_ms": [r["latency_ms"] for r in taken],
                     "round_cpu_shares": [r["cpu_share"] for r in taken],
                     "retakes": sum(r["retakes"] for r in taken),
                     "disturbed_rounds": sum(r["disturbed"] for r in taken),
                     "error_pct": 100 * (preds[applied] - measured) / measured,
                     "error_pct_by_predictor": {name: 100 * (p - measured) / measured
                                                for name, p in preds.items()}})
    by = {name: error_summary([r["error_pct_by_predictor"][name] for r in rows])
          for name in predictors}
    return {"backend": table.backend, "threads": table.threads, "samples": len(rows),
            "rounds": ROUNDS, "retakes": sum(r["retakes"] for r in rows),
            "disturbed_rounds_kept": sum(r["disturbed_rounds"] for r in rows),
            "applied": cal.get("chosen", PLAIN), **by[applied],
            "by_predictor": by,
            "excluded_calibration_networks": len(specs) - len(held_out),
            "table_entries": len(table.entries), "calibration": table.calibration,
            "versions": versions(), "fingerprint": fingerprint(), "rows": rows}


def error_summary(errors_pct: Sequence[float]) -> dict[str, float]:
    """Median and worst absolute % error, shares within 5% and 10%."""
    errors = [abs(e) for e in errors_pct]
    return {"median_abs_pct_error": statistics.median(errors),
            "max_abs_pct_error": max(errors),
            "within_5pct": sum(e <= 5 for e in errors) / len(errors),
            "within_10pct": sum(e <= 10 for e in errors) / len(errors)}
