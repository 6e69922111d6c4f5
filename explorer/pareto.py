"""The Pareto front of a table of measured candidates: one definition for the search's
results and the plots."""
from __future__ import annotations

import pandas as pd


def pareto_front(df: pd.DataFrame, x: str = "latency_ms", y: str = "proxy") -> pd.DataFrame:
    """Rows not dominated by any other (lower ``x`` and higher ``y`` are better), sorted
    by ``x``. Rows missing either value are ignored."""
    rows = df.dropna(subset=[x, y]).sort_values([x, y], ascending=[True, False])
    keep, best = [], float("-inf")
    for idx, value in rows[y].items():
        if value > best:
            keep.append(idx)
            best = value
    return rows.loc[keep]
