"""Functional parity with timm: timm's weights in our networks give timm's logits.

Parameter counts (tests/test_zoo.py) cannot see an activation, gate, stride or padding
difference; equal logits under random weights and random BN parameters can. Running
statistics come from a random batch (``calibrate_bn``): purely random ones swamp the
input, so RepViT's logits varied by 2e-4 across inputs, below the tolerance.
"""
from __future__ import annotations

import dataclasses

import pytest
import timm
import torch

from explorer import build, zoo
from explorer.errors import DataError
from explorer.spec import NetworkSpec
from explorer.timm_weights import load_timm_weights, timm_key_map
from tests.conftest import calibrate_bn

FAST = ["mobilenetv3_large_100", "repvit_m0_9"]


def _timm(name: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return calibrate_bn(timm.create_model(name, pretrained=False), seed)


def _first_block_changed(name: str, stage: int, **changes) -> NetworkSpec:
    spec = zoo.get_spec(name)
    old = spec.stages[stage]
    blocks = (dataclasses.replace(old.blocks[0], **changes), *old.blocks[1:])
    stages = list(spec.stages)
    stages[stage] = dataclasses.replace(old, blocks=blocks)
    return spec.replace(stages=tuple(stages))


def _max_logit_diff(ours: torch.nn.Module, theirs: torch.nn.Module) -> float:
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = theirs(x)
        assert (want[0] - want[1]).abs().max() > 1e-2, "logits do not depend on the input"
        return (ours.eval()(x) - want).abs().max().item()


@pytest.mark.parametrize("name", [
    *FAST, *(pytest.param(n, marks=pytest.mark.slow) for n in zoo.TIMM_NAMES if n not in FAST)])
def test_timm_weights_give_timm_logits(name):
    theirs = _timm(name, seed=3)
    ours = load_timm_weights(build(zoo.get_spec(name)), theirs)
    assert _max_logit_diff(ours, theirs) < 1e-4


def test_parity_catches_a_different_activation():
    """The check can fail: same shapes, hard-swish instead of GELU in one block."""
    changed = _first_block_changed("repvit_m0_9", 0, act="hswish")
    theirs = _timm("repvit_m0_9", seed=3)
    assert _max_logit_diff(load_timm_weights(build(changed), theirs), theirs) > 1e-2


def test_key_map_names_the_first_structural_difference():
    theirs = timm.create_model("mobilenetv3_large_100", pretrained=False)
    mapping = timm_key_map(build(zoo.get_spec("mobilenetv3_large_100")), theirs)
    assert mapping["blocks.2.0.se.conv_reduce.weight"] == "stages.1.0.se.fc1.weight"
    assert mapping["classifier.bias"] == "head.fc.bias"
    changed = _first_block_changed("mobilenetv3_large_100", 1, kernel=3)
    with pytest.raises(DataError, match=r"timm blocks.2.0.conv_dw.weight \(72, 1, 5, 5\) "
                       r"meets our stages.1.0.conv_dw.conv.weight \(72, 1, 3, 3\)"):
        timm_key_map(build(changed), theirs)
    with pytest.raises(DataError, match="312 tensors in the timm model, 713 in ours"):
        timm_key_map(build(zoo.get_spec("repvit_m0_9")), theirs)
