"""What a finished search looks like to people: the Pareto figure of a study (with the
roadmap and the zoo's reference models on the same backend) and a Markdown report with
the best architectures, their specs, the Pareto set, the roadmap table and the machine.

Everything here reads a stored study through :func:`explorer.search.load_result` and
measures only the reference models (cached like every measurement).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from explorer import backend_columns, plots, tables
from explorer.errors import DataError, EmptyStudyError
from explorer.files import atomic_write_text

if TYPE_CHECKING:
    from explorer.budget import Budget
    from explorer.search import SearchResult

#: the paper's starting point and the published RepViT family, drawn on every Pareto plot
REFERENCE_MODELS = ("mobilenetv3_large_100", "repvit_m0_9", "repvit_m1_0", "repvit_m1_1",
                    "repvit_m1_5", "repvit_m2_3")
DEFAULT_ROADMAP_CSV = Path("results/roadmap.csv")


def measure_references(names: Sequence[str] = REFERENCE_MODELS, progress: bool = True,
                       **options: Any) -> pd.DataFrame:
    """Latency and proxy of zoo models, one row each, measured with ``options``
    (backend, threads, proxy, ...) so they sit on the same axes as the trials."""
    from tqdm.auto import tqdm

    from explorer.candidate import resolve
    from explorer.measure import measure

    rows = [measure(resolve(name, "zoo"), ["latency", "proxy"], **options)
            for name in tqdm(names, desc="reference models", disable=not progress,
                             unit="model", leave=False)]
    return pd.DataFrame(rows)


def load_roadmap(path: str | Path | None = None, backend: str | None = None
                 ) -> pd.DataFrame | None:
    """The roadmap table written by ``explorer roadmap`` (``path``, or results/roadmap.csv
    when it exists; None when it does not). Of a table measured on several backends,
    ``backend``'s latency is used when the table has it, else the first backend's."""
    csv = Path(path) if path is not None else DEFAULT_ROADMAP_CSV
    if not csv.exists():
        if path is not None:
            raise DataError(f"roadmap table {csv} not found; write it with "
                            f"'explorer roadmap --out {csv.parent}'")
        return None
    try:
        df = pd.read_csv(csv, dtype={"step": str})
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read roadmap table {csv}: {exc}") from None
    measured = backend_columns.backends(df)
    if measured[0] is not None:  # several backends: the study's, else the first one's
        df = backend_columns.select(df, backend if backend in measured else measured[0])
    missing = {"step", "on_path", "latency_ms", "proxy"} - set(df.columns)
    if missing:
        raise DataError(f"roadmap table {csv} lacks columns {', '.join(sorted(missing))}; "
                        f"re-run 'explorer roadmap' with the latency and proxy metrics")
    return df


@dataclass
class StudyView:
    """A stored study with what its figure and report need: completed trials (with the
    threads and proxy name each was measured with) and the study's setup."""

    result: SearchResult
    trials: pd.DataFrame

    @property
    def name(self) -> str:
        return str(self.result.study.study_name)

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.result.study.user_attrs)

    @property
    def backend(self) -> str:
        backend = self.attrs.get("backend") or plots.first_value(self.trials, "backend")
        return str(backend or "ort")

    @property
    def threads(self) -> int:
        return int(plots.first_value(self.trials, "threads") or 1)

    @property
    def proxy(self) -> str:
        return str(plots.first_value(self.trials, "proxy_name") or "default")


def load_study(study: str, storage: str | None = None) -> StudyView:
    """Open ``study``; raises :class:`EmptyStudyError` when nothing completed in it."""
    from explorer.search import load_result

    result = load_result(storage, study)
    frame = result.trials_frame()
    if frame.empty or not ((frame["state"] == "COMPLETE") & frame["latency_ms"].notna()).any():
        raise EmptyStudyError(f"study {study!r} has no completed trial yet "
                              f"({len(frame)} trials in all); run 'explorer search' first")
    measured = {t.number: t.user_attrs for t in result.study.get_trials(deepcopy=False)}
    frame["threads"] = frame["trial"].map(lambda n: measured[n].get("threads"))
    frame["proxy_name"] = frame["trial"].map(lambda n: measured[n].get("proxy_name"))
    done = frame[(frame["state"] == "COMPLETE") & frame["latency_ms"].notna()]
    return StudyView(result, done.reset_index(drop=True))


def study_budget(view: StudyView, budget_ref: str | None = None,
                 budget_ms: float | None = None, **options: Any) -> Budget | None:
    """The budget to draw and judge a study by: ``budget_ms``; else ``budget_ref``
    (``MODEL[:FACTOR]``: the study's own stored number when it is the study's reference,
    else measured now with the study's backend and threads; ``options`` add cache_dir and
    no_cache); else the budget the study stored, with its origin."""
    from explorer.budget import Budget, BudgetRef, resolve_budget

    stored = Budget.from_attrs(view.attrs)
    if budget_ms is not None:
        return Budget(budget_ms)
    if budget_ref is None:
        return stored
    ref = BudgetRef.parse(budget_ref)
    if stored is not None and stored.ref == ref:
        return stored
    _check_same_machine(view, ref)
    return resolve_budget(ref, **{**options, "backend": view.backend,
                                  "threads": view.threads})


def _check_same_machine(view: StudyView, ref: Any) -> None:
    """A reference timed here means nothing beside trials timed on another machine."""
    from explorer.errors import BudgetError
    from explorer.machine import fingerprint

    recorded = view.attrs.get("fingerprint")  # set only for backends timed on the host
    if recorded is not None and recorded != fingerprint():
        raise BudgetError(f"--budget-ref {ref}: study {view.name!r} was measured on another "
                          f"machine (fingerprint {recorded}, this one {fingerprint()}) with "
                          f"backend {view.backend}; a reference timed here would not compare "
                          "with its trials (use --budget-ms, or the study's own reference)")


def study_references(view: StudyView, progress: bool = True, **options: Any) -> pd.DataFrame:
    """The reference models measured with the study's backend, threads and proxy."""
    return measure_references(progress=progress, **{**options, "backend": view.backend,
                                                     "threads": view.threads,
                                                     "proxy": view.proxy})


def same_setup(view: StudyView, frame: pd.DataFrame | None) -> bool:
    """Whether ``frame`` was measured like the study (backend, threads, proxy): only then
    does it belong on the same axes."""
    if frame is None or frame.empty:
        return False
    return (plots.first_value(frame, "backend") == view.backend
            and int(plots.first_value(frame, "threads") or 1) == view.threads
            and plots.first_value(frame, "proxy_name") == view.proxy)


def pareto_figure(view: StudyView, out_dir: str | Path, budget: Budget | None = None,
                  roadmap: pd.DataFrame | None = None,
                  references: pd.DataFrame | None = None) -> list[Path]:
    """The study's Pareto plot; ``budget`` (see :func:`study_budget`) defaults to the
    study's own, labelled with its origin, and decides which trials are drawn feasible.
    Roadmap/reference rows measured on another setup are left off (never mixed)."""
    budget = budget if budget is not None else study_budget(view)
    trials = view.trials
    if budget is not None:  # the study's own budget gives the stored feasibility again
        trials = trials.assign(feasible=trials["latency_ms"] <= budget.ms)
    return plots.plot_pareto(
        trials, out_dir, budget_ms=None if budget is None else budget.ms,
        budget_label=None if budget is None else f"latency budget {budget.describe()}",
        roadmap=roadmap if same_setup(view, roadmap) else None,
        references=references if same_setup(view, references) else None,
        title_info=f"study {view.name}, {len(view.trials)} trials")


def _column(df: pd.DataFrame, col: str, fmt: str, scale: float = 1.0) -> pd.Series:
    """Formatted numbers; '–' where a metric was not measured (e.g. search --metrics)."""
    values = df[col] if col in df else pd.Series(None, index=df.index, dtype=float)
    return values.map(lambda v: "–" if pd.isna(v) else format(v / scale, fmt))


def _fmt_rows(df: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "trial": df["trial"].astype(int),
        "proxy": _column(df, "proxy", ".5g"),
        "latency ms": _column(df, "latency_ms", ".3f"),
        "params (M)": _column(df, "params", ".2f", 1e6),
        "MACs (M)": _column(df, "macs", ".0f", 1e6),
        "FLOPs (M)": _column(df, "flops", ".0f", 1e6),
        "resolution": df["resolution"],
        "widths": df["widths"], "depths": df["depths"], "SE blocks": df["se_blocks"],
        "spec hash": df["spec_hash"].map(lambda h: f"`{str(h)[:12]}`"),
    })
    return shown.to_markdown(index=False, disable_numparse=True)


def _spec_details(view: StudyView, trials: pd.DataFrame) -> list[str]:
    lines = []
    for number in trials["trial"].astype(int):
        spec = view.result.spec(number)
        lines += [f"<details><summary>trial {number} spec (rebuild: <code>explorer export "
                  f"--study {view.name} --trial {number}</code>)</summary>", "",
                  "```yaml", yaml.safe_dump(json.loads(spec.to_json()), sort_keys=False,
                                            default_flow_style=None, width=100).strip(),
                  "```", "",
                  "</details>", ""]
    return lines


def _demote(markdown: str) -> str:
    """Nest a stand-alone document's headings one level deeper inside the report."""
    return "\n".join("#" + line if line.startswith("#") else line
                     for line in markdown.splitlines())


def report_markdown(view: StudyView, figures: Sequence[Path], out_dir: str | Path,
                    roadmap: pd.DataFrame | None = None,
                    references: pd.DataFrame | None = None, top: int = 5,
                    budget: Budget | None = None) -> str:
    """The report text; figure links are relative to ``out_dir`` (where it is written);
    ``budget``, when it is not the study's own, is reported beside it."""
    from explorer.search import summary

    out = Path(out_dir)
    attrs = view.attrs
    facts = summary(view.result)
    own = study_budget(view)
    lines = [f"# Search report: study `{view.name}`", "",
             f"- objective: `{attrs.get('objective', 'proxy')}`, latency budget: "
             + (own.describe() if own is not None else "none"),
             f"- search space: `{attrs.get('space', '?')}` (base `{attrs.get('space_base', '?')}`"
             f", varying {', '.join(attrs.get('space_dims', [])) or '?'})",
             f"- trials: {facts['trials_done']} done, {facts['feasible']} feasible"]
    if budget is not None and budget != own:
        within = int((view.trials["latency_ms"] <= budget.ms).sum())
        lines += [f"- budget drawn (given to this report): {budget.describe()}; {within} of "
                  f"{len(view.trials)} measured trials within it"]
    lines += tables.header_lines(view.trials) + [""]
    for fig in figures:
        if fig.suffix == ".png":
            lines += [f"![{fig.stem}]({fig.relative_to(out).as_posix()})", ""]
    best = view.result.best(top)
    lines += ["## Best architectures (feasible, by proxy)", ""]
    if best.empty:
        fastest = view.result.fastest()
        lines += [f"No trial met the budget; the fastest seen is trial {int(fastest.trial)} at "
                  f"{fastest.latency_ms:.3f} ms.", ""]
    else:
        lines += [_fmt_rows(best), ""] + _spec_details(view, best.head(3))
    pareto = view.result.pareto()
    if not pareto.empty:
        lines += ["## Pareto set (feasible trials no other beats on proxy and latency)", "",
                  _fmt_rows(pareto), ""]
    if references is not None and not references.empty:
        refs = pd.DataFrame({"model": references["name"].map(plots.short_name),
                             "latency ms": _column(references, "latency_ms", ".3f"),
                             "proxy": _column(references, "proxy", ".5g")})
        lines += ["## Reference models (same backend, threads and proxy)", "",
                  refs.to_markdown(index=False, disable_numparse=True), ""]
    if roadmap is not None:
        from explorer.roadmap import agreement

        lines += [_demote(tables.roadmap_markdown(roadmap, agreement(roadmap))), ""]
        if not same_setup(view, roadmap):
            lines += ["*The roadmap was measured on another backend/threads/proxy than the "
                      "study, so it is not drawn on the Pareto plot.*", ""]
        if (out / "roadmap.png").exists():
            lines += ["![roadmap](roadmap.png)", ""]
    return "\n".join(lines)


def write_report(view: StudyView, out_dir: str | Path = "results",
                 roadmap: pd.DataFrame | None = None, references: bool = True,
                 top: int = 5, progress: bool = True, budget: Budget | None = None,
                 **options: Any) -> list[Path]:
    """Pareto figure + ``report.md`` for a study (see :func:`load_study`) under ``out_dir``.
    Reference models are measured with the study's backend, threads and proxy
    (``options`` add seed, cache_dir, no_cache); ``budget`` defaults to the study's.
    Returns the written paths."""
    refs = study_references(view, progress, **options) if references else None
    figures = pareto_figure(view, out_dir, budget, roadmap=roadmap, references=refs)
    path = Path(out_dir) / "report.md"
    atomic_write_text(path, report_markdown(view, figures, out_dir, roadmap, refs, top,
                                            budget))
    return figures + [path]
