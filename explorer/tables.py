"""Markdown/CSV renderings of result frames (roadmap, ablation), written atomically.

Reports (explorer.report) embed the same renderings, so there is one formatting of
each table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from explorer.machine import machine_info, versions
from explorer.measure.cache import atomic_write_text


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


def roadmap_markdown(df: pd.DataFrame, agreement: dict[str, dict[str, Any]]) -> str:
    """The roadmap table: our measurements beside the paper's, then the agreement."""
    rows = []
    for r in df.to_dict("records"):
        lat = "–"
        if r.get("latency_ms") == r.get("latency_ms") and r.get("latency_ms") is not None:
            lat = f"{r['latency_ms']:.2f} ± {r.get('latency_iqr_ms', 0) / 2:.2f}"
        paper_pm = "–"
        if r.get("paper_params") == r.get("paper_params") and r.get("paper_params"):
            paper_pm = f"{r['paper_params'] / 1e6:.1f}M / {r['paper_macs'] / 1e9:.2f}G"
        step = r["step"] if r["on_path"] else f"*{r['step']}*"
        rows.append({
            "step": step,
            "edit": r["title"],
            "params (M)": _fmt(r.get("params", float("nan")) / 1e6, ".2f"),
            "MACs (G)": _fmt(r.get("macs", float("nan")) / 1e9, ".3f"),
            "latency ms (±IQR/2)": lat,
            "× step 0": _fmt(r.get("latency_rel"), ".2f"),
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
              "*Italic* rows are off the main path (the paper's control experiment). "
              "Params/MACs are the deployed (fused, single-head) model; MACs counted by fvcore.",
              "", "## Agreement with the paper", ""]
    names = {"latency_vs_paper_latency": "our latency vs paper iPhone 12 latency",
             "proxy_vs_paper_top1": "our proxy vs paper top-1 (no-KD steps with a number)"}
    for key, label in names.items():
        if key in agreement:
            tau = agreement[key]["kendall_tau"]
            lines.append(f"- Kendall tau, {label}: **{_fmt(tau, '.2f')}** "
                         f"(n = {agreement[key]['n']} steps)")
    return "\n".join(lines) + "\n"


def ablation_markdown(df: pd.DataFrame) -> str:
    rows = []
    for r in df.to_dict("records"):
        ok = r["status"] == "ok"
        rows.append({
            "removed edit": r["removed"],
            "params (M)": _fmt(r.get("params", float("nan")) / 1e6, ".2f") if ok else "–",
            "MACs (G)": _fmt(r.get("macs", float("nan")) / 1e9, ".3f") if ok else "–",
            "latency ms": _fmt(r.get("latency_ms"), ".2f") if ok else "–",
            "Δ latency ms": _fmt(r.get("latency_ms_delta"), "+.2f") if ok else "–",
            "proxy": _fmt(r.get("proxy"), ".4g") if ok else "–",
            "Δ proxy": _fmt(r.get("proxy_delta"), "+.3g") if ok else "–",
            "status": "ok" if ok else r["status"],
        })
    lines = ["# Roadmap ablation: the full roadmap minus one edit", ""] + header_lines(df)
    lines += ["", pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines)


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
