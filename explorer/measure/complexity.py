"""Parameter and MAC counts (fvcore), for the training form and the deployed form.

fvcore counts one multiply-accumulate per "flop" for convolutions and linear layers,
which is what papers (and RepViT's Table 1) call MACs. Operators fvcore has no rule for
(activations, element-wise adds) are not counted; we return their names instead of
hiding them, as fvcore itself does.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from explorer.candidate import Candidate


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int
    uncounted_ops: tuple[str, ...] = field(default=())


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, resolution: int = 224, in_chans: int = 3) -> Complexity:
    """MACs of one forward pass at batch 1 (model put in eval mode on a copy-free basis)."""
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, in_chans, resolution, resolution)
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        logging.getLogger("fvcore.nn.jit_analysis").setLevel(logging.ERROR)
        with torch.no_grad():
            macs = int(analysis.total())
        uncounted = tuple(sorted(analysis.unsupported_ops()))
    finally:
        model.train(was_training)
    return Complexity(count_params(model), macs, uncounted)


def params_metric(candidate: "Candidate", **_: object) -> dict[str, int]:
    """``params`` of the deployed model (as the paper reports) and ``params_train``."""
    return {"params": count_params(candidate.deployed),
            "params_train": count_params(candidate.model)}


def macs_metric(candidate: "Candidate", **_: object) -> dict[str, object]:
    """``macs`` of the deployed model and ``macs_train``, plus ops fvcore could not count."""
    deployed = count_macs(candidate.deployed, candidate.resolution, candidate.in_chans)
    train = count_macs(candidate.model, candidate.resolution, candidate.in_chans)
    return {"macs": deployed.macs, "macs_train": train.macs,
            "macs_uncounted_ops": list(deployed.uncounted_ops)}
