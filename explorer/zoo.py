"""Reference specs, named as timm names them.

Variants are data handed to one builder function (the timm way), never anonymous cfg
rows. In training form every entry has exactly the parameter count of timm's model of
the same name (RepViT with its distillation head), which tests/test_zoo.py proves.
"""
from __future__ import annotations

import difflib
from typing import Callable

from explorer.errors import UnknownModelError
from explorer.spec import (BlockSpec, DownsampleSpec, HeadSpec, NetworkSpec, RecipeSpec,
                           StageSpec, StemSpec)

_REGISTRY: dict[str, Callable[[], NetworkSpec]] = {}


def register(fn: Callable[[], NetworkSpec]) -> Callable[[], NetworkSpec]:
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name: str) -> NetworkSpec:
    """The zoo spec called ``name``; an unknown name suggests the closest ones."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown zoo model {name!r}{hint} "
                                f"(zoo: {', '.join(list_models())})")
    return _REGISTRY[name]()


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
    for i, (w, d) in enumerate(zip(widths, depths)):
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


# RepViT family (paper Table 1; widths/depths from the official cfgs, facts section 2b).
_REPVIT = {
    "repvit_m0_6": ((40, 80, 160, 320), (1, 1, 8, 1)),  # official repo only, not in timm
    "repvit_m0_9": ((48, 96, 192, 384), (2, 2, 14, 2)),
    "repvit_m1_0": ((56, 112, 224, 448), (2, 2, 14, 2)),
    "repvit_m1_1": ((64, 128, 256, 512), (2, 2, 12, 2)),
    "repvit_m1_5": ((64, 128, 256, 512), (4, 4, 24, 4)),
    "repvit_m2_3": ((80, 160, 320, 640), (6, 6, 34, 2)),
}

for _name, (_w, _d) in _REPVIT.items():
    def _make(w: tuple[int, ...] = _w, d: tuple[int, ...] = _d, n: str = _name) -> NetworkSpec:
        return repvit(w, d, name=n)

    _make.__name__ = _name
    register(_make)

#: Zoo names that timm also builds (for parity tests and reference measurements).
TIMM_NAMES = [n for n in list_models() if n != "repvit_m0_6"]
