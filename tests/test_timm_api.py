"""An explorer network follows timm's model contract, and fusion keeps device and dtype.

So timm's tooling takes it as it takes a timm model: feature extraction
(``FeatureListNet``, ``FeatureGetterNet``), re-parameterisation
(``reparameterize_model``), classifier resets for fine-tuning.
"""
from __future__ import annotations

import pytest
import timm
import torch
from timm.models._features import FeatureGetterNet, FeatureListNet
from timm.utils.model import reparameterize_model
from torch import nn

from explorer import build, deploy, zoo
from explorer.errors import SpecError
from tests.conftest import randomize_bn, tiny_spec

HEADS = {"classifier": ("repvit", "early_conv", "classifier", True),
         "classifier_no_kd": ("ir", "early_conv", "classifier", False),
         "mbv3": ("ir", "mbv3", "mbv3", False)}


def tiny_net(head: str, dtype: torch.dtype = torch.float32) -> nn.Module:
    kind, stem, head_kind, distillation = HEADS[head]
    torch.manual_seed(0)
    net = build(tiny_spec(kind, stem, head_kind, distillation)).to(dtype)
    return randomize_bn(net).eval()


@pytest.mark.parametrize("head", HEADS)
def test_features_head_and_pre_logits(head):
    net = tiny_net(head)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = net.forward_features(x)
        pre = net.forward_head(feats, pre_logits=True)
        logits = net.forward_head(feats)
        assert feats.shape[1] == net.num_features == net.feature_info[-1]["num_chs"]
        assert pre.shape == (2, net.head_hidden_size)
        assert logits.shape == (2, net.num_classes)
        assert torch.equal(net(x), logits)
        if head != "mbv3":  # the simple classifier's pre-logits: the pooled features
            torch.testing.assert_close(pre, feats.mean((2, 3)))
        fused = deploy(net)  # the deployed form keeps the API and the same features
        torch.testing.assert_close(fused.forward_head(fused.forward_features(x), True), pre,
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fused(x), logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("head", HEADS)
def test_reset_classifier_zero_gives_pooled_features(head):
    net = tiny_net(head)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        pre = net.forward_head(net.forward_features(x), pre_logits=True)
        net.reset_classifier(0)
        assert net.num_classes == 0
        torch.testing.assert_close(net(x), pre)
        assert not any(isinstance(m, nn.Linear) for m in net.head.modules())
        torch.testing.assert_close(deploy(net)(x), pre, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("head", HEADS)
def test_reset_classifier_keeps_dtype_and_mode_and_fuses(head):
    net = tiny_net(head, torch.float64)
    net.reset_classifier(7)
    assert net.num_classes == 7 and {p.dtype for p in net.parameters()} == {torch.float64}
    assert not any(m.training for m in net.head.modules())  # the network is in eval mode
    net = randomize_bn(net).eval()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert net(x).shape == (2, 7)
        torch.testing.assert_close(deploy(net)(x), net(x), atol=1e-10, rtol=1e-10)
    net.train()
    net.reset_classifier(3, global_pool="avg")
    assert all(m.training for m in net.head.modules())
    fused = deploy(net)
    fused.reset_classifier(5)  # a deployed network gets a fresh single linear layer
    assert fused(x).shape == (2, 5)
    assert sum(isinstance(m, nn.Linear) for m in fused.head.modules()) == 1


@pytest.mark.parametrize("kwargs,message", [
    ({"num_classes": -1}, "num_classes: must be a whole number >= 0, not -1"),
    ({"num_classes": 2.5}, "num_classes: must be a whole number >= 0, not 2.5"),
    ({"num_classes": 10, "global_pool": "max"},
     "global_pool: only 'avg' pooling is supported, not 'max'"),
])
def test_reset_classifier_refuses_bad_input(kwargs, message):
    net = tiny_net("classifier")
    with pytest.raises(SpecError) as err:
        net.reset_classifier(**kwargs)
    assert str(err.value) == message
    assert net.num_classes == 10


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("device,dtype,tol", [
    ("cpu", torch.float64, 1e-10), pytest.param("cuda", torch.float32, 1e-4, marks=CUDA)])
def test_fusion_keeps_dtype_and_device_and_is_exact(head, device, dtype, tol):
    net = tiny_net(head, dtype).to(device)
    fused = deploy(net)
    assert {(p.device.type, p.dtype) for p in fused.parameters()} == {(device, dtype)}
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in fused.modules())
    x = torch.randn(2, 3, 64, 64, dtype=dtype, device=device)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net(x), atol=tol, rtol=tol)


@pytest.mark.parametrize("head", HEADS)
def test_fusion_keeps_bfloat16(head):
    net = tiny_net(head)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = deploy(net)(x)
        fused = deploy(net.to(torch.bfloat16))
        assert {p.dtype for p in fused.parameters()} == {torch.bfloat16}
        out = fused(x.to(torch.bfloat16)).float()
    # bfloat16 keeps 8 bits of mantissa: the fused network in bfloat16 stays near float32's
    assert (out - ref).abs().max() < 0.1 * ref.abs().max()


@pytest.mark.parametrize("head", HEADS)
def test_fusion_keeps_the_meta_device(head):
    kind, stem, head_kind, distillation = HEADS[head]
    with torch.device("meta"):
        net = build(tiny_spec(kind, stem, head_kind, distillation)).eval()
    fused = deploy(net)
    assert {p.device.type for p in fused.parameters()} == {"meta"}
    out = fused(torch.empty(2, 3, 64, 64, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 10)
    net.reset_classifier(4)
    assert {p.device.type for p in net.head.parameters()} == {"meta"}


@pytest.mark.parametrize("head", HEADS)
def test_timm_reparameterize_model_matches_deploy(head):
    net = tiny_net(head)
    x = torch.randn(2, 3, 64, 64)
    fused = reparameterize_model(net)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in fused.modules())
    with torch.no_grad():
        torch.testing.assert_close(fused(x), deploy(net)(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fused(x), net(x), atol=1e-4, rtol=1e-4)


def test_timm_feature_extractors():
    net = tiny_net("classifier")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _, stage_outputs = net.forward_intermediates(x)
        listed = FeatureListNet(net, out_indices=(0, 1), flatten_sequential=True)(x)
        got = FeatureGetterNet(net, out_indices=(0, -1))(x)
        last = net.forward_intermediates(x, indices=1, stop_early=True, intermediates_only=True)
    for i, (info, out) in enumerate(zip(net.feature_info, stage_outputs, strict=True)):
        assert out.shape == (2, info["num_chs"], 64 // info["reduction"],
                             64 // info["reduction"])
        torch.testing.assert_close(listed[i], out)
        torch.testing.assert_close(got[i], out)
    torch.testing.assert_close(last[0], stage_outputs[-1])
    with pytest.raises(SpecError, match="indices: the last 3 of 2 stages do not exist"):
        net.forward_intermediates(x, indices=3)
    with pytest.raises(SpecError, match=r"indices: \[2\] is not a list of stages 0..1"):
        net.forward_intermediates(x, indices=[2])


@pytest.mark.parametrize("name", ["repvit_m0_9", "mobilenetv3_large_100"])
def test_sizes_and_feature_info_match_timm(name):
    ours = build(zoo.get_spec(name))
    theirs = timm.create_model(name, pretrained=False)
    assert ours.head_hidden_size == theirs.head_hidden_size
    assert ours.num_classes == theirs.num_classes
    ours.reset_classifier(0)
    theirs.reset_classifier(0)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert ours.eval()(x).shape == theirs.eval()(x).shape == (1, theirs.head_hidden_size)
    if name.startswith("repvit"):  # timm's MobileNetV3 counts its last 1x1 conv as features
        assert ours.num_features == theirs.num_features
        assert ([(i["num_chs"], i["reduction"]) for i in ours.feature_info]
                == [(i["num_chs"], i["reduction"]) for i in theirs.feature_info])


def test_timm_data_config_reads_the_spec_resolution():
    from timm.data import resolve_model_data_config

    net = build(zoo.get_spec("repvit_m0_9").replace(resolution=192))
    config = resolve_model_data_config(net)
    assert config["input_size"] == (3, 192, 192)
    assert config["mean"] == timm.create_model("repvit_m0_9").pretrained_cfg["mean"]
    net.reset_classifier(0)
    assert net.pretrained_cfg["num_classes"] == 0
