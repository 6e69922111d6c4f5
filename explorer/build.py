"""The only place that turns specs into torch modules, and into their deployed form."""
from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer import blocks as B
from explorer.errors import SpecError
from explorer.spec import NetworkSpec, validate


class Network(nn.Module):
    """A network built from a :class:`NetworkSpec`; keeps the spec for later tools.

    It follows timm's model contract, so timm's training and feature-extraction tooling
    takes it as it takes a timm model: ``forward_features`` (stem and stages: a
    ``num_features``-channel map), ``forward_head(x, pre_logits=False)`` (pre-logits
    features are ``head_hidden_size`` wide), ``reset_classifier(num_classes)`` (0: the
    network returns its pre-logits features), ``feature_info`` (one entry per stage),
    ``forward_intermediates`` and ``pretrained_cfg`` (input size for timm's data helpers).
    Unlike timm's MobileNetV3, whose features include the last 1x1 conv (960 channels), a
    MobileNetV3 head here owns that conv: ``num_features`` is the last stage's width;
    ``head_hidden_size`` (1280) is the same as timm's. ``spec`` stays the spec the network
    was built from; ``num_classes`` follows resets."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        validate(spec)
        self.spec = spec
        self.num_classes = spec.num_classes
        self.stem, channels, reduction = _build_stem(spec, spec.in_chans)
        stages = []
        self.feature_info: list[dict[str, Any]] = []
        for i, stage in enumerate(spec.stages):
            layers: list[nn.Module] = []
            if stage.downsample is not None:
                d = stage.downsample
                layers.append(B.RepViTDownsample(channels, d.width, d.kernel, d.expansion, d.act))
                channels, reduction = d.width, reduction * 2
            for blk in stage.blocks:
                cls = B.InvertedResidual if blk.kind == "ir" else B.RepViTBlock
                layers.append(cls(channels, blk.width, blk.kernel, blk.stride, blk.expansion,
                                  blk.se, blk.act))
                channels, reduction = blk.width, reduction * blk.stride
            stages.append(nn.Sequential(*layers))
            self.feature_info.append({"num_chs": channels, "reduction": reduction,
                                      "module": f"stages.{i}"})
        self.stages = nn.Sequential(*stages)
        self.num_features = channels
        h = spec.head
        if h.kind == "mbv3":
            self.head: nn.Module = B.MBv3Head(channels, h.widths, h.act, h.dropout,
                                              spec.num_classes)
        else:
            self.head = B.ClassifierHead(channels, spec.num_classes, spec.recipe.distillation)
        self.head_hidden_size = self.head.hidden_size
        # what timm's data helpers (resolve_model_data_config) read: the spec's input size;
        # ImageNet normalisation, as the timm twins of the zoo models use
        self.pretrained_cfg = {"input_size": (spec.in_chans, spec.resolution, spec.resolution),
                               "num_classes": spec.num_classes,
                               "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward_intermediates(self, x: torch.Tensor, indices: int | Sequence[int] | None = None,
                              norm: bool = False, stop_early: bool = False,
                              output_fmt: str = "NCHW", intermediates_only: bool = False,
                              ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Stage outputs (timm's feature-getter API, ``features_only`` via
        ``FeatureGetterNet``): ``indices`` None for all stages, n for the last n, or a list
        (negative from the end). There is no final norm, so ``norm`` changes nothing."""
        if output_fmt != "NCHW":
            raise SpecError(f"output_fmt: only 'NCHW' is supported, not {output_fmt!r}")
        take = _stage_indices(len(self.stages), indices)
        intermediates = []
        x = self.stem(x)
        for i, stage in enumerate(self.stages[:max(take) + 1] if stop_early else self.stages):
            x = stage(x)
            if i in take:
                intermediates.append(x)
        return intermediates if intermediates_only else (x, intermediates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new, untrained classifier for ``num_classes`` on the network's device and dtype
        (a fused network keeps one linear layer); 0 makes ``forward`` return the pooled
        pre-logits features. The head always average-pools: ``global_pool`` may only be
        ``None`` or ``'avg'``."""
        if global_pool not in (None, "avg"):
            raise SpecError(f"global_pool: only 'avg' pooling is supported, not {global_pool!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise SpecError(f"num_classes: must be a whole number >= 0, not {num_classes!r}")
        first = next(self.parameters(), None)
        factory = {} if first is None else {"device": first.device, "dtype": first.dtype}
        self.head.reset_classifier(num_classes, **factory)
        self.head.train(self.training)
        self.num_classes = self.pretrained_cfg["num_classes"] = num_classes


def _stage_indices(n: int, indices: int | Sequence[int] | None) -> list[int]:
    """timm's convention: None = every stage, an int = the last n, a list = those stages."""
    if indices is None:
        indices = n
    if isinstance(indices, int):
        if not 0 < indices <= n:
            raise SpecError(f"indices: the last {indices} of {n} stages do not exist")
        return list(range(n - indices, n))
    take = [i + n if i < 0 else i for i in indices]
    if not take or not all(0 <= i < n for i in take):
        raise SpecError(f"indices: {list(indices)} is not a list of stages 0..{n - 1}")
    return take


def _build_stem(spec: NetworkSpec, cin: int) -> tuple[nn.Module, int, int]:
    """The stem, its output width and its stride."""
    s = spec.stem
    if s.kind == "mbv3":
        conv = B.ConvAct(cin, s.widths[0], 3, 2, s.acts[0])
        ds = B.DepthwiseSeparable(s.widths[0], s.widths[1], 3, 1, s.acts[1])
        return nn.Sequential(conv, ds), s.widths[1], 2
    layers = []
    for w, act in zip(s.widths, s.acts, strict=True):
        layers.append(B.ConvAct(cin, w, 3, 2, act))
        cin = w
    return nn.Sequential(*layers), cin, 2 ** len(layers)


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
    with contextlib.suppress(Exception):  # untraceable model: keep its norm-act layers
        model = _fold_norm_act(model)
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
