import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from explorer import blocks as B
from explorer import build, deploy, zoo
from explorer.spec import (
    BlockSpec,
    DownsampleSpec,
    HeadSpec,
    NetworkSpec,
    RecipeSpec,
    StageSpec,
    StemSpec,
)
from tests.conftest import randomize_bn, tiny_spec

BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def assert_fused_equivalent(model: nn.Module, x: torch.Tensor, tol: float = 1e-4,
                            seed: int = 0) -> nn.Module:
    model = randomize_bn(model, seed).eval()
    fused = deploy(model)
    assert not any(isinstance(m, BN) for m in fused.modules()), "BatchNorm left after deploy"
    assert not any(isinstance(m, B.RepVGGDW) for m in fused.modules())
    with torch.no_grad():
        diff = (model(x) - fused(x)).abs().max().item()
    assert diff < tol, f"fused model differs by {diff}"
    return fused


BLOCKS = {
    "conv_bn": lambda: B.ConvBN(8, 16, 3, 2),
    "repvgg_dw_k3": lambda: B.RepVGGDW(8, 3),
    "repvgg_dw_k5": lambda: B.RepVGGDW(8, 5),
    "depthwise_separable": lambda: B.DepthwiseSeparable(8, 8, 3, 1, "relu"),
    "inverted_residual_se": lambda: B.InvertedResidual(8, 8, 5, 1, 3, True, "hswish"),
    "inverted_residual_s2": lambda: B.InvertedResidual(8, 16, 3, 2, 4, False, "relu"),
    "repvit_block_se": lambda: B.RepViTBlock(8, 8, 3, 1, 2, True, "gelu"),
    "repvit_block_s2": lambda: B.RepViTBlock(8, 16, 5, 2, 2.3, False, "gelu"),
    "repvit_downsample": lambda: B.RepViTDownsample(8, 16, 3, 2, "gelu"),
}


class _Wrap(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("name", BLOCKS)
def test_every_block_fuses_exactly(name):
    from explorer.build import _fuse_tree

    model = _Wrap(BLOCKS[name]())
    randomize_bn(model).eval()
    x = torch.randn(2, 8, 16, 16)
    with torch.no_grad():
        ref = model(x)
        _fuse_tree(model)
        out = model(x)
    assert not any(isinstance(m, BN) for m in model.modules())
    assert (ref - out).abs().max().item() < 1e-4


@pytest.mark.parametrize("distillation", [False, True])
def test_classifier_head_merges_to_one_linear(distillation):
    head = randomize_bn(B.ClassifierHead(16, 5, distillation)).eval()
    fused = head.fuse()
    x = torch.randn(3, 16, 4, 4)
    with torch.no_grad():
        assert (head(x) - fused(x)).abs().max() < 1e-5
    assert sum(isinstance(m, nn.Linear) for m in fused.modules()) == 1


@pytest.mark.parametrize("kind,stem,head", [("repvit", "early_conv", "classifier"),
                                            ("ir", "mbv3", "mbv3"), ("repvit", "mbv3", "mbv3"),
                                            ("ir", "early_conv", "classifier")])
def test_tiny_networks_fuse(kind, stem, head):
    spec = tiny_spec(kind, stem, head, distillation=head == "classifier")
    assert_fused_equivalent(build(spec), torch.randn(2, 3, 64, 64))


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_models())
def test_zoo_models_fuse(name):
    spec = zoo.get_spec(name).replace(resolution=96)
    fused = assert_fused_equivalent(build(spec), torch.randn(1, 3, 96, 96))
    assert fused.spec == spec


def test_deploy_does_not_touch_the_original(tiny):
    model = build(tiny)
    deploy(model)
    assert any(isinstance(m, BN) for m in model.modules())


# -- property: any valid random spec builds, fuses and keeps its outputs -----------------
ACTS = st.sampled_from(["relu", "hswish", "gelu", "none"])


@st.composite
def random_specs(draw) -> NetworkSpec:
    widths = st.sampled_from([8, 12, 16, 24])
    stem_kind = draw(st.sampled_from(["mbv3", "early_conv"]))
    stem = StemSpec(stem_kind, (draw(widths), draw(widths)), (draw(ACTS), draw(ACTS)))
    stages = []
    for i in range(draw(st.integers(1, 3))):
        down = (DownsampleSpec(draw(widths), "repvit", draw(st.sampled_from([3, 5])),
                               draw(st.sampled_from([1.0, 2.0])), draw(ACTS))
                if i > 0 and draw(st.booleans()) else None)
        blocks = tuple(
            BlockSpec(draw(st.sampled_from(["ir", "repvit"])), draw(widths),
                      draw(st.sampled_from([1, 3, 5, 7])), draw(st.sampled_from([1.0, 2.0, 2.5])),
                      draw(st.sampled_from([1, 2])), draw(st.booleans()), draw(ACTS))
            for _ in range(draw(st.integers(0 if down else 1, 3))))
        stages.append(StageSpec(blocks, down))
    head = draw(st.sampled_from([HeadSpec("classifier"), HeadSpec("mbv3", (16, 24), "hswish")]))
    dist = head.kind == "classifier" and draw(st.booleans())
    return NetworkSpec(stem, tuple(stages), head, RecipeSpec("deit-aligned", dist), 32, 7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_specs(), st.integers(0, 2**16))
def test_random_valid_specs_fuse(spec, seed):
    """Every drawn spec is valid by construction (widths divide by 4, so SE always fits):
    a validation error here is a failure, not a skip."""
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    torch.manual_seed(seed)
    assert_fused_equivalent(build(spec), torch.randn(2, 3, 32, 32), seed=seed)


def test_randomize_bn_depends_on_its_seed():
    stats = [randomize_bn(nn.BatchNorm2d(4), seed).running_mean.clone() for seed in (0, 0, 1)]
    assert torch.equal(stats[0], stats[1]) and not torch.equal(stats[0], stats[2])
