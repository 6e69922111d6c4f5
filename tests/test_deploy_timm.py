"""deploy() on timm models: same outputs, and every BatchNorm really gone (or reported).

timm's BatchNormAct2d calls ``F.batch_norm`` itself, so a module count said "fused"
while efficientnet_b0 still ran 49 BNs; count_batch_norms counts calls, not modules.
"""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from explorer.build import count_batch_norms, deploy
from explorer.candidate import from_module
from explorer.measure.latency import measure_latency
from explorer.measure.timing import QUICK
from tests.conftest import calibrate_bn

X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

#: timm name -> BatchNorm evaluations of the training form at 64 px
BN_CALLS = {"efficientnet_b0": 49, "mobilenetv3_large_100": 46, "repvit_m0_9": 108,
            "fastvit_t8": 70, "mobileone_s0": 226}


def _timm(name: str) -> nn.Module:
    """In float64, so fusion must be exact (1e-8), not merely float32-close: folded
    weights round differently, which in float32 moves MobileOne's logits by 6e-4."""
    torch.manual_seed(2)
    return calibrate_bn(timm.create_model(name, pretrained=False), seed=2).double()


def _outputs(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(X)


@pytest.mark.parametrize("name", [
    "efficientnet_b0", "mobilenetv3_large_100",
    *(pytest.param(n, marks=pytest.mark.slow) for n in ("repvit_m0_9", "fastvit_t8",
                                                        "mobileone_s0"))])
def test_deploy_folds_every_bn_of_timm_models(name):
    model = _timm(name)
    fused = deploy(model).double()  # timm's own fuse() makes float32 layers
    assert count_batch_norms(model, X) == BN_CALLS[name]
    assert count_batch_norms(fused, X) == 0
    want = _outputs(model)
    assert (want[0] - want[1]).abs().max() > 1e-2  # the outputs depend on the input
    # exact but for rounding; timm's RepViT fuse() stores its weights in float32
    tol = 1e-5 if name == "repvit_m0_9" else 1e-8
    torch.testing.assert_close(_outputs(fused), want, atol=tol, rtol=0)


def test_untraceable_model_keeps_its_bns_and_says_so():
    """tf_ models pad in forward ('same'), torch.fx cannot trace them: nothing is
    folded, the outputs are unchanged and the count says 49."""
    model = _timm("tf_efficientnet_b0")
    fused = deploy(model)
    assert count_batch_norms(fused, X) == 49
    torch.testing.assert_close(_outputs(fused), _outputs(model), atol=0, rtol=0)


class _FunctionalBN(nn.Module):
    """A BN no module count can see: F.batch_norm called directly."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("mean", torch.zeros(4))
        self.register_buffer("var", torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(self.conv(x), self.mean, self.var)


def test_count_sees_functional_and_module_bns():
    x = X.float()
    assert count_batch_norms(_FunctionalBN().eval(), x) == 1
    pre_bn = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3)).eval()  # BN before conv
    assert count_batch_norms(pre_bn, x) == 1 and count_batch_norms(deploy(pre_bn), x) == 1


@pytest.mark.parametrize("module, unfused", [
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), 0),
    (_FunctionalBN(), 1),
])
def test_latency_row_reports_unfused_bns(tmp_path, module, unfused):
    row = measure_latency(from_module(module, "net", 64), "torch", protocol=QUICK,
                          cache_dir=tmp_path)
    assert row["unfused_bn"] == unfused
