"""Reference specs, named as timm names them.

Variants are explicit, greppable functions (one line of docstring each) handing their
data to one builder (the timm way, as in timm's ``models/repvit.py``), never anonymous cfg
rows. In training form every entry has exactly the parameter count of timm's model of
the same name (RepViT with its distillation head), which tests/test_zoo.py proves.
"""
from __future__ import annotations

from collections.abc import Callable

from explorer.errors import UnknownModelError
from explorer.registry import Registry
from explorer.spec import (
    BlockSpec,
    DownsampleSpec,
    HeadSpec,
    NetworkSpec,
    RecipeSpec,
    StageSpec,
    StemSpec,
)

#: zoo name -> the function building its spec
MODELS: Registry[Callable[[], NetworkSpec]] = Registry("zoo model", UnknownModelError)


def register(fn: Callable[[], NetworkSpec]) -> Callable[[], NetworkSpec]:
    """Decorator registering a spec function under its own name (taken names refused)."""
    return MODELS.add(fn.__name__, fn)


def list_models() -> list[str]:
    return sorted(MODELS)


def get_spec(name: str) -> NetworkSpec:
    """The zoo spec called ``name``; an unknown name suggests the closest ones."""
    return MODELS.get(name)()


def _ir(width: int, kernel: int, expansion: float, act: str, stride: int = 1,
        se: bool = False) -> BlockSpec:
    return BlockSpec("ir", width, kernel, expansion, stride, se, act)


@register
def mobilenetv3_large_100() -> NetworkSpec:
    """MobileNetV3-Large 1.0 (Howard et al. 2019, Table 1), timm's arch string."""
    re, hs = "relu", "hswish"
    return NetworkSpec(
        name="mobilenetv3_large_100",
        stem=StemSpec("mbv3", (16, 16), (hs, re)),
        stages=(
            StageSpec((_ir(24, 3, 4, re, 2), _ir(24, 3, 3, re))),
            StageSpec((_ir(40, 5, 3, re, 2, True), _ir(40, 5, 3, re, se=True),
                       _ir(40, 5, 3, re, se=True))),
            StageSpec((_ir(80, 3, 6, hs, 2), _ir(80, 3, 2.5, hs), _ir(80, 3, 2.3, hs),
                       _ir(80, 3, 2.3, hs), _ir(112, 3, 6, hs, se=True),
                       _ir(112, 3, 6, hs, se=True))),
            StageSpec((_ir(160, 5, 6, hs, 2, True), _ir(160, 5, 6, hs, se=True),
                       _ir(160, 5, 6, hs, se=True))),
        ),
        head=HeadSpec("mbv3", (960, 1280), hs, 0.2),
        recipe=RecipeSpec("mobilenetv3-google", distillation=False),
    )


def repvit(widths: tuple[int, ...], depths: tuple[int, ...], name: str = "",
           distillation: bool = True, kernel: int = 3, expansion: float = 2.0,
           act: str = "gelu") -> NetworkSpec:
    """One builder for the RepViT family: early-conv stem (C1/2, C1), stage 1 of plain
    blocks, then per stage a deeper downsampling unit and body blocks with SE on the
    1st, 3rd, 5th... block, simple classifier (distillation head by default, as timm)."""
    stages = []
    for i, (w, d) in enumerate(zip(widths, depths, strict=True)):
        body = tuple(BlockSpec("repvit", w, kernel, expansion, 1, j % 2 == 0, act)
                     for j in range(d))
        down = DownsampleSpec(w, "repvit", kernel, expansion, act) if i > 0 else None
        stages.append(StageSpec(body, down))
    return NetworkSpec(
        name=name,
        stem=StemSpec("early_conv", (widths[0] // 2, widths[0]), (act, "none")),
        stages=tuple(stages),
        head=HeadSpec("classifier"),
        recipe=RecipeSpec("deit-aligned", distillation=distillation),
    )


# The RepViT family (paper Table 1; widths and depths from the official repository's cfgs,
# as timm's models/repvit.py has them).
@register
def repvit_m0_6() -> NetworkSpec:
    """RepViT-M0.6: in the official repository only, not in timm."""
    return repvit((40, 80, 160, 320), (1, 1, 8, 1), name="repvit_m0_6")


@register
def repvit_m0_9() -> NetworkSpec:
    """RepViT-M0.9: the end of the paper's roadmap (section 3)."""
    return repvit((48, 96, 192, 384), (2, 2, 14, 2), name="repvit_m0_9")


@register
def repvit_m1_0() -> NetworkSpec:
    """RepViT-M1.0: M0.9's depths, wider stages."""
    return repvit((56, 112, 224, 448), (2, 2, 14, 2), name="repvit_m1_0")


@register
def repvit_m1_1() -> NetworkSpec:
    """RepViT-M1.1: wider again, two fewer blocks in stage 3."""
    return repvit((64, 128, 256, 512), (2, 2, 12, 2), name="repvit_m1_1")


@register
def repvit_m1_5() -> NetworkSpec:
    """RepViT-M1.5: M1.1's widths, twice the depth."""
    return repvit((64, 128, 256, 512), (4, 4, 24, 4), name="repvit_m1_5")


@register
def repvit_m2_3() -> NetworkSpec:
    """RepViT-M2.3: the largest variant."""
    return repvit((80, 160, 320, 640), (6, 6, 34, 2), name="repvit_m2_3")

#: Zoo names that timm also builds (for parity tests and reference measurements).
TIMM_NAMES = [n for n in list_models() if n != "repvit_m0_6"]
