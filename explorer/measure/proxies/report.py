"""Validation result files: PREFIX.json (summary + per-model scores) and PREFIX.md."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.files import atomic_write_text

if TYPE_CHECKING:
    from explorer.measure.proxies.validation import Validation


def write_report(result: Validation, summary: dict[str, Any], prefix: Path,
                 reference: str) -> None:
    """Write both files atomically; the Markdown names the command that made it."""
    import pandas as pd

    scores = pd.DataFrame([{"model": m, "top1": t, **result.scores.get(m, {})}
                           for m, t in result.top1.items()])
    payload = {**summary, "reference": reference,
               "scores": json.loads(scores.to_json(orient="records"))}
    atomic_write_text(Path(f"{prefix}.json"), json.dumps(payload, indent=1) + "\n")
    rows = [{"proxy": name + (" (default)" if name == summary["default"] else ""),
             "kendall_tau": r["kendall_tau"], "spearman": r["spearman"], "n": r["n"],
             "failed": len(r["failed"]), "s/model": r["seconds_per_model"]}
            for name, r in summary["results"].items()]
    command = (f"explorer proxy validate --reference {reference} --proxies "
               f"{','.join(result.proxies)}{' --unseen' if result.excluded else ''} "
               f"--out {prefix}")
    lines = [f"# Proxy validation: {reference}", "", f"Made by `{command}`.", "",
             pd.DataFrame(rows).to_markdown(index=False), ""]
    if "fitted" in result.proxies:
        note = ("`fitted` scores every model whose architecture is in its fit table (under "
                "any name: twins are matched by features) with a refit that left those rows "
                "out, so no row here is an in-sample fit; `explorer proxy fit` prints the "
                "leave-family-out figure too.")
        lines += [note, ""]
    if result.excluded:
        lines += ["## Rows left out (--unseen): architecture in the fit table", "",
                  *(f"- {m}: twin of {', '.join(t)}" for m, t in result.excluded.items()), ""]
    failures = [f"- {name} on {f['model']}: {f['error']}"
                for name, r in summary["results"].items() for f in r["failed"]]
    if failures:
        lines += ["## Failed rows", "", *failures, ""]
    lines += ["## Scores per model", "", scores.round(4).to_markdown(index=False), ""]
    atomic_write_text(Path(f"{prefix}.md"), "\n".join(lines))
