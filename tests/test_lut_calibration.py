"""The latency predictor's calibration choice, on a fake backend with known costs: a unit
costs a known function of its size; a whole network costs its units' costs times a known
scale per group, plus an offset. Calibration must recover those scales, and must be
refused (plain sums kept) where there is nothing systematic to learn."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from explorer.measure import lut
from explorer.measure.analytic import counts
from explorer.measure.backends.base import Backend
from explorer.measure.backends.runtimes import RUNTIMES
from explorer.measure.timing import QUICK
from explorer.spec import BlockSpec, DownsampleSpec, HeadSpec, StageSpec, StemSpec
from tests.conftest import tiny_spec

SCALES = {"stem": 1.3, "down": 0.8, "block:ir": 1.1, "block:repvit": 0.9, "head": 2.0}
OFFSET_MS = 0.05


def unit_ms(module, example) -> float:
    """A unit's standalone cost: grows with its weights and its input."""
    return 1e-4 * sum(p.numel() for p in module.parameters()) / 10 + 1e-5 * example.numel()


class FakeBackend(Backend):
    """Times nothing: a runner returns the known cost (seconds) of what it was given."""

    name = "fake"
    same_thread = True

    def __init__(self, network_ms) -> None:
        self.network_ms = network_ms

    def runner(self, module, example, threads, label, clock="wall"):
        spec = getattr(module, "spec", None)
        ms = unit_ms(module, example) if spec is None else self.network_ms(module, spec)
        return lambda: ms / 1e3


def sums_by_group(network, spec) -> dict[str, float]:
    import torch

    out = dict.fromkeys(lut.GROUPS, 0.0)
    for unit in lut.units(spec):
        x = torch.zeros(1, unit.channels, unit.resolution, unit.resolution)
        out[lut.group(unit)] += unit_ms(lut._submodule(network, unit.path), x)
    return out


def scaled(network, spec) -> float:
    return sum(SCALES[g] * ms for g, ms in sums_by_group(network, spec).items()) + OFFSET_MS


def networks():
    """Varied tiny networks covering every group (stems, downsampling units, both block
    kinds, both heads) at several sizes, so every scale is identifiable."""
    out = []
    for i, (kind, width, res) in enumerate(itertools.product(
            ("repvit", "ir"), (16, 24, 40), (32, 48))):
        base = tiny_spec(kind, "early_conv" if i % 2 else "mbv3",
                         "classifier" if i % 3 else "mbv3", resolution=res)
        stem = (StemSpec("early_conv", (8, width), ("gelu", "none")) if i % 2
                else StemSpec("mbv3", (width, 16), ("hswish", "relu")))
        stages = (StageSpec((BlockSpec(kind, width, 3, 2.0, 1, False),)),
                  StageSpec((BlockSpec(kind, 2 * width, 3, 2.0, 1, True),),
                            DownsampleSpec(width + 8)))
        head = HeadSpec("mbv3", (width * 2, 64), "hswish") if base.head.kind == "mbv3" \
            else base.head
        out.append(base.replace(stem=stem, stages=stages, head=head, name=f"n{i}"))
    return out


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(lut, "UNIT_PROTOCOL", QUICK)
    monkeypatch.setattr(lut, "NETWORK_PROTOCOL", QUICK)

    def install(network_ms):
        monkeypatch.setitem(RUNTIMES, "fake", lambda: FakeBackend(network_ms))
    return install


def test_calibration_recovers_known_group_scales(tmp_path, fake):
    fake(scaled)
    specs = networks()
    table = lut.build_table([], specs[:10], "fake", cache_dir=tmp_path,
                            path=tmp_path / "t.json", progress=False)
    cal = table.calibration
    assert cal["used"] and cal["chosen"] == "group scales" and table.calibrated
    assert cal["scale"] == pytest.approx([SCALES[g] for g in lut.GROUPS], rel=1e-4)
    assert cal["offset"] == pytest.approx(OFFSET_MS, rel=1e-3)
    assert cal["loo_mean_abs_pct_error"] < 0.1 and cal["plain_mean_abs_pct_error"] > 5
    assert cal["summary"].startswith("calibrated (group scales)")
    for spec in specs[10:]:  # held out: predicted as the fake backend runs them
        from explorer.candidate import from_spec

        assert table.predict(spec) == pytest.approx(scaled(from_spec(spec).deployed, spec),
                                                    rel=1e-4)
    result = lut.validate(table, specs[10:], cache_dir=tmp_path, progress=False)
    assert result["applied"] == "group scales" and result["median_abs_pct_error"] < 0.1
    assert result["by_predictor"]["plain sums"]["median_abs_pct_error"] > 5


def test_calibration_is_refused_where_it_does_not_help(tmp_path, fake):
    """Networks cost their plain sums +-4% (noise in a pattern unrelated to the networks'
    make-up: nothing to learn): every calibration model predicts held-out networks worse
    than the sums, so none is used. (Signs alternating with the stem kind would be a real
    stem effect, and the group scales rightly learn it.)"""
    signs = (1, 1, -1, -1, 1, -1, -1, 1, 1, -1, 1, -1)

    def noisy(network, spec):
        sign = signs[int(spec.name[1:])]
        return sum(sums_by_group(network, spec).values()) * (1 + 0.04 * sign)
    fake(noisy)
    specs = networks()
    table = lut.build_table([], specs[:10], "fake", cache_dir=tmp_path,
                            path=tmp_path / "t.json", progress=False)
    cal = table.calibration
    assert not cal["used"] and cal["chosen"] == "plain sums" and not table.calibrated
    assert cal["plain_mean_abs_pct_error"] == pytest.approx(4, abs=0.01)
    assert min(cal["loo_by_model"].values()) > cal["plain_mean_abs_pct_error"]
    assert "does not beat" in cal["summary"]
    assert cal["scale"] == [1.0] * len(lut.GROUPS) and cal["offset"] == 0.0
    spec = specs[11]
    assert table.predict(spec) == pytest.approx(float(table.sums(spec).sum()), rel=1e-12)
    reloaded = lut.LatencyTable(tmp_path / "t.json", "fake")  # the choice is stored
    assert reloaded.calibration["chosen"] == "plain sums" and not reloaded.calibrated
    result = lut.validate(table, specs[10:], cache_dir=tmp_path, progress=False)
    assert result["applied"] == "plain sums"
    assert set(result["by_predictor"]) == {"plain sums", "calibrated"}


def test_an_exact_table_keeps_plain_sums():
    """Plain sums with zero error cannot be beaten: no calibration is fitted in."""
    sums = np.array([[1.0, 0, 0, 2.0, 0.5], [1.2, 0, 0, 3.0, 0.5], [0.8, 0, 0, 1.0, 0.6],
                     [1.1, 0, 0, 5.0, 0.4]])
    cal = lut.calibrate(sums, sums.sum(axis=1))
    assert cal["chosen"] == "plain sums" and cal["plain_mean_abs_pct_error"] == 0.0


def test_calibration_networks_span_the_spaces_sizes():
    spaces = lut.default_spaces()
    specs = lut.calibration_specs(spaces, 12)
    assert len(specs) == 12 and specs == lut.calibration_specs(spaces, 12)
    from explorer.search_space import load_space

    for path in spaces:
        space = load_space(path)
        mine = [s for s in specs if s.name.startswith(path.stem)]
        macs = [counts(s).macs for s in mine]
        assert len(mine) == 6 and macs == sorted(macs)
        assert mine[0].hash == space.smallest().hash and mine[-1].hash == space.largest().hash
        # spread: the middle picks are not bunched (random draws crowd the median)
        assert len({m // (macs[-1] // 20) for m in macs}) >= 5


def test_a_disturbed_round_is_retaken_not_kept(tmp_path, monkeypatch):
    """A take during which the process got too little CPU (another process held the core)
    is retaken, never kept; after MAX_RETAKES the least disturbed take stands, marked."""
    from explorer.measure.timing import disturbed

    shares: list[float] = []

    def measure(candidate, impl, threads, no_cache, cache_dir, protocol):
        share = shares.pop(0)
        return {"latency_ms": 5.0 if share > 0.9 else 10.0 / share, "cpu_share": share,
                "threads": 1, "clock": "thread_cpu"}
    monkeypatch.setattr(lut, "measure_with", measure)
    monkeypatch.setattr(lut, "runtime", lambda name: None)
    spec = networks()[0]
    shares[:] = [0.5, 0.97, 0.99]  # round 1: disturbed, retaken; round 2: clean
    (first, second), = lut.real_latencies([spec], "x", 1, tmp_path, "x", progress=False)
    assert first == {"latency_ms": 5.0, "cpu_share": 0.97, "retakes": 1, "disturbed": False}
    assert second["retakes"] == 0 and lut.best([first, second]) == 5.0 and not shares
    shares[:] = [0.5, 0.6, 0.4, 0.3] + [0.98]  # never clean: the best of 1 + 3 takes stays
    (first, second), = lut.real_latencies([spec], "x", 1, tmp_path, "x", progress=False)
    assert first["retakes"] == lut.MAX_RETAKES and first["disturbed"]
    assert first["cpu_share"] == 0.6 and not second["disturbed"]
    assert disturbed({"cpu_share": 0.5, "threads": 1, "clock": "thread_cpu"})
    assert disturbed({"cpu_share": 1.5, "threads": 2, "clock": "wall"})
    assert not disturbed({"cpu_share": 1.95, "threads": 2, "clock": "wall"})
    assert not disturbed({"cpu_share": 0.1, "threads": None, "clock": "cuda_events"})
    assert not disturbed({"latency_ms": 3.0})  # cached before shares were recorded


def test_timing_records_the_cpu_share():
    """A runner that waits off the CPU (as when pre-empted) gets a low share; one that
    computes gets more (not asserted near 1: this machine is shared)."""
    import time

    from explorer.measure.timing import QUICK, time_runner

    def waiting() -> float:
        time.sleep(0.002)
        return 0.002

    def computing() -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.002:
            pass
        return 0.002
    idle, busy = time_runner(waiting, QUICK), time_runner(computing, QUICK)
    assert idle.cpu_share < 0.2 and busy.cpu_share > idle.cpu_share
