"""Per-operator cost features of a deployed network: what a device cost model is fitted on.

One forward pass at batch 1 runs under a :class:`TorchDispatchMode`, so every *executed*
aten operator is seen, including functional matmuls, adds and softmax that module hooks
miss. Each operator becomes an :class:`Op`: its class (dense / grouped / depthwise conv,
linear, matmul, softmax, norm, activation, pool, elementwise, reshape, other), MACs,
weight bytes and input/output activation bytes at the deployment precision (fp16 for Core
ML by default), and its output shape.

Two rules follow what deployment compilers (Core ML, TFLite, onnxruntime) do:

* a normalisation or activation whose input comes straight from a conv / linear (or from
  such a fused chain) is *fused* into it: recorded, but it costs nothing;
* an operator whose tensor inputs are all weights (a transposed linear weight, a
  reshaped attention bias) is folded at conversion time: recorded as ``constant``.

An operator the classifier does not know is counted as ``other`` (never dropped) and
listed by ``explorer profile``. Results are cached by the candidate's deploy identity.
"""
from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

from explorer.measure.cache import Cache, default_cache_dir

if TYPE_CHECKING:
    from torch import nn

    from explorer.candidate import Candidate

#: bump when classification or counting changes, so cached features are recomputed
FEATURES_VERSION = 2

#: bytes per element at each deployment precision
PRECISIONS = {"fp16": 2, "fp32": 4, "int8": 1}

#: operator classes, in the order tables list them
CLASSES = ("conv", "gconv", "dwconv", "linear", "matmul", "softmax", "norm", "act", "pool",
           "elementwise", "reshape", "other")

_ACTS = {"relu", "relu6", "gelu", "hardswish", "hardsigmoid", "sigmoid", "silu", "tanh",
         "leaky_relu", "elu", "mish", "hardtanh", "softplus", "clamp", "clamp_min", "erf",
         "prelu", "_prelu_kernel", "selu", "celu", "glu"}
_NORMS = {"_native_batch_norm_legit_no_training", "native_batch_norm", "batch_norm",
          "_native_batch_norm_legit", "native_layer_norm", "layer_norm", "native_group_norm",
          "group_norm", "instance_norm", "rms_norm", "_fused_rms_norm"}
_POOLS = {"avg_pool2d", "max_pool2d", "max_pool2d_with_indices", "adaptive_avg_pool2d",
          "_adaptive_avg_pool2d", "adaptive_max_pool2d", "mean", "sum", "amax", "max", "var",
          "var_mean", "std", "avg_pool1d", "max_pool1d", "logsumexp"}
_ELEMENTWISE = {"add", "sub", "mul", "div", "rsub", "pow", "sqrt", "rsqrt", "exp", "log",
                "neg", "abs", "where", "maximum", "minimum", "reciprocal", "fill", "lerp",
                "addcmul", "addcdiv", "floor", "ceil", "round", "sign", "square", "remainder",
                "masked_fill", "bitwise_and", "eq", "ne", "lt", "gt", "le", "ge", "copy",
                "fmod", "cos", "sin"}
_MOVES = {"permute", "transpose", "cat", "stack", "clone", "contiguous", "_to_copy", "roll",
          "pad", "constant_pad_nd", "reflection_pad2d", "replication_pad2d", "repeat",
          "index", "index_select", "gather", "pixel_shuffle", "pixel_unshuffle", "flip",
          "upsample_nearest2d", "upsample_bilinear2d", "_unsafe_index", "im2col", "col2im",
          "channel_shuffle", "narrow_copy", "split_with_sizes_copy", "unfold"}
_VIEWS = {"view", "_unsafe_view", "reshape", "unsqueeze", "squeeze", "expand", "t", "alias",
          "detach", "slice", "select", "as_strided", "split", "split_with_sizes", "chunk",
          "unbind", "flatten", "view_as", "unflatten", "narrow", "lift_fresh", "expand_as",
          "_reshape_alias", "diagonal", "movedim", "squeeze_", "unsqueeze_"}
#: producers a following norm / activation fuses into
_FUSE_INTO = {"conv", "gconv", "dwconv", "linear"}
#: operators that only read metadata: not executed kernels at all
_SKIP = {"empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like", "full",
         "full_like", "arange", "scalar_tensor", "_local_scalar_dense", "sym_size",
         "sym_numel", "sym_stride", "is_same_size", "new_empty", "new_zeros", "new_ones",
         "resolve_conj", "resolve_neg", "_has_compatible_shallow_copy_type", "set_",
         "randn", "rand", "normal_", "uniform_", "bernoulli_", "dropout", "native_dropout",
         "feature_dropout"}


@dataclass(frozen=True)
class Op:
    """One executed operator at batch 1; bytes at the deployment precision."""

    index: int
    aten: str
    cls: str
    macs: int
    weight_bytes: int
    in_bytes: int
    out_bytes: int
    shape: tuple[int, ...]
    module: str = ""
    kind: str = ""  # activation type, conv kernel "3x3", ...
    fused: bool = False
    constant: bool = False

    @property
    def executed(self) -> bool:
        """Costs time on the device (not fused into its producer, not constant-folded)."""
        return not (self.fused or self.constant)

    @property
    def act_bytes(self) -> int:
        return self.in_bytes + self.out_bytes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Op:
        return cls(**{**data, "shape": tuple(data["shape"])})


def _name(func: Any) -> str:
    packet = getattr(func, "_overloadpacket", None)
    return getattr(packet, "__name__", None) or str(func).split(".")[1]


def _base(name: str) -> str:
    """In-place and out variants count as their operator (``relu_`` is ``relu``)."""
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def _classify(name: str, args: tuple, weights: list[torch.Tensor]) -> tuple[str, str]:
    """(class, kind) of one aten operator."""
    if name == "convolution" or name.startswith("conv") or name.startswith("_convolution"):
        x, w = args[0], args[1]
        groups = x.shape[1] // max(w.shape[1], 1)  # the same for conv2d and convolution
        kernel = "x".join(str(k) for k in w.shape[2:])
        if groups == 1:
            return "conv", kernel
        return ("dwconv" if w.shape[1] == 1 else "gconv"), kernel
    if name in ("addmm", "mm", "bmm", "baddbmm", "matmul", "linear", "addmv", "mv", "einsum",
                "_scaled_dot_product_flash_attention_for_cpu",
                "_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention",
                "scaled_dot_product_attention"):
        if "scaled_dot_product" in name:
            return "matmul", "attention"
        return ("linear" if weights else "matmul"), ""
    if name in ("_softmax", "softmax", "_log_softmax", "log_softmax"):
        return "softmax", ""
    if name in _NORMS:
        return "norm", name.replace("_native_", "").replace("native_", "").strip("_")
    if name in _ACTS:
        return "act", name
    if name in _POOLS:
        return "pool", name
    if name in _ELEMENTWISE:
        return "elementwise", name
    if name in _MOVES or name in _VIEWS:
        return "reshape", name
    return "other", name


def _macs(name: str, args: tuple, out: list[torch.Tensor]) -> int:
    """Multiply-accumulates of the compute operators (0 for the rest)."""
    if not out:
        return 0
    if name == "convolution" or name.startswith("conv") or name.startswith("_convolution"):
        w = args[1]
        return out[0].numel() * int(math.prod(w.shape[1:]))
    if name == "linear":
        return out[0].numel() * int(args[1].shape[-1])
    if name in ("addmm", "mm", "addmv", "mv", "matmul", "bmm", "baddbmm"):
        a = args[1] if name in ("addmm", "baddbmm", "addmv") else args[0]
        return out[0].numel() * int(a.shape[-1])
    if "scaled_dot_product" in name:
        q, k, v = args[:3]
        return int(q.numel() * k.shape[-2] + q.shape[:-1].numel() * k.shape[-2] * v.shape[-1])
    return 0


def _tensors(obj: Any) -> list[torch.Tensor]:
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


class _Recorder(TorchDispatchMode):
    """Records every aten call under it as an :class:`Op`."""

    def __init__(self, weights: list[torch.Tensor], element_bytes: int,
                 modules: list[str]) -> None:
        super().__init__()
        self.weights = WeakIdKeyDictionary()  # parameters, buffers and what folds from them
        for t in weights:
            self.weights[t] = True
        self.element_bytes = element_bytes
        self.modules = modules  # stack of qualified module names (forward hooks)
        self.producer: WeakIdKeyDictionary = WeakIdKeyDictionary()  # tensor -> (cls, fusable)
        self.ops: list[Op] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = _base(_name(func))
        if name in _SKIP:
            return out
        ins = _tensors((args, kwargs or {}))
        outs = _tensors(out)
        if not outs:
            return out
        weights = [t for t in ins if t in self.weights]
        acts = [t for t in ins if t not in self.weights]
        cls, kind = _classify(name, args, weights)
        constant = bool(ins) and not acts  # all inputs are weights: folded at conversion
        first = self.producer.get(acts[0]) if acts else None
        fused = (cls in ("norm", "act") and first is not None and first[1])
        if constant:
            for t in outs:
                self.weights[t] = True
        else:
            fusable = cls in _FUSE_INTO or fused
            for t in outs:
                self.producer[t] = (cls, fusable)
        is_view = name in _VIEWS
        eb = self.element_bytes
        self.ops.append(Op(
            index=len(self.ops), aten=name, cls=cls, macs=_macs(name, args, outs),
            weight_bytes=0 if is_view else sum(t.numel() for t in
                                               {id(w): w for w in weights}.values()) * eb,
            in_bytes=0 if is_view else sum(t.numel() for t in acts) * eb,
            out_bytes=0 if is_view else outs[0].numel() * eb,
            shape=tuple(outs[0].shape), module=self.modules[-1] if self.modules else "",
            kind=kind, fused=bool(fused), constant=constant))
        return out


def trace_ops(module: nn.Module, example: torch.Tensor, precision: str = "fp16"
              ) -> list[Op]:
    """Every operator one forward pass of ``module`` (deployed form) executes.

    The pass runs on a copy on PyTorch's ``meta`` device (shapes only, no arithmetic:
    milliseconds instead of a real inference); a model whose forward needs real values
    (data-dependent control flow) is traced on the CPU instead."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    try:
        meta = copy.deepcopy(module).to("meta")
        return _trace(meta, torch.empty(example.shape, device="meta"), precision)
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return _trace(module, example, precision)


def _trace(module: nn.Module, example: torch.Tensor, precision: str) -> list[Op]:
    weights = [*module.parameters(), *module.buffers()]
    stack: list[str] = []
    names = {m: n for n, m in module.named_modules()}
    hooks = []
    def enter(mod: nn.Module, _inputs: Any) -> None:
        stack.append(names[mod] or type(mod).__name__)

    def leave(_mod: nn.Module, _inputs: Any, _output: Any) -> None:
        stack.pop()

    for mod in names:
        hooks.append(mod.register_forward_pre_hook(enter))
        hooks.append(mod.register_forward_hook(leave))
    recorder = _Recorder(weights, PRECISIONS[precision], stack)
    try:
        with torch.inference_mode(), recorder:
            module(example)
    finally:
        for h in hooks:
            h.remove()
    return recorder.ops


@dataclass(frozen=True)
class OpCost:
    """The operators of one network and their per-class totals."""

    name: str
    resolution: int
    precision: str
    ops: tuple[Op, ...]

    def executed(self) -> list[Op]:
        return [op for op in self.ops if op.executed]

    def totals(self) -> dict[str, Any]:
        """Per-network totals: MACs and bytes per class, operator counts, unknown ops."""
        ex = self.executed()
        out: dict[str, Any] = {
            "opcost_ops": len(ex),
            "opcost_macs": sum(op.macs for op in ex),
            "opcost_weight_bytes": sum(op.weight_bytes for op in ex),
            "opcost_act_bytes": sum(op.act_bytes for op in ex),
            "opcost_fused_ops": sum(op.fused for op in self.ops),
            "opcost_precision": self.precision,
        }
        for cls in CLASSES:
            ops = [op for op in ex if op.cls == cls]
            if ops:
                out[f"opcost_{cls}_ops"] = len(ops)
                out[f"opcost_{cls}_macs"] = sum(op.macs for op in ops)
                out[f"opcost_{cls}_act_bytes"] = sum(op.act_bytes for op in ops)
        other = Counter(op.aten for op in ex if op.cls == "other")
        out["opcost_other"] = dict(sorted(other.items()))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "resolution": self.resolution, "precision": self.precision,
                "ops": [op.to_dict() for op in self.ops]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpCost:
        return cls(data["name"], int(data["resolution"]), data["precision"],
                   tuple(Op.from_dict(o) for o in data["ops"]))


def _parse(value: Any) -> OpCost | None:
    """A cached entry is served only if it still parses into ops (else: a miss)."""
    try:
        return OpCost.from_dict(value)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def opcost(candidate: Candidate, precision: str = "fp16", no_cache: bool = False,
           cache_dir: str | Path | None = None) -> OpCost:
    """Operators of ``candidate``'s deployed form at batch 1, cached by its deploy identity."""
    from explorer.export import example_input

    cache = Cache("opcost", Path(cache_dir) if cache_dir else default_cache_dir(),
                  enabled=not no_cache)
    key = {"key": candidate.key, "resolution": candidate.resolution, "precision": precision,
           "in_chans": candidate.in_chans, "version": FEATURES_VERSION,
           "torch": torch.__version__.split("+")[0]}
    hit = cache.get(key)
    cached = _parse(hit) if hit is not None else None
    if cached is not None:
        return cached
    ops = trace_ops(candidate.deployed, example_input(candidate), precision)
    result = OpCost(candidate.name, candidate.resolution, precision, tuple(ops))
    cache.put(key, result.to_dict())
    return result


def opcost_metric(candidate: Candidate, no_cache: bool = False,
                  cache_dir: str | Path | None = None, precision: str = "fp16",
                  **_: object) -> dict[str, Any]:
    """The ``opcost`` metric for :func:`explorer.measure.measure`: per-class totals."""
    return opcost(candidate, precision, no_cache, cache_dir).totals()


def class_counts(ops: Iterable[Op]) -> dict[str, int]:
    return dict(Counter(op.cls for op in ops if op.executed))
