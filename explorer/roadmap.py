"""The RepViT roadmap (paper section 3, Figure 2) as an ordered list of design edits,
measured step by step beside the paper's numbers.

Paper numbers come from shared/reference/repvit-facts.md section 1: iPhone 12 Core ML
latency for every step, top-1 (300 epochs, no distillation) where stated, and params /
MACs only at the two ends (the paper reports none in between).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from explorer import edits as E
from explorer import zoo
from explorer.candidate import from_spec
from explorer.errors import EditError
from explorer.spec import NetworkSpec

DEFAULT_METRICS = ("params", "macs", "latency", "proxy")


@dataclass(frozen=True)
class Step:
    """One row of the roadmap: the edits it applies to the previous step (or to ``after``)."""

    id: str
    title: str
    edits: tuple[str, ...]
    paper_latency_ms: float | None = None
    paper_top1: float | None = None
    paper_params: float | None = None
    paper_macs: float | None = None
    on_path: bool = True
    after: str | None = None  # off-path rows branch from this step id


#: The paper's steps. Step 0 is MobileNetV3-L with GELU (its 75.2% top-1 used Google's
#: recipe and no paper number exists for the GELU variant). Step 10 is the published,
#: distilled RepViT-M0.9: recipe only, so its deployed model is step 9's.
PAPER_STEPS: tuple[Step, ...] = (
    Step("0", "MobileNetV3-L baseline (GELU)", ("gelu",), 1.01, None, 5.4e6, 219e6),
    Step("1", "Aligning training recipe", ("align_recipe",), 1.01, 71.5),
    Step("2", "Separate token mixer and channel mixer", ("split_mixers",), 0.81, 68.3),
    Step("3a", "Reducing expansion ratio", ("expansion_2",), 0.65, None),
    Step("3b", "Increasing width", ("widths",), 0.89, 73.5),
    Step("4", "Early convolutions", ("early_conv",), 0.86, 73.9),
    Step("5", "Deeper downsampling layers", ("deeper_downsampling",), 0.96, 75.4),
    Step("6", "Simple classifier", ("simple_classifier",), 0.77, 74.8),
    Step("7", "Overall stage ratio", ("stage_depths",), 0.91, 76.9),
    Step("8", "Kernel size", ("kernel_3x3",), 0.89, 76.9),
    Step("9", "SE layer placement = RepViT-M0.9", ("se_alternate",), 0.87, 77.4, 5.1e6, 0.8e9),
    Step("10", "+ distillation (published RepViT-M0.9)", ("distill",), 0.9, 78.7, 5.1e6, 0.8e9),
)

#: The paper's control: ratio 2 and wider channels on the original MobileNetV3 block.
CONTROL_STEPS: tuple[Step, ...] = (
    Step("3-ctrl", "Control: ratio 2 + widths on the MobileNetV3 block",
         ("expansion_2", "widths"), 0.91, 73.0, on_path=False, after="1"),
)

#: Steps whose paper top-1 reflects the architecture under one recipe (for agreement).
_ARCH_TOP1_EXCLUDE = {"10"}  # distillation changes accuracy, not the architecture


def custom_steps(edit_refs: Sequence[str]) -> tuple[Step, ...]:
    """Steps for a user's own edit sequence (registered names or module:function)."""
    steps = []
    for i, ref in enumerate(edit_refs):
        edit = E.get_edit(ref)
        steps.append(Step(str(i), edit.description, (ref,)))
    return tuple(steps)


def roadmap_steps(include_control: bool = True) -> tuple[Step, ...]:
    return PAPER_STEPS + (CONTROL_STEPS if include_control else ())


def step_specs(steps: Sequence[Step] | None = None, base: NetworkSpec | None = None
               ) -> list[tuple[Step, NetworkSpec]]:
    """Apply the steps' edits cumulatively along the path; off-path rows branch off."""
    steps = tuple(steps) if steps is not None else roadmap_steps()
    spec = base or zoo.get_spec("mobilenetv3_large_100")
    by_id: dict[str, NetworkSpec] = {}
    out = []
    for step in steps:
        start = by_id[step.after] if step.after is not None else spec
        result = E.apply(start, step.edits)
        result = dataclasses.replace(result, name=f"roadmap_{step.id}")
        by_id[step.id] = result
        if step.on_path:
            spec = result
        out.append((step, result))
    return out


def roadmap_specs(include_control: bool = True) -> list[tuple[str, NetworkSpec]]:
    """(step id, spec) for every paper step (and the control row)."""
    return [(step.id, spec) for step, spec in step_specs(roadmap_steps(include_control))]


def _measure_rows(named: Sequence[tuple[dict[str, Any], NetworkSpec | None]],
                  metrics: Sequence[str], progress: bool, desc: str, **options: Any
                  ) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    from explorer.measure import measure

    rows = []
    bar = tqdm(named, desc=desc, disable=not progress, unit="step", leave=False)
    for info, spec in bar:
        bar.set_postfix_str(str(info.get("step", info.get("removed", ""))))
        row = dict(info)
        if spec is not None:
            row.update(measure(from_spec(spec), metrics, **options))
        rows.append(row)
    return rows


def run_roadmap(steps: Sequence[Step] | None = None, base: NetworkSpec | None = None,
                metrics: Sequence[str] = DEFAULT_METRICS, progress: bool = True,
                **options: Any) -> pd.DataFrame:
    """One row per step: measured columns beside the paper's. ``options`` go to
    :func:`explorer.measure.measure` (backend, threads, proxy, seed, no_cache, cache_dir)."""
    pairs = step_specs(steps, base)
    named = [({"step": s.id, "edit": "+".join(s.edits), "title": s.title, "on_path": s.on_path,
               "paper_latency_ms": s.paper_latency_ms, "paper_top1": s.paper_top1,
               "paper_params": s.paper_params, "paper_macs": s.paper_macs}, spec)
             for s, spec in pairs]
    df = pd.DataFrame(_measure_rows(named, metrics, progress, "roadmap", **options))
    if "latency_ms" in df and len(df):
        df["latency_rel"] = df["latency_ms"] / df["latency_ms"].iloc[0]
    if len(df) and df["paper_latency_ms"].notna().iloc[0]:
        df["paper_latency_rel"] = df["paper_latency_ms"] / df["paper_latency_ms"].iloc[0]
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
    for col in ("latency_ms", "proxy", "params", "macs"):
        if col in df:
            df[f"{col}_delta"] = df[col] - df[col].iloc[0]
    return df


def agreement(df: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """Kendall tau of our latency vs the paper's latency, and of our proxy vs the paper's
    top-1, over the main-path steps where the paper gives a number."""
    from scipy.stats import kendalltau

    path = df[df["on_path"]]
    out: dict[str, dict[str, float | int | None]] = {}
    pairs = {"latency_vs_paper_latency": ("latency_ms", "paper_latency_ms", path),
             "proxy_vs_paper_top1": ("proxy", "paper_top1",
                                     path[~path["step"].isin(_ARCH_TOP1_EXCLUDE)])}
    for key, (ours, theirs, rows) in pairs.items():
        if ours not in rows:
            continue
        sub = rows[[ours, theirs]].dropna()
        tau = kendalltau(sub[ours], sub[theirs]).statistic if len(sub) > 2 else None
        out[key] = {"kendall_tau": None if tau is None or tau != tau else float(tau),
                    "n": int(len(sub))}
    return out
