"""End to end with the real metrics: fvcore MACs, onnxruntime latency, default proxy."""
from __future__ import annotations

import pytest

from explorer.search import run_search
from explorer.search_space import parse_space

pytestmark = pytest.mark.slow


def test_real_metrics_search(tmp_path):
    space = parse_space({"base": "repvit_m0_9", "resolution": 32,
                         "widths": [16, 32, 64, [64, 128]], "depths": [1, 1, [1, 2], 1]},
                        "tiny-real")
    result = run_search(space, 1e3, 3, storage=str(tmp_path / "s.db"), study="real",
                        backend="ort", cache_dir=str(tmp_path / "cache"), progress=False,
                        sampler="random")
    df = result.trials_frame()
    assert len(df) == 3 and (df.state == "COMPLETE").all()
    assert (df.latency_ms > 0).all() and (df.macs > 0).all() and (df.params > 0).all()
    assert df.backend.eq("ort").all() and df.proxy_name.notna().all()
    spec = result.spec(int(df.trial.iloc[0]))
    assert spec.hash == df.spec_hash.iloc[0]
    assert not result.best().empty
