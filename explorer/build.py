"""The only place that turns specs into torch modules, and into their deployed form."""
from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
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
        model = _fold_norm_act(model)
    except Exception:  # noqa: BLE001 - untraceable model: keep its norm-act layers
        pass
    try:
        from torch.fx.experimental.optimization import fuse as fx_fuse

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fx_fuse(model)
    except Exception:  # noqa: BLE001 - untraceable model: keep the unfolded BNs
        pass
    return model.eval()


def _is_norm_act(module: nn.Module) -> bool:
    """timm's BatchNorm + activation layers (``BatchNormAct2d``): a BatchNorm2d subclass
    whose forward calls ``F.batch_norm`` itself, then ``drop`` and ``act``."""
    return (isinstance(module, nn.BatchNorm2d) and type(module) is not nn.BatchNorm2d
            and hasattr(module, "act") and hasattr(module, "drop")
            and module.affine and module.track_running_stats)


def _fold_norm_act(model: nn.Module) -> nn.Module:
    """Fold every norm-act layer that directly follows a plain ``nn.Conv2d`` into it,
    leaving its dropout and activation. torch.fx's own conv-BN fusion cannot: it traces
    into the layer and sees only a functional ``batch_norm`` (49 of them stay in
    efficientnet_b0). Subclassed convs (timm's ``Conv2dSame`` pads in forward) are kept."""
    from torch import fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, name: str) -> bool:
            return _is_norm_act(m) or super().is_leaf_module(m, name)

    graph = Tracer().trace(model)
    gm = fx.GraphModule(model, graph)
    modules = dict(gm.named_modules())
    for node in graph.nodes:
        if node.op != "call_module" or not _is_norm_act(modules[node.target]):
            continue
        prev = node.args[0]
        if (not isinstance(prev, fx.Node) or prev.op != "call_module" or len(prev.users) > 1
                or type(modules[prev.target]) is not nn.Conv2d):
            continue
        norm = modules[node.target]
        _set_submodule(gm, prev.target, B.fuse_conv_bn(modules[prev.target], norm))
        _set_submodule(gm, node.target, nn.Sequential(norm.drop, norm.act))
    return gm


def _set_submodule(root: nn.Module, target: str, module: nn.Module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, module)


def count_batch_norms(model: nn.Module, example: torch.Tensor) -> int:
    """BatchNorm evaluations in one forward pass: ``nn.BatchNorm*`` modules and direct
    ``F.batch_norm`` calls alike (timm's ``BatchNormAct2d`` calls it itself, so counting
    modules would miss every one of them). 0 means the deployed form folded every BN."""
    from torch.overrides import TorchFunctionMode

    calls = 0

    class _Count(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += func in (F.batch_norm, torch.batch_norm)
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), _Count():
        model(example)
    return calls


def _fuse_tree(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        fused = child.fuse() if hasattr(child, "fuse") else child
        if fused is not child:
            setattr(module, name, fused)
        _fuse_tree(fused)
