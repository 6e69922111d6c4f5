"""Analytic counts (explorer.measure.analytic) against fvcore and torch, which stay the
reference: every zoo spec and random specs of both shipped spaces (at a low resolution,
so the traces are quick; the arithmetic is the same at any size), plus odd corners."""
import dataclasses
import random

import pytest

from explorer import zoo
from explorer.bench.counts import analytic_row, run_bench, traced_row
from explorer.candidate import from_spec
from explorer.measure import analytic, measure
from explorer.search_space import SPACES_DIR, load_space
from explorer.spec import BlockSpec, DownsampleSpec, HeadSpec, StageSpec, StemSpec
from tests.conftest import tiny_spec


def odd_corners():
    """Odd resolution (uneven stride-2 rounding), kernels 5 and 7, fractional expansion,
    strided RepViT blocks, an mbv3 head on RepViT blocks, width changes without a
    residual, an mbv3 stem whose widths match (residual), relu/none activations, one
    input channel and few classes."""
    base = tiny_spec(resolution=75)
    stages = (StageSpec((BlockSpec("repvit", 24, 7, 1.5, 1, True, "relu"),
                         BlockSpec("repvit", 40, 5, 3.0, 2, False, "hswish"))),
              StageSpec((BlockSpec("ir", 40, 7, 2.3, 2, True, "gelu"),
                         BlockSpec("ir", 48, 3, 6.0, 1, False, "none")),
                        DownsampleSpec(32, kernel=5, expansion=2.5, act="relu")))
    yield base.replace(stages=stages, head=HeadSpec("mbv3", (64, 96), "relu"))
    yield base.replace(stem=StemSpec("mbv3", (16, 16), ("relu", "none")), stages=stages)
    yield base.replace(stem=StemSpec("early_conv", (8, 12, 16), ("gelu", "none", "relu")),
                       resolution=33)
    yield tiny_spec(distillation=True)
    yield tiny_spec(resolution=40).replace(in_chans=1, num_classes=7)  # grey input
    yield tiny_spec("ir", "mbv3", "mbv3", resolution=97)


def samples(n_per_space, seed=0):
    rng = random.Random(seed)
    for path in sorted(SPACES_DIR.glob("*.yaml")):
        space = load_space(path)
        for _ in range(n_per_space):
            yield space.sample(rng).replace(resolution=rng.choice((48, 64, 65)))


@pytest.mark.parametrize("spec", [
    *(zoo.get_spec(n).replace(resolution=64) for n in zoo.list_models()),
    *odd_corners(), *samples(2)], ids=lambda s: s.name or s.hash)
def test_equal_to_fvcore_and_torch(spec):
    assert analytic_row(spec) == traced_row(spec)


def test_full_resolution_zoo_model():
    spec = zoo.get_spec("repvit_m0_9")
    assert analytic_row(spec) == traced_row(spec)


def test_metrics_use_arithmetic_for_specs(monkeypatch, tmp_path):
    """params/macs/flops of a spec candidate never build the network; a module candidate
    (no spec) still goes through fvcore, and both agree."""
    spec = tiny_spec()
    cand = from_spec(spec)
    row = measure(cand, ["params", "macs", "flops"], cache_dir=str(tmp_path))
    assert "model" not in cand.__dict__ and "deployed" not in cand.__dict__
    c = analytic.counts(spec)
    assert row["params"] == c.params and row["macs_train"] == c.macs_train
    assert row["flops"] == 2 * c.macs
    assert row["macs_uncounted_ops"] == analytic.uncounted_ops(spec)
    from explorer.candidate import from_module

    foreign = measure(from_module(from_spec(spec).model, "same", spec.resolution),
                      ["params", "macs"], cache_dir=str(tmp_path))
    assert {k: foreign[k] for k in ("params", "params_train", "macs", "macs_train")} == \
        {k: row[k] for k in ("params", "params_train", "macs", "macs_train")}


def test_features_of_a_spec_never_build(tmp_path):
    from explorer.measure.proxies.features import cached_features

    spec = tiny_spec()
    cand = from_spec(spec)
    assert cached_features(cand, str(tmp_path)) == analytic.features(spec)
    assert "deployed" not in cand.__dict__


def test_invalid_spec_is_refused():
    from explorer.errors import SpecError

    bad = dataclasses.replace(tiny_spec(), resolution=8)
    with pytest.raises(SpecError, match="resolution"):
        analytic.counts(bad)


def test_bench_counts_reports_exact_match(monkeypatch):
    from explorer.bench import counts as bench

    monkeypatch.setattr(bench, "specs_to_check",
                        lambda samples, seed: [tiny_spec(), tiny_spec("ir", "mbv3", "mbv3")])
    partial = []
    result = run_bench(samples=0, progress=False, checkpoint=partial.append, every=1)
    assert result["exact"] and result["mismatches"] == [] and result["specs"] == 2
    assert [p["checked"] for p in partial] == [1] and not partial[0]["exact"]  # incomplete
    monkeypatch.setattr(bench, "analytic_row", lambda spec: {**traced_row(spec), "macs": 1})
    result = run_bench(samples=0, progress=False)
    assert not result["exact"] and set(result["mismatches"][0]) == {"name", "spec_hash", "macs"}
