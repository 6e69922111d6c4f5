"""Parameter, MAC and FLOP counts, for the training form and the deployed form.

A spec's counts are arithmetic on the spec (:mod:`explorer.measure.analytic`: nothing is
built); any other model (timm, a module) is counted by fvcore and torch, which stay the
reference the arithmetic is tested against.

fvcore counts one multiply-accumulate per "flop" for convolutions and linear layers,
which is what papers (and RepViT's Table 1, under the name "FLOPs") call MACs. The
``flops`` metric is 2 x MACs over the same operators, the convention of torch's
``FlopCounterMode`` and most NAS papers. Operators fvcore has no rule for (activations,
element-wise adds) are counted in neither; we return their names instead of hiding
them, as fvcore itself does.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from explorer.measure import analytic

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


#: the numeric columns each kind of cached row must hold (a row without them is re-counted)
FIELDS = {"params": ("params", "params_train"), "macs": ("macs", "macs_train")}


def _cached(candidate: Candidate, kind: str, compute: Callable[[], dict[str, Any]],
            no_cache: bool = False, cache_dir: str | None = None) -> dict[str, Any]:
    """Counts depend only on the network (training form: the spec's full hash) and the
    counting libraries, so a search never re-traces a network it has counted."""
    from explorer.machine import versions
    from explorer.measure.cache import Cache, finite_number

    v = versions()
    key = {"kind": kind, "model": candidate.train_key, "resolution": candidate.resolution,
           "torch": v["torch"], "fvcore": v["fvcore"], "timm": v["timm"]}
    cache = Cache("complexity", cache_dir, enabled=not no_cache,
                  validate=lambda row: isinstance(row, dict) and all(
                      finite_number(row.get(f)) for f in FIELDS.get(kind, ())))
    row = cache.get(key)
    if row is None:
        row = compute()
        cache.put(key, row)
    return row


def params_metric(candidate: Candidate, no_cache: bool = False, cache_dir: str | None = None,
                  **_: object) -> dict[str, Any]:
    """``params`` of the deployed model (as the paper reports) and ``params_train``."""
    if candidate.spec is not None:
        c = analytic.counts(candidate.spec)
        return {"params": c.params, "params_train": c.params_train}
    return _cached(candidate, "params", lambda: {
        "params": count_params(candidate.deployed),
        "params_train": count_params(candidate.model)}, no_cache, cache_dir)


def macs_metric(candidate: Candidate, no_cache: bool = False, cache_dir: str | None = None,
                **_: object) -> dict[str, Any]:
    """``macs`` of the deployed model and ``macs_train``, plus ops fvcore could not count."""
    if candidate.spec is not None:
        c = analytic.counts(candidate.spec)
        return {"macs": c.macs, "macs_train": c.macs_train,
                "macs_uncounted_ops": sorted(c.ops)}

    def compute() -> dict[str, Any]:
        deployed = count_macs(candidate.deployed, candidate.resolution, candidate.in_chans)
        train = count_macs(candidate.model, candidate.resolution, candidate.in_chans)
        return {"macs": deployed.macs, "macs_train": train.macs,
                "macs_uncounted_ops": list(deployed.uncounted_ops)}

    return _cached(candidate, "macs", compute, no_cache, cache_dir)


#: FLOPs per multiply-accumulate (one multiply and one add)
FLOPS_PER_MAC = 2
#: the ``macs`` metric's count columns and their FLOP names
_FLOPS_OF = {"macs": "flops", "macs_train": "flops_train"}


def flops_metric(candidate: Candidate, **options: Any) -> dict[str, Any]:
    """``flops`` = 2 x ``macs`` (deployed) and ``flops_train``, from whichever ``macs``
    metric is registered (fvcore's cached count by default), with the same list of
    operators neither counts, so the two can never disagree."""
    from explorer.measure import metric_function

    row = metric_function("macs")(candidate, **options)
    return {_FLOPS_OF.get(k, k): FLOPS_PER_MAC * v if k in _FLOPS_OF else v
            for k, v in row.items()}
