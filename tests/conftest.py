"""Shared test helpers: tiny specs and BatchNorm randomisation so fusion checks mean something."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
import torch
from torch import nn

from explorer.spec import (
    BlockSpec,
    DownsampleSpec,
    HeadSpec,
    NetworkSpec,
    RecipeSpec,
    StageSpec,
    StemSpec,
)

torch.set_num_threads(1)
#: the suite's own cache (also for spawned workers, which inherit the environment): never
#: the user's ~/.cache/explorer, whatever the shell exported
CACHE_DIR = tempfile.mkdtemp(prefix="explorer-test-cache-")
os.environ["EXPLORER_CACHE_DIR"] = CACHE_DIR
os.environ.pop("EXPLORER_MACHINE_TAG", None)
atexit.register(shutil.rmtree, CACHE_DIR, ignore_errors=True)


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters (fresh BNs are the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) - 0.5)
    return model


def calibrate_bn(model: nn.Module, seed: int = 0, resolution: int = 64) -> nn.Module:
    """Random BN affine parameters, running statistics of a random batch (eval mode on
    return). Purely random statistics can swamp the input (RepViT's logits then barely
    depend on it) or blow activations up (MobileOne to 1e14); batch statistics keep every
    layer's output input-dependent and of order 1, so equality checks mean something."""
    randomize_bn(model, seed).train()
    for bn in model.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: the batch's own statistics
    with torch.no_grad():
        model(torch.randn(8, 3, resolution, resolution,
                          generator=torch.Generator().manual_seed(seed)))
    return model.eval()


def tiny_spec(kind: str = "repvit", stem: str = "early_conv", head: str = "classifier",
              distillation: bool = False, resolution: int = 64) -> NetworkSpec:
    """A small but complete network exercising every block family."""
    stem_spec = (StemSpec("early_conv", (8, 16), ("gelu", "none")) if stem == "early_conv"
                 else StemSpec("mbv3", (8, 16), ("hswish", "relu")))
    down = DownsampleSpec(32) if kind == "repvit" else None
    stages = (
        StageSpec((BlockSpec(kind, 16, 3, 2.0, 1, True), BlockSpec(kind, 16, 5, 2.0, 1, False))),
        StageSpec((BlockSpec(kind, 32, 3, 2.0, 1 if down else 2, True),), down),
    )
    head_spec = HeadSpec("classifier") if head == "classifier" else HeadSpec("mbv3", (64, 80),
                                                                             "hswish")
    return NetworkSpec(stem_spec, stages, head_spec,
                       RecipeSpec("deit-aligned", distillation), resolution, 10, name="tiny")


@pytest.fixture
def tiny() -> NetworkSpec:
    return tiny_spec()
