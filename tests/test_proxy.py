"""Proxy interface, baselines, zero-cost proxies and the proxy metric."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from explorer.candidate import from_module, from_spec, from_timm
from explorer.errors import ProxyError
from explorer.measure import measure
from explorer.measure.proxy import (
    DEFAULT_PROXY,
    PROXIES,
    ZERO_COST,
    Proxy,
    get_proxy,
    list_proxies,
    proxy_metric,
    score,
)
from tests.conftest import tiny_spec


@pytest.fixture(scope="module")
def tiny_candidate():
    return from_spec(tiny_spec(resolution=32))


@pytest.mark.parametrize("name", ZERO_COST)
def test_zero_cost_finite_and_deterministic(tiny_candidate, name):
    first = score(tiny_candidate, name, seed=0)
    again = score(tiny_candidate, name, seed=0)
    other = score(tiny_candidate, name, seed=1)
    assert math.isfinite(first.value) and first.seconds >= 0
    assert first.value == again.value
    assert other.value != first.value or name == "synflow"  # synflow: |w| of a seeded init
    assert first.name == name and first.extra["proxy_resolution"] == 32


@pytest.mark.parametrize("name", ZERO_COST)
def test_zero_cost_on_timm_model(name):
    cand = from_timm("mobilenetv3_small_050", resolution=64)
    assert math.isfinite(score(cand, name, 0).value)


def test_zero_cost_does_not_touch_the_candidate(tiny_candidate):
    before = {k: v.clone() for k, v in tiny_candidate.model.state_dict().items()}
    for name in ZERO_COST:
        score(tiny_candidate, name, 0)
    after = tiny_candidate.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_module_candidate_is_reinitialised_per_seed():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(10))
    net(torch.zeros(1, 3, 16, 16))
    cand = from_module(net, "toy", resolution=16)
    assert score(cand, "snip", 3).value == score(cand, "snip", 3).value
    assert score(cand, "snip", 3).value != score(cand, "snip", 4).value


def test_bigger_model_has_more_params_and_macs():
    small = from_spec(tiny_spec(resolution=32))
    big = from_spec(tiny_spec(resolution=64))
    assert score(big, "macs").value > score(small, "macs").value
    assert score(big, "params").value == score(small, "params").value


def test_naswot_needs_activations():
    cand = from_module(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10)), "linear", 8)
    with pytest.raises(ProxyError, match="no ReLU/GELU-type activation"):
        score(cand, "naswot")


class _Constant(Proxy):
    name = "constant"

    def compute(self, candidate, seed):
        return self.options["value"], {}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_score_is_a_clear_error(tiny_candidate, value):
    with pytest.raises(ProxyError, match="non-finite score"):
        _Constant(value=value)(tiny_candidate)


def test_registry_and_errors():
    assert set(ZERO_COST) | {"params", "macs", "train"} <= set(PROXIES)
    assert DEFAULT_PROXY in PROXIES and get_proxy("default").name == DEFAULT_PROXY
    assert all(list_proxies().values())
    with pytest.raises(ProxyError, match="unknown proxy 'nope'"):
        get_proxy("nope")


def test_proxy_metric_caches(tiny_candidate, tmp_path):
    row = proxy_metric(tiny_candidate, proxy="grad_norm", seed=0, cache_dir=tmp_path)
    assert set(row) == {"proxy", "proxy_name", "proxy_seconds"}
    assert len(list((tmp_path / "proxy").glob("*.json"))) == 1
    again = proxy_metric(tiny_candidate, proxy="grad_norm", seed=0, cache_dir=tmp_path)
    assert again == row
    via_measure = measure(tiny_candidate, ["proxy"], proxy="grad_norm", cache_dir=tmp_path)
    assert via_measure["proxy"] == row["proxy"]
