"""Params, MACs and the fitted proxy's features of a spec, by arithmetic on the spec.

A search trial used to build the network, fuse it and trace it with fvcore twice (0.7 s,
far more than the predicted latency it waits for). Everything those counts see is fixed
by the spec, so this module walks the spec the way :class:`explorer.build.Network` builds
it and adds up the same numbers in microseconds, under fvcore's conventions:

* a convolution or linear layer costs (weights without bias) x (output pixels) MACs;
  its bias is never counted;
* an eval-mode BatchNorm costs 2 per input element (fvcore's ``batch_norm`` rule), an
  adaptive average pool 1 per input element;
* activations, element-wise adds and products, SE's ``mean`` and the gates are not
  counted (fvcore has no rule for them and lists them as unsupported ops; so does
  :func:`uncounted_ops`).

The deployed form folds every BatchNorm into the convolution before it (each conv gains
a bias), merges RepVGG branches into one depthwise conv and the classifier's BatchNorm1d
(and the distillation head) into one linear layer. ``tests/test_analytic.py`` proves the
counts equal fvcore's and torch's on zoo specs and random specs of both shipped spaces;
``explorer bench counts`` checks every zoo spec and hundreds of random ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from explorer.spec import NetworkSpec, make_divisible, validate

if TYPE_CHECKING:
    from explorer.spec import BlockSpec


@dataclass(frozen=True)
class Layer:
    """One convolution or linear layer of the deployed network, as a forward hook on
    ``nn.Conv2d``/``nn.Linear`` sees it (``side`` 0 marks a linear layer)."""

    cin: int
    cout: int
    kernel: int = 1
    groups: int = 1
    side: int = 0

    @property
    def weights(self) -> int:
        return self.cout * (self.cin // self.groups) * self.kernel ** 2

    @property
    def outputs(self) -> int:
        return self.cout * max(self.side, 1) ** 2

    @property
    def depthwise(self) -> bool:
        return self.side > 0 and self.groups > 1 and self.groups == self.cin


@dataclass
class Counts:
    """Both forms' totals; ``layers`` are the deployed convolutions and linear layers in
    execution order, ``ops`` the operators fvcore meets in the deployed form but cannot
    count (the training form's branch adds and head average are merged away)."""

    params: int = 0
    macs: int = 0
    params_train: int = 0
    macs_train: int = 0
    layers: list[Layer] = field(default_factory=list)
    ops: set[str] = field(default_factory=set)

    # -- the training-form building blocks of explorer.blocks, and what they deploy to --
    def conv(self, cin: int, cout: int, kernel: int, side: int, stride: int = 1,
             groups: int = 1, bn: bool = True) -> int:
        """A convolution (+ BatchNorm when ``bn``, else with a bias); returns its output
        side. Deployed: the same convolution with a bias."""
        out = (side + 2 * (kernel // 2) - kernel) // stride + 1
        layer = Layer(cin, cout, kernel, groups, out)
        self._deployed(layer)
        self.params_train += layer.weights + (2 if bn else 1) * cout
        self.macs_train += layer.weights * out ** 2 + (2 * layer.outputs if bn else 0)
        return out

    def repvgg_dw(self, channels: int, kernel: int, side: int) -> None:
        """RepVGGDW: BN(DWkxk_BN(x) + DW1x1(x) + x), deployed as one kxk depthwise conv."""
        layer = Layer(channels, channels, kernel, channels, side)
        self._deployed(layer)
        pixels = side ** 2
        self.params_train += layer.weights + 2 * channels + 2 * channels + 2 * channels
        self.macs_train += (layer.weights + 2 * channels + channels + 2 * channels) * pixels

    def squeeze_excite(self, channels: int, reduced: int, gate: str) -> None:
        """SqueezeExcite: mean, 1x1 (bias), ReLU, 1x1 (bias), gate, product (no BN)."""
        self.conv(channels, reduced, 1, 1, bn=False)
        self.conv(reduced, channels, 1, 1, bn=False)
        self.ops |= {"aten::mean", "aten::mul", f"aten::{gate}"}

    def pool(self, channels: int, side: int) -> None:
        """Adaptive average pool to 1x1: one MAC per input element in both forms."""
        self.macs += channels * side ** 2
        self.macs_train += channels * side ** 2

    def linear(self, cin: int, cout: int, norms: int = 0) -> None:
        """``norms`` parallel BatchNorm1d -> linear heads, averaged: one linear deployed."""
        layer = Layer(cin, cout)
        self._deployed(layer)
        heads = max(norms, 1)
        self.params_train += heads * (layer.weights + cout) + norms * 2 * cin
        self.macs_train += heads * layer.weights + norms * 2 * cin

    def act(self, name: str) -> None:
        if _ACT_OPS[name]:
            self.ops.add(f"aten::{_ACT_OPS[name]}")

    def _deployed(self, layer: Layer) -> None:
        self.layers.append(layer)
        self.params += layer.weights + layer.cout
        self.macs += layer.weights * max(layer.side, 1) ** 2


#: the aten operator each activation traces to ('': none, or on fvcore's ignore list)
_ACT_OPS = {"relu": "", "hswish": "hardswish", "gelu": "gelu", "none": ""}


def counts(spec: NetworkSpec) -> Counts:
    """Walk ``spec`` as :class:`explorer.build.Network` builds it and count both forms."""
    validate(spec)
    c = Counts()
    side, channels = _stem(c, spec)
    for stage in spec.stages:
        if stage.downsample is not None:
            d = stage.downsample
            _repvit_block(c, channels, channels, d.kernel, 1, d.expansion, False, d.act, side)
            side = c.conv(channels, channels, d.kernel, side, 2, groups=channels)
            c.conv(channels, d.width, 1, side)
            _ffn(c, d.width, d.width, make_divisible(d.width * d.expansion), d.act, side)
            channels = d.width
        for block in stage.blocks:
            side = _block(c, channels, block, side)
            channels = block.width
    _head(c, spec, channels, side)
    return c


def _stem(c: Counts, spec: NetworkSpec) -> tuple[int, int]:
    s, side, cin = spec.stem, spec.resolution, spec.in_chans
    if s.kind == "mbv3":
        side = c.conv(cin, s.widths[0], 3, side, 2)
        c.act(s.acts[0])
        c.conv(s.widths[0], s.widths[0], 3, side, groups=s.widths[0])
        c.act(s.acts[1])
        c.conv(s.widths[0], s.widths[1], 1, side)
        if s.widths[0] == s.widths[1]:
            c.ops.add("aten::add")
        return side, s.widths[1]
    for width, act in zip(s.widths, s.acts, strict=True):
        side = c.conv(cin, width, 3, side, 2)
        c.act(act)
        cin = width
    return side, cin


def _block(c: Counts, cin: int, block: BlockSpec, side: int) -> int:
    if block.kind == "repvit":
        return _repvit_block(c, cin, block.width, block.kernel, block.stride, block.expansion,
                             block.se, block.act, side)
    mid = make_divisible(cin * block.expansion)
    c.conv(cin, mid, 1, side)
    c.act(block.act)
    out = c.conv(mid, mid, block.kernel, side, block.stride, groups=mid)
    c.act(block.act)
    if block.se:
        c.squeeze_excite(mid, make_divisible(mid * 0.25, 8), "hardsigmoid")
    c.conv(mid, block.width, 1, out)
    if block.stride == 1 and cin == block.width:
        c.ops.add("aten::add")
    return out


def _repvit_block(c: Counts, cin: int, cout: int, kernel: int, stride: int, expansion: float,
                  se: bool, act: str, side: int) -> int:
    if stride == 1:
        c.repvgg_dw(cin, kernel, side)
    else:
        side = c.conv(cin, cin, kernel, side, stride, groups=cin)
    if se:
        c.squeeze_excite(cin, make_divisible(cin * 0.25, 8, round_limit=0.0), "sigmoid")
    _ffn(c, cin, cout, make_divisible(cin * expansion), act, side)
    return side


def _ffn(c: Counts, cin: int, cout: int, hidden: int, act: str, side: int) -> None:
    c.conv(cin, hidden, 1, side)
    c.act(act)
    c.conv(hidden, cout, 1, side)
    if cin == cout:
        c.ops.add("aten::add")


def _head(c: Counts, spec: NetworkSpec, channels: int, side: int) -> None:
    h = spec.head
    if h.kind == "mbv3":
        c.conv(channels, h.widths[0], 1, side)
        c.act(h.act)
        c.pool(h.widths[0], side)
        c.conv(h.widths[0], h.widths[1], 1, 1, bn=False)
        c.act(h.act)
        c.linear(h.widths[1], spec.num_classes)
        return
    c.pool(channels, side)
    c.linear(channels, spec.num_classes, norms=2 if spec.recipe.distillation else 1)


def uncounted_ops(spec: NetworkSpec) -> list[str]:
    """The operators of the deployed network fvcore meets without a counting rule."""
    return sorted(counts(spec).ops)


def features(spec: NetworkSpec) -> dict[str, float]:
    """The architecture features of :mod:`explorer.measure.proxies.features` (deployed
    form), equal to the traced ones: same layers, same order, same integer sums."""
    c = counts(spec)
    convs = [layer for layer in c.layers if layer.side > 0]
    widths = [layer.cout for layer in c.layers]
    head = next((layer.cin for layer in reversed(c.layers) if layer.side == 0), widths[-1])
    return {
        "log_params": math.log(c.params),
        "log_macs": math.log(max(c.macs, 1)),
        "log_depth": math.log(len(c.layers)),
        "log_act": math.log(sum(layer.outputs for layer in c.layers)),
        "log_width": math.log(sum(widths) / len(widths)),
        "log_head": math.log(head),
        "dw_frac": sum(layer.depthwise for layer in convs) / max(len(convs), 1),
        "log_res": math.log(spec.resolution),
    }
