"""Declarative architecture specs: a network is data.

A :class:`NetworkSpec` is a tree of frozen dataclasses (stem, stages of blocks with
optional downsampling units, head, training recipe). It round-trips through
JSON/YAML, has a stable content hash, and is validated here -- before any torch
code runs -- so a bad spec fails with one :class:`SpecError` naming the field.

Widths are output channels. ``expansion`` is relative to a block's *input* width
(hidden = make_divisible(in * expansion, 8)), as in MobileNetV3 and timm, so the
zoo specs reproduce timm's parameter counts exactly.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import reprlib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.errors import SpecError

ACTIVATIONS = ("relu", "hswish", "gelu", "none")
BLOCK_KINDS = ("ir", "repvit")  # MobileNetV3 inverted residual | RepViT block
STEM_KINDS = ("mbv3", "early_conv")
HEAD_KINDS = ("mbv3", "classifier")
DOWNSAMPLE_KINDS = ("repvit",)
KERNELS = (1, 3, 5, 7)
MIN_RESOLUTION = 32  # px: five stride-2 stages still leave one pixel
#: Known training recipes (roadmap step 1 switches from the first to the second).
RECIPES = {
    "mobilenetv3-google": "MobileNetV3 paper: RMSProp, lr 0.1, batch 4096, EMA, dropout 0.8",
    "deit-aligned": "RepViT/DeiT style: AdamW, cosine, 300 epochs, RandAugment, Mixup, "
                    "CutMix, random erasing, label smoothing",
}
SE_DIVISOR = 4  # SE squeezes to 1/4: the channels it sees must divide by 4


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """Round channels to the nearest multiple of ``divisor``, never losing more than
    ``1 - round_limit`` of them (the TF/timm rule, so channel counts match timm's)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < round_limit * value:
        new += divisor
    return new


@dataclass(frozen=True)
class BlockSpec:
    """One body block. ``kind='ir'``: MobileNetV3 inverted residual (expand, DW, SE, project);
    ``kind='repvit'``: RepViT block (RepVGG-style DW token mixer, SE, 1x1 channel-mixer FFN)."""

    kind: str = "repvit"
    width: int = 48
    kernel: int = 3
    expansion: float = 2.0
    stride: int = 1
    se: bool = False
    act: str = "gelu"


@dataclass(frozen=True)
class DownsampleSpec:
    """RepViT's deeper downsampling unit entering a stage: RepViT block at C_in (no SE) ->
    DW kxk stride 2 -> 1x1 to ``width`` -> residual FFN with ``expansion``."""

    width: int
    kind: str = "repvit"
    kernel: int = 3
    expansion: float = 2.0
    act: str = "gelu"


@dataclass(frozen=True)
class StageSpec:
    """A resolution stage: an optional downsampling unit, then body blocks."""

    blocks: tuple[BlockSpec, ...]
    downsample: DownsampleSpec | None = None

    @property
    def width(self) -> int:
        """The stage's output width: its last block's, else its downsampling unit's."""
        return self.blocks[-1].width if self.blocks else self.downsample.width


@dataclass(frozen=True)
class StemSpec:
    """``mbv3``: conv3x3 s2 (widths[0], acts[0]) then a depthwise-separable block (widths[1],
    acts[1]); ``early_conv``: one conv3x3 s2 + BN per width, each followed by its act."""

    kind: str = "early_conv"
    widths: tuple[int, ...] = (24, 48)
    acts: tuple[str, ...] = ("gelu", "none")


@dataclass(frozen=True)
class HeadSpec:
    """``mbv3``: 1x1 conv to widths[0] + BN + act, pool, 1x1 conv (bias) to widths[1] + act,
    dropout, linear. ``classifier``: pool -> BatchNorm1d -> linear (RepViT's simple head)."""

    kind: str = "classifier"
    widths: tuple[int, ...] = ()
    act: str = "gelu"
    dropout: float = 0.0


@dataclass(frozen=True)
class RecipeSpec:
    """Training recipe: not architecture, but roadmap step 1 changes only this. With
    ``distillation`` the classifier gets DeiT's second (distillation) head, averaged at eval
    and merged into one linear layer at deploy time."""

    name: str = "deit-aligned"
    distillation: bool = False


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network. ``name`` is a label only: it is excluded from equality and hashes."""

    stem: StemSpec
    stages: tuple[StageSpec, ...]
    head: HeadSpec
    recipe: RecipeSpec = RecipeSpec()
    resolution: int = 224
    num_classes: int = 1000
    in_chans: int = 3
    name: str = field(default="", compare=False)

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any) -> NetworkSpec:
        spec = _from_plain(cls, data, "spec")
        validate(spec)
        return spec

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec is not valid JSON: {exc}") from None
        except RecursionError:
            raise SpecError(TOO_DEEP) from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls, text: str) -> NetworkSpec:
        return cls.from_dict(parse_yaml(text, "spec", SpecError))

    # -- identity --------------------------------------------------------------------
    @property
    def hash(self) -> str:
        """Stable content hash of everything but the name (architecture + recipe)."""
        return _digest({k: v for k, v in self.to_dict().items() if k != "name"})

    @property
    def deploy_hash(self) -> str:
        """Hash of what the deployed model depends on: the recipe only changes training,
        and the distillation head is merged away, so latency caches key on this."""
        return _digest({k: v for k, v in self.to_dict().items() if k not in ("name", "recipe")})

    def replace(self, **changes: Any) -> NetworkSpec:
        """A validated copy with fields changed (specs are immutable)."""
        spec = dataclasses.replace(self, **changes)
        validate(spec)
        return spec

    def iter_blocks(self) -> Iterator[tuple[int, int, BlockSpec]]:
        """(stage index, block index, block) for every body block."""
        for s, stage in enumerate(self.stages):
            for b, block in enumerate(stage.blocks):
                yield s, b, block

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(stage.blocks) for stage in self.stages)


def _digest(data: Any) -> str:
    canon = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


@functools.cache
def _float_fields(cls: type) -> frozenset[str]:
    """Fields annotated ``float`` (resolving hints is slow: once per class, not per call)."""
    return frozenset(name for name, hint in typing.get_type_hints(cls).items()
                     if hint is float)


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        floats = _float_fields(type(obj))
        return {f.name: (float(getattr(obj, f.name)) if f.name in floats  # 4 == 4.0
                         else _to_plain(getattr(obj, f.name))) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


#: a spec is a few levels deep; parsers and messages stop at nesting far beyond that
TOO_DEEP = "nested too deeply (lists or mappings inside each other by the thousand)"
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60


def _show(value: Any) -> str:
    """``repr`` cut to a few levels and characters: a deep or huge value in a bad spec
    must not blow up (or flood) the one-line message about it."""
    return _SHORT.repr(value)


def _from_plain(tp: Any, data: Any, path: str) -> Any:
    """Build ``tp`` from JSON-like data, strictly: unknown keys and wrong types name the path."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise SpecError(f"{path}: expected a mapping, got {type(data).__name__}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(data) - names, key=str)  # keys may mix types (YAML's 1: and foo:)
        if unknown:
            raise SpecError(f"{path}: unknown field(s) {', '.join(map(str, unknown))}; "
                            f"expected some of {', '.join(sorted(names))}")
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _from_plain(hints[f.name], data[f.name], f"{path}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{path}.{f.name}: required field is missing")
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _from_plain(inner[0], data, path)
    if origin is tuple:
        if not isinstance(data, (list, tuple)):
            raise SpecError(f"{path}: expected a list, got {type(data).__name__}")
        (item,) = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return tuple(_from_plain(item, v, f"{path}[{i}]") for i, v in enumerate(data))
    if tp is bool:
        if not isinstance(data, bool):
            raise SpecError(f"{path}: expected true/false, got {_show(data)}")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise SpecError(f"{path}: expected an integer, got {_show(data)}")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise SpecError(f"{path}: expected a number, got {_show(data)}")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise SpecError(f"{path}: expected a string, got {_show(data)}")
        return data
    raise TypeError(f"unsupported spec field type {tp!r}")  # a bug in this module, not user input


# -- validation ----------------------------------------------------------------------
def _check(cond: bool, path: str, msg: str) -> None:
    if not cond:
        raise SpecError(f"{path}: {msg}")


def _check_choice(value: Any, choices: tuple, path: str) -> None:
    _check(value in choices, path, f"must be one of {', '.join(map(str, choices))}, got {value!r}")


def _check_pos_int(value: Any, path: str) -> None:
    _check(isinstance(value, int) and not isinstance(value, bool) and value > 0, path,
           f"must be a positive integer, got {value!r}")


def _check_conv(kernel: int, expansion: float, act: str, path: str) -> None:
    _check_choice(kernel, KERNELS, f"{path}.kernel")
    _check(isinstance(expansion, (int, float)) and math.isfinite(expansion) and expansion > 0,
           f"{path}.expansion", f"must be a positive number, got {expansion!r}")
    _check_choice(act, ACTIVATIONS, f"{path}.act")


def validate(spec: NetworkSpec) -> NetworkSpec:
    """Raise :class:`SpecError` naming the first impossible field; return the spec."""
    _check_pos_int(spec.resolution, "resolution")
    _check(spec.resolution >= MIN_RESOLUTION, "resolution",
           f"must be at least {MIN_RESOLUTION}, got {spec.resolution}")
    _check_pos_int(spec.num_classes, "num_classes")
    _check_pos_int(spec.in_chans, "in_chans")
    _check_choice(spec.recipe.name, tuple(RECIPES), "recipe.name")

    stem = spec.stem
    _check_choice(stem.kind, STEM_KINDS, "stem.kind")
    _check(len(stem.widths) == len(stem.acts), "stem.acts",
           f"needs one activation per stem width ({len(stem.widths)}), got {len(stem.acts)}")
    if stem.kind == "mbv3":
        _check(len(stem.widths) == 2, "stem.widths", "an mbv3 stem has exactly 2 widths "
               "(conv, depthwise-separable block)")
    _check(len(stem.widths) >= 1, "stem.widths", "needs at least one width")
    for i, (w, a) in enumerate(zip(stem.widths, stem.acts, strict=True)):
        _check_pos_int(w, f"stem.widths[{i}]")
        _check_choice(a, ACTIVATIONS, f"stem.acts[{i}]")

    _check(len(spec.stages) >= 1, "stages", "needs at least one stage")
    channels = stem.widths[-1]
    for s, stage in enumerate(spec.stages):
        p = f"stages[{s}]"
        _check(len(stage.blocks) >= 1 or stage.downsample is not None, p,
               "a stage needs at least one block or a downsample unit")
        if stage.downsample is not None:
            d = stage.downsample
            _check_choice(d.kind, DOWNSAMPLE_KINDS, f"{p}.downsample.kind")
            _check_pos_int(d.width, f"{p}.downsample.width")
            _check_conv(d.kernel, d.expansion, d.act, f"{p}.downsample")
            channels = d.width
        for b, block in enumerate(stage.blocks):
            bp = f"{p}.blocks[{b}]"
            _check_choice(block.kind, BLOCK_KINDS, f"{bp}.kind")
            _check_pos_int(block.width, f"{bp}.width")
            _check_choice(block.stride, (1, 2), f"{bp}.stride")
            _check_conv(block.kernel, block.expansion, block.act, bp)
            hidden = make_divisible(channels * block.expansion)
            se_channels = hidden if block.kind == "ir" else channels
            if block.se:
                _check(se_channels % SE_DIVISOR == 0, f"{bp}.se",
                       f"SE on {se_channels} channels needs a multiple of {SE_DIVISOR} "
                       f"(SE reduction 1/{SE_DIVISOR})")
            channels = block.width

    head = spec.head
    _check_choice(head.kind, HEAD_KINDS, "head.kind")
    _check_choice(head.act, ACTIVATIONS, "head.act")
    _check(0.0 <= head.dropout < 1.0, "head.dropout", f"must be in [0, 1), got {head.dropout}")
    if head.kind == "mbv3":
        _check(len(head.widths) == 2, "head.widths", "an mbv3 head has exactly 2 widths "
               "(1x1 conv before pooling, 1x1 conv after)")
    else:
        _check(len(head.widths) == 0, "head.widths", "the classifier head has no widths")
    for i, w in enumerate(head.widths):
        _check_pos_int(w, f"head.widths[{i}]")
    if spec.recipe.distillation:
        _check(head.kind == "classifier", "recipe.distillation",
               "the distillation head needs head.kind 'classifier'")
    return spec


def parse_yaml(text: str, source: str, error: type[Exception]) -> Any:
    """``yaml.safe_load`` whose syntax errors become one line (``error``) naming
    ``source``, the line and column, instead of PyYAML's multi-line excerpt."""
    import yaml

    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise error(f"{source}: {TOO_DEEP}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{source}: not valid YAML{where}: {problem}") from None


def load_spec(path: str | Path) -> NetworkSpec:
    """Read a spec from a .json / .yaml / .yml file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise SpecError(f"{path}: spec files end in .json, .yaml or .yml")
    try:
        text = path.read_text()
        spec = NetworkSpec.from_json(text) if suffix == ".json" else NetworkSpec.from_yaml(text)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read spec file: {exc}") from None
    return spec if spec.name else dataclasses.replace(spec, name=path.stem)
