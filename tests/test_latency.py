"""Latency backends, the timing protocol and the latency cache (tiny models, few runs)."""
from __future__ import annotations

import json

import pytest
import torch

from explorer.candidate import from_spec
from explorer.cli import main
from explorer.errors import BackendError, MissingDependencyError
from explorer.measure import latency as L
from explorer.measure import measure
from explorer.measure.backends import base
from explorer.measure.backends import ort as ort_backend
from explorer.measure.backends.registry import get_backend
from explorer.measure.timing import QUICK, Protocol, summarize, time_runner
from tests.conftest import tiny_spec

KEYS = {"latency_ms", "latency_iqr_ms", "latency_cv", "backend", "threads", "resolution",
        "versions", "fingerprint", "samples", "seconds", "cached"}


def quick(candidate, backend="ort", **kw):
    return L.measure_latency(candidate, backend, protocol=QUICK, **kw)


def test_summarize_statistics():
    t = summarize([0.001, 0.002, 0.003, 0.004, 0.005])
    assert t.median_ms == pytest.approx(3.0)
    assert t.iqr_ms == pytest.approx(2.0)
    assert t.cv == pytest.approx(0.527, abs=1e-3)


def test_protocol_stops_when_median_settles():
    t = time_runner(lambda: 0.001, Protocol(warmup_s=0, min_samples=10, batch_s=0.0))
    assert t.stable and t.samples == 10 and t.median_ms == pytest.approx(1.0)


def test_protocol_gives_up_at_the_time_limit():
    values = iter(range(1, 10**6))  # a median that never settles
    t = time_runner(lambda: next(values) * 1e-3, Protocol(warmup_s=0, min_samples=5,
                                                          batch_s=0, max_samples=40))
    assert not t.stable and t.samples == 40


@pytest.mark.parametrize("backend", ["ort", "torch"])
def test_cpu_backends_measure_the_deployed_tiny_model(tmp_path, backend):
    c = from_spec(tiny_spec(resolution=32))
    row = quick(c, backend, cache_dir=tmp_path)
    assert set(row) >= KEYS
    assert row["backend"] == backend and row["threads"] == 1 and row["resolution"] == 32
    assert 0 < row["latency_ms"] < 100 and row["latency_iqr_ms"] >= 0
    assert set(row["seconds"]) == {"build", "fuse", "export", "time", "total"}
    assert row["cached"] is False


def test_cache_hit_and_no_cache(tmp_path, monkeypatch):
    c = from_spec(tiny_spec(resolution=32))
    first = quick(c, cache_dir=tmp_path)
    calls = []
    real = ort_backend.OrtBackend.runner
    monkeypatch.setattr(ort_backend.OrtBackend, "runner",
                        lambda self, *a: calls.append(1) or real(self, *a))
    again = quick(from_spec(tiny_spec(resolution=32)), cache_dir=tmp_path)
    assert again["cached"] is True and calls == []
    assert again["latency_ms"] == first["latency_ms"]
    fresh = quick(c, cache_dir=tmp_path, no_cache=True)
    assert fresh["cached"] is False and calls == [1]
    # a different resolution or thread count is a different measurement
    assert quick(from_spec(tiny_spec(resolution=40)), cache_dir=tmp_path)["cached"] is False
    assert len(list((tmp_path / "latency").glob("*.json"))) == 2


def test_failed_measurement_leaves_no_cache_entry(tmp_path, monkeypatch):
    def boom(*_a, **_k):
        raise BackendError("export failed")
    monkeypatch.setattr(ort_backend, "onnx_bytes", boom)
    with pytest.raises(BackendError):
        quick(from_spec(tiny_spec(resolution=32)), cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.tmp"))


def test_cuda_without_gpu_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendError, match="no CUDA device"):
        quick(from_spec(tiny_spec(resolution=32)), "cuda", cache_dir=tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_measures_on_gpu(tmp_path):
    row = quick(from_spec(tiny_spec(resolution=32)), "cuda", cache_dir=tmp_path)
    assert row["latency_ms"] > 0 and row["threads"] is None


def test_bad_backend_and_threads(tmp_path, monkeypatch):
    c = from_spec(tiny_spec(resolution=32))
    with pytest.raises(BackendError, match="unknown latency backend 'tpu'.*ort"):
        quick(c, "tpu", cache_dir=tmp_path)
    monkeypatch.setattr(base.os, "cpu_count", lambda: 2)
    with pytest.raises(BackendError, match="--threads 3 is more than this machine's 2 cores"):
        quick(c, threads=3, cache_dir=tmp_path)
    with pytest.raises(BackendError, match="positive"):
        quick(c, threads=0, cache_dir=tmp_path)


def test_missing_optional_package_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match="pip install onnxruntime"):
        get_backend("ort").check()


def test_measure_metric_and_cli_json(tmp_path, capsys):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(tiny_spec(resolution=32).to_json())
    row = measure(from_spec(tiny_spec(resolution=32)), ["latency"], backend="torch",
                  cache_dir=tmp_path)
    assert row["backend"] == "torch" and row["latency_ms"] > 0
    argv = ["measure", "--spec", str(spec_file), "--metrics", "params,latency", "--backend",
            "torch", "--cache-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"params", "latency_ms", "latency_iqr_ms", "latency_cv", "backend",
            "threads"} <= set(out)
    assert out["cached"] is True  # same deploy hash as the API call above
    assert main([*argv[:-3], "--backend", "nope"]) == 2
    assert "unknown latency backend 'nope'" in capsys.readouterr().err


def test_thread_cpu_clock_ignores_waiting():
    """What makes 1-thread medians robust on a busy machine: time spent pre-empted (here:
    asleep) is not the model's."""
    import time

    from explorer.measure.timing import timed

    assert timed(lambda: time.sleep(0.05), "thread_cpu")() < 0.02
    assert timed(lambda: time.sleep(0.05), "wall")() >= 0.05


def test_clock_choice(monkeypatch):
    ort = get_backend("ort")
    assert ort.clock_for(1, Protocol()) == "thread_cpu"
    assert ort.clock_for(2, Protocol()) == "wall"
    assert ort.clock_for(1, Protocol(clock="wall")) == "wall"
    with pytest.raises(BackendError, match="cannot be timed with the thread CPU clock"):
        ort.clock_for(2, Protocol(clock="thread_cpu"))
    assert get_backend("cuda").clock_for(1, Protocol()) == "cuda_events"


def test_a_spec_is_exported_once_across_thread_counts(tmp_path, monkeypatch):
    """Measuring a candidate again at another thread count loads the ONNX it already
    exported (the export costs about as much as the timing): one export per spec."""
    exports = []
    real = ort_backend.onnx_bytes
    monkeypatch.setattr(ort_backend, "onnx_bytes", lambda *a: exports.append(a[2]) or real(*a))
    c = from_spec(tiny_spec(resolution=32))
    one = quick(c, cache_dir=tmp_path, threads=1)
    two = quick(c, cache_dir=tmp_path, threads=2)
    assert one["threads"] == 1 and two["threads"] == 2 and two["cached"] is False
    assert exports == [c.name]
    assert quick(c, cache_dir=tmp_path, threads=1, no_cache=True)["cached"] is False
    assert len(exports) == 1
    quick(from_spec(tiny_spec(resolution=40)), cache_dir=tmp_path)  # another network
    assert len(exports) == 2
