"""The RepViT paper's roadmap steps and published numbers, as data: the roadmap runner,
the SE table, the device models, the proxies' validation and the search spaces all read
them here (Wang et al., "RepViT: Revisiting Mobile CNN From ViT Perspective", CVPR 2024,
arXiv 2307.09283).

A step is a list of edit names (:mod:`explorer.edits`) applied to MobileNetV3-L from the
zoo; :func:`step_specs` applies them cumulatively, so this module sits just above the
edits and the zoo and below build, measure and every runner.

Latencies are the paper's iPhone 12 (Core ML) measurements. The paper's "FLOPs" are
multiply-accumulates (MACs), so ``paper_macs`` holds them under that name.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from explorer import edits as E
from explorer import zoo
from explorer.spec import NetworkSpec


@dataclass(frozen=True)
class Step:
    """One row of the roadmap: the edits it applies to the previous step (or to ``after``)."""

    id: str
    title: str
    edits: tuple[str, ...]
    paper_latency_ms: float | None = None
    paper_top1: float | None = None
    paper_params: float | None = None
    paper_macs: float | None = None
    on_path: bool = True
    after: str | None = None  # off-path rows branch from this step id


#: Section 3 / Figure 2: iPhone 12 latency for every step, top-1 (300 epochs, no
#: distillation) where stated, params / MACs only at the two ends (none in between).
#: Step 0 is MobileNetV3-L with GELU (its 75.2% top-1 used Google's recipe and no paper
#: number exists for the GELU variant). Step 10 is the published, distilled RepViT-M0.9:
#: recipe only, so its deployed model is step 9's.
PAPER_STEPS: tuple[Step, ...] = (
    Step("0", "MobileNetV3-L baseline (GELU)", ("gelu",), 1.01, None, 5.4e6, 219e6),
    Step("1", "Aligning training recipe", ("align_recipe",), 1.01, 71.5),
    Step("2", "Separate token mixer and channel mixer", ("split_mixers",), 0.81, 68.3),
    Step("3a", "Reducing expansion ratio", ("expansion_2",), 0.65, None),
    Step("3b", "Increasing width", ("widths",), 0.89, 73.5),
    Step("4", "Early convolutions", ("early_conv",), 0.86, 73.9),
    Step("5", "Deeper downsampling layers", ("deeper_downsampling",), 0.96, 75.4),
    Step("6", "Simple classifier", ("simple_classifier",), 0.77, 74.8),
    Step("7", "Overall stage ratio", ("stage_depths",), 0.91, 76.9),
    Step("8", "Kernel size", ("kernel_3x3",), 0.89, 76.9),
    Step("9", "SE layer placement = RepViT-M0.9", ("se_alternate",), 0.87, 77.4, 5.1e6, 0.8e9),
    Step("10", "+ distillation (published RepViT-M0.9)", ("distill",), 0.9, 78.7, 5.1e6, 0.8e9),
)

#: The paper's control: ratio 2 and wider channels on the original MobileNetV3 block.
CONTROL_STEPS: tuple[Step, ...] = (
    Step("3-ctrl", "Control: ratio 2 + widths on the MobileNetV3 block",
         ("expansion_2", "widths"), 0.91, 73.0, on_path=False, after="1"),
)


@dataclass(frozen=True)
class SEPlacement:
    """One row of the paper's SE-placement ablation: a zoo model with one SE edit."""

    model: str
    placement: str
    edit: str
    paper_latency_ms: float
    paper_top1: float


#: Table 7: SE placement, iPhone 12 latency and top-1 (distilled, 300 epochs). These
#: rows validate a device model; nothing is fitted on them.
SE_TABLE: tuple[SEPlacement, ...] = (
    SEPlacement("repvit_m0_9", "no SE", "se_none", 0.83, 77.92),
    SEPlacement("repvit_m0_9", "SE in every block", "se_all", 0.92, 78.75),
    SEPlacement("repvit_m0_9", "cross-block SE (RepViT)", "se_alternate", 0.87, 78.74),
    SEPlacement("repvit_m1_5", "no SE", "se_none", 1.48, 81.86),
    SEPlacement("repvit_m1_5", "SE in every block", "se_all", 1.58, 82.29),
    SEPlacement("repvit_m1_5", "cross-block SE (RepViT)", "se_alternate", 1.52, 82.29),
)


#: Tables 1-2: the RepViT family's iPhone 12 latency (ms), beside MobileNetV3-L (the GELU
#: baseline of section 3). These validate a device model; nothing is fitted on them.
FAMILY_LATENCY_MS: dict[str, float] = {
    "mobilenetv3_large_100": 1.01, "repvit_m0_9": 0.9, "repvit_m1_0": 1.0,
    "repvit_m1_1": 1.1, "repvit_m1_5": 1.5, "repvit_m2_3": 2.3}


def custom_steps(edit_refs: Sequence[str]) -> tuple[Step, ...]:
    """Steps for a user's own edit sequence (registered names or module:function)."""
    steps = []
    for i, ref in enumerate(edit_refs):
        edit = E.get_edit(ref)
        steps.append(Step(str(i), edit.description, (ref,)))
    return tuple(steps)


def roadmap_steps(include_control: bool = True) -> tuple[Step, ...]:
    return PAPER_STEPS + (CONTROL_STEPS if include_control else ())


def step_specs(steps: Sequence[Step] | None = None, base: NetworkSpec | None = None
               ) -> list[tuple[Step, NetworkSpec]]:
    """Apply the steps' edits cumulatively along the path; off-path rows branch off."""
    steps = tuple(steps) if steps is not None else roadmap_steps()
    spec = base or zoo.get_spec("mobilenetv3_large_100")
    by_id: dict[str, NetworkSpec] = {}
    out = []
    for step in steps:
        start = by_id[step.after] if step.after is not None else spec
        result = E.apply(start, step.edits)
        result = dataclasses.replace(result, name=f"roadmap_{step.id}")
        by_id[step.id] = result
        if step.on_path:
            spec = result
        out.append((step, result))
    return out


def roadmap_specs(include_control: bool = True) -> list[tuple[str, NetworkSpec]]:
    """(step id, spec) for every paper step (and the control row)."""
    return [(step.id, spec) for step, spec in step_specs(roadmap_steps(include_control))]
