"""Markdown/CSV renderings of result frames (roadmap, ablation), written atomically.

Reports (explorer.report) embed the same renderings, so there is one formatting of
each table."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from explorer import backend_columns as bc
from explorer.files import atomic_write_text
from explorer.machine import machine_info, versions


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return format(value, fmt)


def header_lines(df: pd.DataFrame) -> list[str]:
    """Backend, threads, machine and library versions, for every table we publish."""
    m = machine_info()
    v = versions()
    backend = df["backend"].dropna().iloc[0] if "backend" in df and df["backend"].notna().any() \
        else "–"
    threads = int(df["threads"].dropna().iloc[0]) if "threads" in df and \
        df["threads"].notna().any() else "–"
    proxy = df["proxy_name"].dropna().iloc[0] if "proxy_name" in df and \
        df["proxy_name"].notna().any() else "–"
    return [f"- backend: `{backend}`, threads: {threads}, batch 1, deployed (fused) models",
            f"- accuracy proxy: `{proxy}`",
            f"- machine: {m['cpu']} ({m['cores']} cores, {m['system']} {m['machine']}, "
            f"fingerprint {m['fingerprint']})",
            "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items())]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


def _latency_cells(r: dict[str, Any], backend: str | None, rel: str) -> dict[str, str]:
    """A row's latency (± half its IQR, where the backend measures one) and its ratio
    ``rel``, headed by the backend's name in a multi-backend table."""
    ms, spread = r.get(bc.column("latency_ms", backend)), r.get(bc.column("latency_iqr_ms",
                                                                           backend))
    lat = "–" if not _number(ms) else f"{ms:.2f}" + (f" ± {spread / 2:.2f}"
                                                      if _number(spread) else "")
    name = bc.label(backend, "latency")
    return {f"{name} ms (±IQR/2)": lat,
            rel if backend is None else f"{backend} {rel}":
            _fmt(r.get(bc.column("latency_rel", backend)), ".2f")}


def _macs_flops_note(df: pd.DataFrame) -> list[str]:
    """What the MACs column counts, its relation to FLOPs, and which operators fvcore
    skipped in these models (each row's own list is ``macs_uncounted_ops`` in the CSV)."""
    if "macs" not in df:
        return []
    skipped = sorted({op for ops in df.get("macs_uncounted_ops", pd.Series(dtype=object))
                      if isinstance(ops, (list, tuple)) for op in ops})
    note = ("MACs are multiply-accumulates of convolutions and linear layers as fvcore "
            "counts them, the quantity the paper calls FLOPs; the CSV/JSON also carry "
            "`flops` = 2 × MACs (torch's FlopCounterMode convention).")
    if skipped:
        note += f" Not counted (no fvcore rule): {', '.join(f'`{op}`' for op in skipped)}."
    return [note]


def _agreement_lines(df: pd.DataFrame, agreement: dict[str, dict[str, Any]], rows: str,
                     top1: str) -> list[str]:
    """One Kendall tau line per backend's latency, and one for the proxy."""
    labels = {bc.column("latency_vs_paper_latency", b):
              f"{bc.label(b, 'our')} latency vs paper iPhone 12 latency"
              for b in bc.backends(df)}
    labels["proxy_vs_paper_top1"] = f"our proxy vs paper top-1 ({top1})"
    return [f"- Kendall tau, {label}: **{_fmt(agreement[key]['kendall_tau'], '.2f')}** "
            f"(n = {agreement[key]['n']} {rows})"
            for key, label in labels.items() if key in agreement]


def roadmap_markdown(df: pd.DataFrame, agreement: dict[str, dict[str, Any]]) -> str:
    """The roadmap table: our measurements beside the paper's, then the agreement."""
    rows = []
    for r in df.to_dict("records"):
        paper_pm = "–"
        if r.get("paper_params") == r.get("paper_params") and r.get("paper_params"):
            paper_pm = f"{r['paper_params'] / 1e6:.1f}M / {r['paper_macs'] / 1e9:.2f}G"
        step = r["step"] if r["on_path"] else f"*{r['step']}*"
        row = {"step": step, "edit": r["title"],
               "params (M)": _fmt(r.get("params", float("nan")) / 1e6, ".2f"),
               "MACs (G) = paper's FLOPs": _fmt(r.get("macs", float("nan")) / 1e9, ".3f")}
        for backend in bc.backends(df):
            row.update(_latency_cells(r, backend, "× step 0"))
        rows.append({
            **row,
            "proxy": _fmt(r.get("proxy"), ".4g"),
            "paper iPhone12 ms": _fmt(r.get("paper_latency_ms"), ".2f"),
            "paper × step 0": _fmt(r.get("paper_latency_rel"), ".2f"),
            "paper top-1 %": _fmt(r.get("paper_top1"), ".1f"),
            "paper params/MACs": paper_pm,
        })
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    lines = ["# RepViT roadmap: MobileNetV3-L → RepViT-M0.9", ""]
    lines += header_lines(df)
    lines += ["", table, "",
              ("*Italic* rows are off the main path (the paper's control experiment). "
               "Params/MACs are the deployed (fused, single-head) model.")]
    lines += _macs_flops_note(df)
    lines += ["", "## Agreement with the paper", ""]
    lines += _agreement_lines(df, agreement, "steps", "no-KD steps with a number")
    return "\n".join(lines) + "\n"


def se_markdown(df: pd.DataFrame, agreement: dict[str, dict[str, Any]]) -> str:
    """The paper's SE-placement table (Table 7): our measurements beside the paper's."""
    from explorer.plots import short_name

    rows = []
    for r in df.to_dict("records"):
        row = {"model": short_name(r["model"]), "SE placement": r["placement"],
               "params (M)": _fmt(r.get("params", float("nan")) / 1e6, ".2f"),
               "MACs (G) = paper's FLOPs": _fmt(r.get("macs", float("nan")) / 1e9, ".3f"),
               "FLOPs (G) = 2×MACs": _fmt(r.get("flops", float("nan")) / 1e9, ".3f")}
        for backend in bc.backends(df):
            row.update(_latency_cells(r, backend, "× no SE"))
        rows.append({**row, "proxy": _fmt(r.get("proxy"), ".4g"),
                     "paper iPhone12 ms": _fmt(r.get("paper_latency_ms"), ".2f"),
                     "paper × no SE": _fmt(r.get("paper_latency_rel"), ".2f"),
                     "paper top-1 % (KD)": _fmt(r.get("paper_top1"), ".2f")})
    lines = ["# SE placement: RepViT paper Table 7, measured", ""] + header_lines(df)
    lines += ["", pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), "",
              ("Paper: iPhone 12 (Core ML) latency and ImageNet top-1 with distillation, "
               "300 epochs. SE is never placed in the downsampling units. Params/MACs are "
               "the deployed (fused) model.")]
    lines += _macs_flops_note(df)
    lines += ["", "## Agreement with the paper", ""]
    lines += _agreement_lines(df, agreement, "rows", "distilled")
    return "\n".join(lines) + "\n"


def ablation_markdown(df: pd.DataFrame) -> str:
    rows = []
    for r in df.to_dict("records"):
        ok = r["status"] == "ok"
        row = {"removed edit": r["removed"],
               "params (M)": _fmt(r.get("params", float("nan")) / 1e6, ".2f") if ok else "–",
               "MACs (G)": _fmt(r.get("macs", float("nan")) / 1e9, ".3f") if ok else "–"}
        for b in bc.backends(df):
            name = bc.label(b, "latency")
            row[f"{name} ms"] = _fmt(r.get(bc.column("latency_ms", b)), ".2f") if ok else "–"
            row[f"Δ {name} ms"] = (_fmt(r.get(bc.column("latency_ms_delta", b)), "+.2f")
                                   if ok else "–")
        rows.append({**row,
                     "proxy": _fmt(r.get("proxy"), ".4g") if ok else "–",
                     "Δ proxy": _fmt(r.get("proxy_delta"), "+.3g") if ok else "–",
                     "status": "ok" if ok else r["status"]})
    lines = ["# Roadmap ablation: the full roadmap minus one edit", ""] + header_lines(df)
    lines += ["", pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines)


#: columns a table's JSON carries per row (with every backend's latency columns)
_JSON_COLUMNS = ("step", "model", "placement", "edit", "title", "on_path", "params", "macs",
                 "flops", "macs_uncounted_ops", "proxy", "proxy_name", "backend", "threads",
                 "paper_latency_ms", "paper_latency_rel", "paper_top1", "paper_params",
                 "paper_macs")
_JSON_LATENCY = ("latency_ms", "latency_iqr_ms", "latency_rel")


def json_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The table's rows for its JSON file: identity, complexity (``macs`` and ``flops``),
    every backend's latency, the proxy and the paper's numbers; missing values are null."""
    cols = [c for c in df.columns
            if c in _JSON_COLUMNS or c.split("[")[0] in _JSON_LATENCY]
    sub = df[cols].astype(object)
    return sub.where(sub.notna(), None).to_dict("records")


def write_table(df: pd.DataFrame, markdown: str, out_dir: str | Path, stem: str,
                extra_json: dict[str, Any] | None = None) -> list[Path]:
    """Write ``stem``.csv and ``stem``.md (and ``stem``.json if given), atomically."""
    out = Path(out_dir)
    paths = [out / f"{stem}.csv", out / f"{stem}.md"]
    atomic_write_text(paths[0], df.to_csv(index=False))
    atomic_write_text(paths[1], markdown)
    if extra_json is not None:
        paths.append(out / f"{stem}.json")
        atomic_write_text(paths[2], json.dumps(extra_json, indent=2, default=str))
    return paths
