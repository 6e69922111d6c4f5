"""The only place that turns specs into torch modules, and into their deployed form."""
from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from explorer import blocks as B
from explorer.spec import NetworkSpec, validate


class Network(nn.Module):
    """A network built from a :class:`NetworkSpec`; keeps the spec for later tools."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        validate(spec)
        self.spec = spec
        self.stem, channels = _build_stem(spec, spec.in_chans)
        stages = []
        for stage in spec.stages:
            layers: list[nn.Module] = []
            if stage.downsample is not None:
                d = stage.downsample
                layers.append(B.RepViTDownsample(channels, d.width, d.kernel, d.expansion, d.act))
                channels = d.width
            for blk in stage.blocks:
                cls = B.InvertedResidual if blk.kind == "ir" else B.RepViTBlock
                layers.append(cls(channels, blk.width, blk.kernel, blk.stride, blk.expansion,
                                  blk.se, blk.act))
                channels = blk.width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.num_features = channels
        h = spec.head
        if h.kind == "mbv3":
            self.head: nn.Module = B.MBv3Head(channels, h.widths, h.act, h.dropout,
                                              spec.num_classes)
        else:
            self.head = B.ClassifierHead(channels, spec.num_classes, spec.recipe.distillation)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def _build_stem(spec: NetworkSpec, cin: int) -> tuple[nn.Module, int]:
    s = spec.stem
    if s.kind == "mbv3":
        conv = B.ConvAct(cin, s.widths[0], 3, 2, s.acts[0])
        ds = B.DepthwiseSeparable(s.widths[0], s.widths[1], 3, 1, s.acts[1])
        return nn.Sequential(conv, ds), s.widths[1]
    layers = []
    for w, act in zip(s.widths, s.acts):
        layers.append(B.ConvAct(cin, w, 3, 2, act))
        cin = w
    return nn.Sequential(*layers), cin


def build(spec: NetworkSpec) -> Network:
    """Build the training-form network for ``spec`` (validated first)."""
    return Network(spec)


def deploy(model: nn.Module) -> nn.Module:
    """An eval-mode copy in deployment form: BN folded, RepVGG branches merged, heads merged.

    Our blocks fuse themselves. Any other module (a timm model) gets timm's own
    ``reparameterize_model`` followed by torch.fx conv-BN folding where it can be traced;
    whatever cannot be folded is left as it is (runtimes like onnxruntime fold it again)."""
    model = copy.deepcopy(model).eval()
    if isinstance(model, Network):
        _fuse_tree(model)
        return model
    try:
        from timm.utils.model import reparameterize_model

        model = reparameterize_model(model, inplace=True)
    except Exception:  # noqa: BLE001 - a foreign model without timm-style fusion hooks
        pass
    try:
        from torch.fx.experimental.optimization import fuse as fx_fuse

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fx_fuse(model)
    except Exception:  # noqa: BLE001 - untraceable model: keep the unfolded BNs
        pass
    return model.eval()


def _fuse_tree(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        fused = child.fuse() if hasattr(child, "fuse") else child
        if fused is not child:
            setattr(module, name, fused)
        _fuse_tree(fused)
