"""Design edits: small named pure functions ``NetworkSpec -> NetworkSpec``.

The RepViT roadmap (paper section 3) is an ordered list of them (see
:mod:`explorer.roadmap`). Edits never mutate; they return a new, validated spec. An
edit whose precondition fails raises :class:`EditError` saying which one, so any
subset in any order either applies or explains itself.

Where the paper is silent we chose, and each choice is stated in the edit's
docstring (and in the README's roadmap section):

* ``gelu``: every ReLU / hard-swish of stem, blocks, downsampling units and head
  becomes GELU; the SE modules keep their own ReLU and gate, as in the final RepViT.
* ``split_mixers``: MobileNetV3 blocks that downsample or change width keep doing so:
  their token mixer is a plain strided DW conv + BN (a strided conv has no identity to
  re-parameterise), and the FFN has a residual only when widths match. SE moves from
  the expanded channels to the DW output at the input width (RepViT's SE).
* ``early_conv``: MobileNetV3's first stride-2 bottleneck (16->24 at 112x112) is part
  of the stem the paper replaces (its 1:2:5:2 stage count excludes it), so it goes.
* ``deeper_downsampling``: the stride-2 block that opens stages 2-4 is replaced by the
  downsampling unit (its kernel is the paper's 3x3; expansion 2).
* ``stage_depths``: stages grow by repeating their last block (stride 1) and shrink
  from the end.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from explorer.errors import EditError, SpecError
from explorer.registry import Registry
from explorer.spec import (
    BlockSpec,
    DownsampleSpec,
    HeadSpec,
    NetworkSpec,
    StageSpec,
    StemSpec,
    validate,
)

EditFn = Callable[[NetworkSpec], NetworkSpec]


@dataclass(frozen=True)
class Edit:
    """A named spec transformation with a one-line description (the paper step's)."""

    name: str
    description: str
    fn: EditFn

    def __call__(self, spec: NetworkSpec) -> NetworkSpec:
        try:
            out = self.fn(spec)
        except EditError:
            raise
        except SpecError as exc:
            raise EditError(f"{self.name}: result is not a valid spec: {exc}") from None
        except Exception as exc:  # a user's module:function edit crashed: name it
            raise EditError(f"edit {self.name} failed on spec {spec.name!r}: "
                            f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(out, NetworkSpec):
            raise EditError(f"{self.name}: an edit must return a NetworkSpec, "
                            f"got {type(out).__name__}")
        try:
            return validate(out)
        except SpecError as exc:
            raise EditError(f"{self.name}: result is not a valid spec: {exc}") from None


EDITS: Registry[Edit] = Registry("edit", EditError)


def register(name: str, description: str) -> Callable[[EditFn], EditFn]:
    """Decorator registering an edit under ``name`` (usable from the CLI by that name); a
    name already taken is refused."""

    def wrap(fn: EditFn) -> EditFn:
        EDITS.add(name, Edit(name, description, fn))
        return fn

    return wrap


def import_user_module(name: str) -> object:
    """Import a user's ``module`` of a ``module:function`` reference as ``python -m`` would:
    with the current folder first on ``sys.path`` (the ``explorer`` script's own
    ``sys.path`` starts at its bin folder). Importing runs the module's code."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        if added:
            sys.path.remove(cwd)


def get_edit(ref: str | Edit | EditFn) -> Edit:
    """An :class:`Edit` from a registered name, ``module:function``, or a callable."""
    if isinstance(ref, Edit):
        return ref
    if callable(ref):
        doc = inspect.getdoc(ref) or ref.__name__
        return Edit(ref.__name__, doc.splitlines()[0], ref)
    if ref in EDITS:
        return EDITS.get(ref)
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
        try:
            module = import_user_module(module_name)
        except Exception as exc:  # missing module, or user code failing at import
            raise EditError(f"cannot import edit module {module_name!r}: "
                            f"{type(exc).__name__}: {exc}") from exc
        fn = getattr(module, attr, None)
        if fn is None:
            raise EditError(f"module {module_name!r} has no edit {attr!r}")
        if isinstance(fn, Edit):
            return fn
        if not callable(fn):
            raise EditError(f"{ref} is not callable")
        edit = get_edit(fn)
        return dataclasses.replace(edit, name=ref)
    raise EditError(f"{EDITS.unknown(ref)} (or give module:function)")


def apply(spec: NetworkSpec, edits: Iterable[str | Edit | EditFn]) -> NetworkSpec:
    """Apply edits in order."""
    for ref in edits:
        spec = get_edit(ref)(spec)
    return spec


# -- helpers -----------------------------------------------------------------------------
def _map_blocks(spec: NetworkSpec, fn: Callable[[int, int, BlockSpec], BlockSpec]) -> NetworkSpec:
    stages = tuple(dataclasses.replace(stage, blocks=tuple(fn(s, b, blk) for b, blk in
                                                           enumerate(stage.blocks)))
                   for s, stage in enumerate(spec.stages))
    return dataclasses.replace(spec, stages=stages)


def _map_downsample(spec: NetworkSpec, fn: Callable[[DownsampleSpec], DownsampleSpec]
                    ) -> NetworkSpec:
    stages = tuple(dataclasses.replace(st, downsample=fn(st.downsample)) if st.downsample
                   else st for st in spec.stages)
    return dataclasses.replace(spec, stages=stages)


def _gelu(act: str) -> str:
    return "gelu" if act in ("relu", "hswish") else act


# -- the roadmap's edits (paper section 3, in order) -----------------------------------------
@register("gelu", "MobileNetV3-L with GELU activations (Core ML supports every op)")
def gelu(spec: NetworkSpec) -> NetworkSpec:
    """Every ReLU/hard-swish in stem, blocks, downsampling units and head becomes GELU.
    SE keeps its ReLU and gate (the paper does not say; the final RepViT does the same)."""
    spec = _map_blocks(spec, lambda s, b, blk: dataclasses.replace(blk, act=_gelu(blk.act)))
    spec = _map_downsample(spec, lambda d: dataclasses.replace(d, act=_gelu(d.act)))
    stem = dataclasses.replace(spec.stem, acts=tuple(_gelu(a) for a in spec.stem.acts))
    head = dataclasses.replace(spec.head, act=_gelu(spec.head.act))
    return dataclasses.replace(spec, stem=stem, head=head)


@register("align_recipe", "Aligning training recipe (AdamW, 300 epochs, no distillation)")
def align_recipe(spec: NetworkSpec) -> NetworkSpec:
    """Training only: the architecture, and so every measurement, is unchanged."""
    return dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, name="deit-aligned"))


@register("split_mixers", "Separate token mixer (RepVGG DW + SE) and channel mixer (1x1 FFN)")
def split_mixers(spec: NetworkSpec) -> NetworkSpec:
    """MobileNetV3 inverted residuals become RepViT blocks: the DW conv moves before the
    1x1 expansion, SE follows it at the input width, and the stride-1 DW gets RepVGG-style
    1x1 + identity branches that fold away at deploy time. Strided / width-changing
    blocks keep downsampling (plain DW+BN token mixer, FFN without residual)."""
    if not any(blk.kind == "ir" for _, _, blk in spec.iter_blocks()):
        raise EditError("split_mixers needs MobileNetV3 inverted-residual blocks "
                        "(kind 'ir'); this spec has none")
    return _map_blocks(spec, lambda s, b, blk: dataclasses.replace(blk, kind="repvit"))


@register("expansion_2", "Reducing expansion ratio: 2 in every channel mixer")
def expansion_2(spec: NetworkSpec) -> NetworkSpec:
    """Expansion ratio 2 in every block and downsampling unit (MBv3 used 2.3 to 6)."""
    spec = _map_blocks(spec, lambda s, b, blk: dataclasses.replace(blk, expansion=2.0))
    return _map_downsample(spec, lambda d: dataclasses.replace(d, expansion=2.0))


def set_widths(spec: NetworkSpec, widths: tuple[int, ...]) -> NetworkSpec:
    """Every block (and downsampling unit) of stage i gets width widths[i]."""
    if len(widths) != len(spec.stages):
        raise EditError(f"widths: needs one width per stage ({len(spec.stages)} stages), "
                        f"got {len(widths)}")
    stages = tuple(StageSpec(tuple(dataclasses.replace(blk, width=w) for blk in st.blocks),
                             dataclasses.replace(st.downsample, width=w) if st.downsample
                             else None)
                   for st, w in zip(spec.stages, widths, strict=True))
    return dataclasses.replace(spec, stages=stages)


@register("widths", "Increasing width: 48, 96, 192, 384 channels per stage")
def widths(spec: NetworkSpec) -> NetworkSpec:
    """The four resolution stages get RepViT-M0.9's widths (roughly MBv3's doubled)."""
    return set_widths(spec, (48, 96, 192, 384))


@register("early_conv", "Early convolutions: stem of two 3x3 stride-2 convs (24, 48)")
def early_conv(spec: NetworkSpec) -> NetworkSpec:
    """Replace the MBv3 stem (conv 16 + depthwise-separable block + the first stride-2
    bottleneck, which the paper counts as stem) with conv3x3 s2 (24) + GELU, conv3x3 s2
    (48). The stem now reaches stride 4 itself, so stage 1's stride-2 block goes."""
    if spec.stem.kind != "mbv3":
        raise EditError(f"early_conv replaces a MobileNetV3 stem; this stem is "
                        f"{spec.stem.kind!r}")
    first = spec.stages[0]
    if not first.blocks or first.blocks[0].stride != 2 or first.downsample is not None:
        raise EditError("early_conv: the new stem has stride 4, so stage 1 must start with "
                        "the stride-2 block it absorbs; it does not")
    if len(first.blocks) < 2:
        raise EditError("early_conv: stage 1 would be left with no blocks")
    stages = (dataclasses.replace(first, blocks=first.blocks[1:]),) + spec.stages[1:]
    stem = StemSpec("early_conv", (24, 48), ("gelu", "none"))
    return dataclasses.replace(spec, stem=stem, stages=stages)


@register("deeper_downsampling",
          "Deeper downsampling: RepViT block + DW s2 + 1x1 + FFN between stages")
def deeper_downsampling(spec: NetworkSpec) -> NetworkSpec:
    """Stages 2..n open with a separate downsampling unit instead of a stride-2 block:
    a RepViT block at the input width (no SE), DW 3x3 stride 2, 1x1 to the new width and a
    residual FFN (ratio 2). The stride-2 block it replaces is removed."""
    stages = [spec.stages[0]]
    for i, st in enumerate(spec.stages[1:], start=2):
        if st.downsample is not None:
            raise EditError(f"deeper_downsampling: stage {i} already has a downsampling unit")
        if not st.blocks or st.blocks[0].stride != 2:
            raise EditError(f"deeper_downsampling: stage {i} must start with a stride-2 "
                            "block to replace; it does not")
        head = st.blocks[0]
        stages.append(StageSpec(st.blocks[1:], DownsampleSpec(head.width, "repvit", 3, 2.0,
                                                              _gelu(head.act))))
    return dataclasses.replace(spec, stages=tuple(stages))


@register("simple_classifier", "Simple classifier: global pool -> linear (BN folded)")
def simple_classifier(spec: NetworkSpec) -> NetworkSpec:
    """Drop MBv3's 960/1280-channel head for pool -> BatchNorm1d -> linear."""
    if spec.head.kind != "mbv3":
        raise EditError(f"simple_classifier replaces a MobileNetV3 head; this head is "
                        f"{spec.head.kind!r}")
    return dataclasses.replace(spec, head=HeadSpec("classifier"))


def set_depths(spec: NetworkSpec, depths: tuple[int, ...]) -> NetworkSpec:
    """Body blocks per stage (downsampling units not counted): grow by repeating the
    last block at stride 1, shrink from the end."""
    if len(depths) != len(spec.stages):
        raise EditError(f"stage_depths: needs one depth per stage ({len(spec.stages)} "
                        f"stages), got {len(depths)}")
    stages = []
    for i, (st, d) in enumerate(zip(spec.stages, depths, strict=True), start=1):
        if not st.blocks:
            raise EditError(f"stage_depths: stage {i} has no body block to repeat")
        extra = (dataclasses.replace(st.blocks[-1], stride=1),) * max(0, d - len(st.blocks))
        stages.append(dataclasses.replace(st, blocks=(st.blocks + extra)[:d]))
    return dataclasses.replace(spec, stages=tuple(stages))


@register("stage_depths", "Overall stage ratio 1:1:7:1, doubled: depths 2, 2, 14, 2")
def stage_depths(spec: NetworkSpec) -> NetworkSpec:
    """RepViT-M0.9's depths (MBv3-L's ratio is 1:2:5:2 counted the same way)."""
    return set_depths(spec, (2, 2, 14, 2))


@register("kernel_3x3", "Kernel size: every depthwise conv 3x3")
def kernel_3x3(spec: NetworkSpec) -> NetworkSpec:
    """Replaces MBv3's 5x5 kernels (body blocks and downsampling units)."""
    spec = _map_blocks(spec, lambda s, b, blk: dataclasses.replace(blk, kernel=3))
    return _map_downsample(spec, lambda d: dataclasses.replace(d, kernel=3))


def _place_se(spec: NetworkSpec, where: Callable[[int], bool]) -> NetworkSpec:
    """SE in block b of every stage where ``where(b)``; downsampling units have none."""
    return _map_blocks(spec, lambda s, b, blk: dataclasses.replace(blk, se=where(b)))


@register("se_alternate", "SE placement: SE in the 1st, 3rd, 5th... block of each stage")
def se_alternate(spec: NetworkSpec) -> NetworkSpec:
    """Cross-block SE (RepViT's choice, paper Table 7)."""
    return _place_se(spec, lambda b: b % 2 == 0)


@register("se_none", "SE placement: no SE in any block (paper Table 7's first row)")
def se_none(spec: NetworkSpec) -> NetworkSpec:
    """Removes every block's SE: the paper's no-SE baseline for the placement ablation."""
    return _place_se(spec, lambda b: False)


@register("se_all", "SE placement: SE in every block (paper Table 7's second row)")
def se_all(spec: NetworkSpec) -> NetworkSpec:
    """SE in every body block (the downsampling units' pre-block keeps none)."""
    return _place_se(spec, lambda b: True)


@register("distill", "+ distillation (RegNetY-16GF teacher; 2nd head merged at deploy)")
def distill(spec: NetworkSpec) -> NetworkSpec:
    """Recipe only: adds DeiT's distillation head for training; the deployed model is
    unchanged because both heads are averaged into one linear layer."""
    if spec.head.kind != "classifier":
        raise EditError("distill needs the simple classifier head (apply simple_classifier "
                        "first)")
    return dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, distillation=True))
