"""Building blocks, each owning its deploy-time fusion.

Designs follow the RepViT paper (Wang et al., CVPR 2024, arXiv 2307.09283), its official
code (github.com/THU-MIG/RepViT, ``model/repvit.py``), timm's ``models/repvit.py`` and
``models/mobilenetv3.py``, and the MobileNetV3 paper (Howard et al., ICCV 2019, Table 1).
Every module with BatchNorm or parallel branches has ``fuse()`` returning its inference
form; :func:`explorer.build.deploy` walks the tree and calls them, so no BatchNorm is ever
silently dropped.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer.spec import make_divisible

_ACTS = {"relu": nn.ReLU, "hswish": nn.Hardswish, "gelu": nn.GELU, "none": nn.Identity}


def make_act(name: str) -> nn.Module:
    return _ACTS[name]()


def classifier(cin: int, num_classes: int, **factory: Any) -> nn.Module:
    """The last linear layer; with 0 classes an ``nn.Identity``, so the head returns its
    pooled features (timm's ``reset_classifier(0)`` convention). ``factory``: device, dtype."""
    return nn.Linear(cin, num_classes, **factory) if num_classes > 0 else nn.Identity()


def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Fold an eval-mode BatchNorm into the preceding conv: W*s, (b - mean)*s + beta."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True,
                      device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


def fuse_bn_linear(bn: nn.BatchNorm1d, linear: nn.Linear) -> nn.Linear:
    """Fold a BatchNorm1d into the *following* linear layer (input-side scaling)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    fused = nn.Linear(linear.in_features, linear.out_features, bias=True,
                      device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        fused.weight.copy_(linear.weight * scale[None, :])
        fused.bias.copy_(linear.weight @ shift + (linear.bias if linear.bias is not None else 0))
    return fused


class ConvBN(nn.Module):
    """Conv (no bias) + BatchNorm2d; ``bn_init`` 0 makes a residual branch start as identity."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 bn_init: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        nn.init.constant_(self.bn.weight, bn_init)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        return fuse_conv_bn(self.conv, self.bn)


class RepVGGDW(nn.Module):
    """RepViT token mixer: BN(DWkxk_BN(x) + DW1x1(x) + x), merged into one DW conv at deploy.

    The 1x1 branch has a bias and no BN, and one BN follows the sum (the QARepVGG-friendly
    layout of the final RepViT, not the v1 'legacy' one)."""

    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = ConvBN(channels, channels, kernel, groups=channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, groups=channels, bias=True)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x) + self.conv1(x) + x)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        conv = self.conv.fuse()
        k = conv.kernel_size[0]
        pad = k // 2
        w1 = F.pad(self.conv1.weight, [pad, pad, pad, pad])
        identity = F.pad(torch.ones_like(self.conv1.weight), [pad, pad, pad, pad])
        conv.weight.copy_(conv.weight + w1 + identity)
        conv.bias.copy_(conv.bias + self.conv1.bias)
        return fuse_conv_bn(conv, self.bn)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excite: pool, 1x1 (bias) -> ReLU -> 1x1 (bias) -> gate. No BN, so no fusion."""

    def __init__(self, channels: int, reduced: int, gate: str = "sigmoid") -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid() if gate == "hardsigmoid" else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


def mbv3_se(channels: int) -> SqueezeExcite:
    """MobileNetV3's SE: on the expanded channels, 1/4 rounded (limit 0.9), hard-sigmoid gate."""
    return SqueezeExcite(channels, make_divisible(channels * 0.25, 8), "hardsigmoid")


def repvit_se(channels: int) -> SqueezeExcite:
    """RepViT's SE (timm SEModule(C, 0.25)): 1/4 rounded down to a multiple of 8, sigmoid."""
    return SqueezeExcite(channels, make_divisible(channels * 0.25, 8, round_limit=0.0), "sigmoid")


class DepthwiseSeparable(nn.Module):
    """MobileNetV3's first bneck (no expansion): DW+BN+act -> 1x1+BN, residual if shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, act: str) -> None:
        super().__init__()
        self.conv_dw = ConvBN(cin, cin, kernel, stride, groups=cin)
        self.act = make_act(act)
        self.conv_pw = ConvBN(cin, cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_pw(self.act(self.conv_dw(x)))
        return x + y if self.skip else y


class InvertedResidual(nn.Module):
    """MobileNetV3 bneck: 1x1 expand+act -> DW kxk (stride)+act -> SE -> 1x1 project."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: float,
                 se: bool, act: str) -> None:
        super().__init__()
        mid = make_divisible(cin * expansion)
        self.conv_pw = ConvBN(cin, mid)
        self.act1 = make_act(act)
        self.conv_dw = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.act2 = make_act(act)
        self.se = mbv3_se(mid) if se else nn.Identity()
        self.conv_pwl = ConvBN(mid, cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv_pw(x))
        y = self.se(self.act2(self.conv_dw(y)))
        y = self.conv_pwl(y)
        return x + y if self.skip else y


class FFN(nn.Module):
    """RepViT channel mixer: 1x1+BN -> act -> 1x1+BN, with a residual when widths match.
    The last BN starts at 0 in residual form so the block starts as the identity."""

    def __init__(self, cin: int, cout: int, hidden: int, act: str) -> None:
        super().__init__()
        self.residual = cin == cout
        self.pw1 = ConvBN(cin, hidden)
        self.act = make_act(act)
        self.pw2 = ConvBN(hidden, cout, bn_init=0.0 if self.residual else 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw2(self.act(self.pw1(x)))
        return x + y if self.residual else y


class RepViTBlock(nn.Module):
    """RepViT block: token mixer (RepVGG DW; a plain DW+BN when strided, since no identity
    branch exists then) -> optional SE at the input width -> FFN channel mixer."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: float,
                 se: bool, act: str) -> None:
        super().__init__()
        if stride == 1:
            self.token_mixer: nn.Module = RepVGGDW(cin, kernel)
        else:
            self.token_mixer = ConvBN(cin, cin, kernel, stride, groups=cin)
        self.se = repvit_se(cin) if se else nn.Identity()
        self.channel_mixer = FFN(cin, cout, make_divisible(cin * expansion), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel_mixer(self.se(self.token_mixer(x)))


class RepViTDownsample(nn.Module):
    """RepViT's deeper downsampling unit: RepViT block at C_in (no SE) -> DW kxk s2 + BN ->
    1x1 + BN to C_out -> residual FFN. No activation between the DW and the 1x1."""

    def __init__(self, cin: int, cout: int, kernel: int, expansion: float, act: str) -> None:
        super().__init__()
        self.pre_block = RepViTBlock(cin, cin, kernel, 1, expansion, False, act)
        self.spatial = ConvBN(cin, cin, kernel, 2, groups=cin)
        self.channel = ConvBN(cin, cout)
        self.ffn = FFN(cout, cout, make_divisible(cout * expansion), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.channel(self.spatial(self.pre_block(x))))


class ConvAct(nn.Sequential):
    """ConvBN followed by an activation (stems, MobileNetV3 head conv)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, act: str) -> None:
        super().__init__(ConvBN(cin, cout, kernel, stride), make_act(act))


class MBv3Head(nn.Module):
    """MobileNetV3's efficient last stage: 1x1+BN+act, pool, 1x1 (bias)+act, dropout, FC.
    Its pre-logits features are the 1x1 head conv's output (``hidden_size`` wide), as timm's."""

    def __init__(self, cin: int, widths: tuple[int, ...], act: str, dropout: float,
                 num_classes: int) -> None:
        super().__init__()
        self.hidden_size = widths[1]
        self.conv = ConvAct(cin, widths[0], 1, 1, act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_head = nn.Conv2d(widths[0], widths[1], 1, bias=True)
        self.act = make_act(act)
        self.dropout = nn.Dropout(dropout)
        self.fc = classifier(widths[1], num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.act(self.conv_head(self.pool(self.conv(x))))
        x = self.dropout(torch.flatten(x, 1))
        return x if pre_logits else self.fc(x)

    def reset_classifier(self, num_classes: int, **factory: Any) -> None:
        self.fc = classifier(self.hidden_size, num_classes, **factory)


class ClassifierHead(nn.Module):
    """RepViT's simple classifier: pool -> BN1d -> linear; with distillation a second
    BN1d -> linear head whose output is averaged with the first (DeiT style). Its
    pre-logits features are the pooled ones; with 0 classes it returns them."""

    def __init__(self, cin: int, num_classes: int, distillation: bool) -> None:
        super().__init__()
        self.hidden_size = cin
        self.distillation = distillation
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reset_classifier(num_classes)

    def reset_classifier(self, num_classes: int, **factory: Any) -> None:
        """A fresh BN1d -> linear (and distillation pair): timm's classifier includes the BN.
        With 0 classes both are ``nn.Identity`` and there is no distillation pair."""
        keep = num_classes > 0

        def norm() -> nn.Module:
            return nn.BatchNorm1d(self.hidden_size, **factory) if keep else nn.Identity()

        self.norm = norm()
        self.fc = classifier(self.hidden_size, num_classes, **factory)
        distill = self.distillation and keep
        self.dist_norm = norm() if distill else None
        self.dist_fc = classifier(self.hidden_size, num_classes, **factory) if distill else None
        for fc in (self.fc, self.dist_fc):
            if isinstance(fc, nn.Linear):
                nn.init.trunc_normal_(fc.weight, std=0.02)
                nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.pool(x), 1)
        if pre_logits:
            return x
        y = self.fc(self.norm(x))
        if self.dist_fc is not None:
            y = (y + self.dist_fc(self.dist_norm(x))) / 2
        return y

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        """Fold each BN1d into its linear; average the two heads into one (exact at eval)."""
        if not isinstance(self.fc, nn.Linear):
            return LinearHead(self.hidden_size, nn.Identity())
        fc = fuse_bn_linear(self.norm, self.fc)
        if self.dist_fc is not None:
            dist = fuse_bn_linear(self.dist_norm, self.dist_fc)
            fc.weight.copy_((fc.weight + dist.weight) / 2)
            fc.bias.copy_((fc.bias + dist.bias) / 2)
        return LinearHead(self.hidden_size, fc)


class LinearHead(nn.Module):
    """The deployed simple classifier: pool -> one linear (BNs folded, heads averaged)."""

    def __init__(self, cin: int, fc: nn.Module) -> None:
        super().__init__()
        self.hidden_size = cin
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = fc

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.pool(x), 1)
        return x if pre_logits else self.fc(x)

    def reset_classifier(self, num_classes: int, **factory: Any) -> None:
        self.fc = classifier(self.hidden_size, num_classes, **factory)
