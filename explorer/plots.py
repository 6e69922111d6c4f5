"""Figures people look at instead of tables: the accuracy-latency Pareto plot and the
roadmap figure (ours beside the paper's), written as PNG and SVG.

The functions take plain DataFrames (a study's trials, the roadmap table, measured
reference models) so they draw anything with the right columns, and never measure.
Colours are fixed per series so every figure reads the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from explorer import backend_columns as bc
from explorer.pareto import pareto_front

#: one colour per series, shared by every figure
COLORS = {
    "ours": "#1f77b4",
    "paper": "#ff7f0e",
    "feasible": "#1f77b4",
    "infeasible": "#9e9e9e",
    "front": "#d62728",
    "budget": "#2ca02c",
    "roadmap": "#ff7f0e",
    "reference": "#000000",
}
#: one colour per latency backend of a multi-backend roadmap, in the order given
BACKEND_COLORS = (COLORS["ours"], "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
FORMATS = ("png", "svg")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "explorer"  # stable SVG ids: diffs show real changes
    plt.rcParams["svg.fonttype"] = "none"  # SVG text stays text: searchable, smaller
    return plt


def _save(fig: Any, out_dir: str | Path, stem: str) -> list[Path]:
    """Save ``fig`` as stem.png and stem.svg, each written atomically."""
    from explorer.files import atomic_path, make_dir

    out = make_dir(out_dir)
    paths = []
    for fmt in FORMATS:
        path = out / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight",
                        metadata={"Date": None} if fmt == "svg" else None)
        paths.append(path)
    _pyplot().close(fig)
    return paths


def first_value(df: pd.DataFrame | None, col: str) -> Any:
    """The first non-missing value of ``col`` (None if the frame or column has none)."""
    if df is None or col not in df or not df[col].notna().any():
        return None
    return df[col].dropna().iloc[0]


def _setup_title(frames: Sequence[pd.DataFrame | None], title: str, info: str | None) -> str:
    """Title with the backend and threads every latency on the figure was taken with."""
    backend = next((b for f in frames if (b := first_value(f, "backend")) is not None), None)
    threads = next((t for f in frames if (t := first_value(f, "threads")) is not None), None)
    parts = []
    if backend is not None:
        parts.append(f"backend {backend}" + (f", {int(threads)} thread(s)"
                                             if threads is not None else ""))
    if info:
        parts.append(info)
    return title + ("\n" + ", ".join(parts) if parts else "")


def _feasible(trials: pd.DataFrame) -> pd.Series:
    if "feasible" in trials:
        return trials["feasible"].fillna(False).astype(bool)
    return pd.Series(True, index=trials.index)


#: label positions tried in turn (points from the marker), until one overlaps nothing
_OFFSETS = ((5, 4), (5, -10), (-6, 4), (-6, -10), (4, 12), (-4, 12), (4, -18), (-4, -18),
            (10, -2), (-10, -2))


def _marker_box(ax: Any, x: float, y: float, radius: float = 4.0) -> Any:
    """The display-space box a marker at data point (x, y) covers, so labels avoid it."""
    from matplotlib.transforms import Bbox

    px, py = ax.transData.transform((x, y))
    return Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)


def _label_points(ax: Any, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str],
                  color: str, placed: list[Any]) -> None:
    """Annotate points, each label at the first offset that overlaps nothing ``placed``
    (marker and label boxes, shared across calls) or else the one overlapping least."""
    renderer = ax.figure.canvas.get_renderer()
    for x, y, text in zip(xs, ys, labels, strict=True):
        best = None
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                              fontsize=7, color=color, ha="right" if dx < 0 else "left",
                              bbox={"boxstyle": "square,pad=0.1", "fc": "white",
                                    "alpha": 0.75, "lw": 0})
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            hits = sum(box.overlaps(other) for other in placed)
            if best is None or hits < best[0]:
                if best is not None:
                    best[1].remove()
                best = (hits, ann, box)
            else:
                ann.remove()
            if hits == 0:
                break
        placed.append(best[2])


def _wide_range(frames: Sequence[pd.DataFrame | None], ratio: float = 20.0) -> bool:
    """Whether latencies span more than ``ratio``: a log axis keeps small trials readable
    beside large reference models."""
    values = pd.concat([f["latency_ms"] for f in frames
                        if f is not None and "latency_ms" in f]).dropna()
    values = values[values > 0]
    return bool(len(values)) and values.max() / values.min() > ratio


def _draw_trials(ax: Any, trials: pd.DataFrame) -> None:
    """Infeasible trials as grey crosses, feasible ones as dots, and their front."""
    ok = _feasible(trials)
    bad, good = trials[~ok], trials[ok]
    if len(bad):
        ax.scatter(bad["latency_ms"], bad["proxy"], marker="x", s=18,
                   color=COLORS["infeasible"], label=f"infeasible trials ({len(bad)})")
    ax.scatter(good["latency_ms"], good["proxy"], s=16, alpha=0.6,
               color=COLORS["feasible"], label=f"feasible trials ({len(good)})")
    front = pareto_front(good)
    if len(front):
        ax.plot(front["latency_ms"], front["proxy"], drawstyle="steps-post", lw=1.8,
                color=COLORS["front"], marker="o", ms=5, mfc="none",
                label=f"Pareto front ({len(front)})")


def plot_pareto(trials: pd.DataFrame, out_dir: str | Path, budget_ms: float | None = None,
                roadmap: pd.DataFrame | None = None, references: pd.DataFrame | None = None,
                title_info: str | None = None, stem: str = "pareto",
                budget_label: str | None = None) -> list[Path]:
    """Proxy (y) against latency (x): trials (feasible filled, infeasible grey crosses),
    the feasible Pareto front as a step line, the budget (``budget_label`` says where it
    came from), the roadmap trajectory and reference models. Every frame needs
    ``latency_ms`` and ``proxy``; references and roadmap rows are labelled by ``name`` /
    ``step``. Returns the written paths."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    trials = trials.dropna(subset=["latency_ms", "proxy"]) if len(trials) else trials
    if len(trials):
        _draw_trials(ax, trials)
    if budget_ms is not None:
        ax.axvline(budget_ms, color=COLORS["budget"], ls="--", lw=1.5,
                   label=budget_label or f"latency budget {budget_ms:g} ms")
    labels = []  # (frame, label column, colour): labelled once all limits are known
    if roadmap is not None and len(roadmap):
        path = roadmap[roadmap["on_path"]] if "on_path" in roadmap else roadmap
        path = path.dropna(subset=["latency_ms", "proxy"])
        ax.plot(path["latency_ms"], path["proxy"], "-s", ms=4, lw=1, alpha=0.9,
                color=COLORS["roadmap"], label="roadmap steps")
        # steps with the same deployed model (e.g. recipe-only edits) share one label
        same = path.assign(step=path["step"].astype(str)).groupby(
            ["latency_ms", "proxy"], sort=False)["step"].agg("/".join).reset_index()
        labels.append((same, same["step"], COLORS["roadmap"]))
    if references is not None and len(references):
        refs = references.dropna(subset=["latency_ms", "proxy"])
        ax.scatter(refs["latency_ms"], refs["proxy"], marker="D", s=30,
                   color=COLORS["reference"], label="zoo reference models", zorder=3)
        labels.append((refs, refs["name"].map(short_name), COLORS["reference"]))
    ax.margins(0.08)
    log_x = _wide_range([trials, roadmap, references, pd.DataFrame({"latency_ms": [budget_ms]})])
    if log_x:
        from matplotlib.ticker import FuncFormatter, LogLocator

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    fig.canvas.draw()  # fixes the axes limits so label boxes can be measured
    # labels avoid every marker (trials included) and each other
    placed: list[Any] = [_marker_box(ax, x, y) for frame in [trials] + [f for f, _, _ in labels]
                         if len(frame)
                         for x, y in zip(frame["latency_ms"], frame["proxy"], strict=True)]
    for frame, texts, color in labels:
        _label_points(ax, frame["latency_ms"], frame["proxy"], texts, color, placed)
    proxy_name = next((p for f in (trials, roadmap, references)
                       if (p := first_value(f, "proxy_name")) is not None), None)
    ax.set_xlabel("latency (ms, batch 1, deployed model; lower is better"
                  + ("; log scale)" if log_x else ")"))
    ax.set_ylabel(f"accuracy proxy{f' ({proxy_name})' if proxy_name else ''} "
                  "(higher is better)")
    ax.set_title(_setup_title([trials, roadmap, references], "Accuracy proxy vs latency",
                              title_info), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _save(fig, out_dir, stem)


def short_name(name: str) -> str:
    """'repvit_m0_9' -> 'RepViT-M0.9', 'mobilenetv3_large_100' -> 'MobileNetV3-L'."""
    if name.startswith("repvit_m"):
        return "RepViT-M" + name[len("repvit_m"):].replace("_", ".")
    if name.startswith("mobilenetv3_large"):
        return "MobileNetV3-L"
    return name


def _step_axis(ax: Any, df: pd.DataFrame) -> None:
    ax.set_xticks(range(len(df)))
    ax.set_xticklabels([f"{s}" for s in df["step"]], fontsize=8)
    ax.set_xlabel("roadmap step (italic ticks: off the main path)")
    for tick, on_path in zip(ax.get_xticklabels(), df["on_path"], strict=True):
        if not on_path:
            tick.set_style("italic")
    ax.grid(alpha=0.3)


def _series(ax: Any, df: pd.DataFrame, col: str, color: str, label: str, marker: str) -> Any:
    """One series over the steps: a line along the main path, lone markers off it."""
    xs = pd.Series(range(len(df)), index=df.index)
    on = df["on_path"].astype(bool)
    values = df[col] if col in df else pd.Series(float("nan"), index=df.index)
    (line,) = ax.plot(xs[on], values[on], marker=marker, color=color, label=label, ms=5)
    ax.plot(xs[~on], values[~on], marker=marker, ls="none", color=color, mfc="none", ms=6)
    return line


def plot_roadmap(df: pd.DataFrame, out_dir: str | Path, title_info: str | None = None,
                 stem: str = "roadmap") -> list[Path]:
    """Four panels per step, ours (blue) beside the paper's (orange): latency relative to
    step 0 (the paper's is an iPhone 12, ours this machine, so only ratios compare; a
    table measured on several backends shows one series per backend),
    proxy vs paper top-1, params and MACs (the paper gives them only at the ends)."""
    plt = _pyplot()
    df = df.reset_index(drop=True)
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    (lat, acc), (par, mac) = axes

    backends = bc.backends(df)
    for backend, color in zip(backends, BACKEND_COLORS, strict=False):
        _series(lat, df, bc.column("latency_rel", backend), color,
                bc.label(backend, "ours"), "o")
    _series(lat, df, "paper_latency_rel", COLORS["paper"], "paper iPhone 12", "s")
    if len(backends) > 1:
        lat.legend(fontsize=7, frameon=False)
    lat.axhline(1.0, color="grey", lw=0.8, ls=":")
    lat.set_ylabel("latency ÷ step 0 latency")
    lat.set_title("Latency relative to step 0", fontsize=10)

    ours = _series(acc, df, "proxy", COLORS["ours"], "our proxy", "o")
    acc.set_ylabel(f"accuracy proxy ({first_value(df, 'proxy_name') or '–'})",
                   color=COLORS["ours"])
    twin = acc.twinx()
    paper = _series(twin, df, "paper_top1", COLORS["paper"], "paper top-1", "s")
    twin.set_ylabel("paper ImageNet top-1 (%)", color=COLORS["paper"])
    acc.set_title("Accuracy: our proxy vs the paper's top-1", fontsize=10)

    xs = pd.Series(range(len(df)), dtype=float)
    for ax, col, scale, unit in ((par, "params", 1e6, "params (M)"),
                                 (mac, "macs", 1e9, "MACs (G) = paper's FLOPs")):
        ours_values = df[col] / scale if col in df else pd.Series(float("nan"), index=df.index)
        ax.bar(xs - 0.2, ours_values, width=0.4, color=COLORS["ours"])
        ax.bar(xs + 0.2, df[f"paper_{col}"] / scale, width=0.4, color=COLORS["paper"])
        ax.set_ylabel(unit)
        ax.set_title(f"{unit.split(' ')[0].replace('params', 'Params')} per step",
                     fontsize=10)

    for ax in (lat, acc, par, mac):
        _step_axis(ax, df)
    # one legend for the whole figure: the colours mean the same thing in every panel
    fig.legend([ours, paper], ["ours: this machine's latency ratio, our proxy, deployed model",
                               "paper: iPhone 12 latency ratio, ImageNet top-1 (no KD except "
                               "step 10), params/MACs at the ends"],
               loc="upper center", bbox_to_anchor=(0.5, 0.935), ncol=2, fontsize=8,
               frameon=False)
    fig.suptitle(_setup_title([df], "RepViT roadmap: MobileNetV3-L → RepViT-M0.9", title_info),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, out_dir, stem)
