"""Architecture features of the deployed model, the inputs of the fitted default proxy.

For any model they come from one batch-1 forward pass at the candidate's resolution (plus
fvcore's MAC count), so they are well defined for any network, spec or timm (a spec's are
computed from the spec alone, equal to the traced ones):

* ``log_params``, ``log_macs``: size and compute (the two baselines, in log space);
* ``log_depth``: number of convolution/linear layers executed (the longest chain of
  ops a network can learn with, roughly);
* ``log_act``: activation memory, total output elements of those layers;
* ``log_width``: mean output channels of those layers; ``log_head``: width of the
  features the classifier sees;
* ``dw_frac``: share of the convolutions that are depthwise (mobile design style);
* ``log_res``: input resolution.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from explorer.measure import analytic
from explorer.measure.complexity import count_macs, count_params

if TYPE_CHECKING:
    from explorer.candidate import Candidate

FEATURES = ("log_params", "log_macs", "log_depth", "log_act", "log_width", "log_head",
            "dw_frac", "log_res")


def cached_features(candidate: Candidate, cache_dir: str | None = None,
                    no_cache: bool = False) -> dict[str, float]:
    """:func:`architecture_features` through the on-disk cache (namespace 'features');
    an entry without every feature as a finite number is recomputed. A spec's features
    are arithmetic on the spec (:func:`explorer.measure.analytic.features`, equal to the
    traced ones), cheaper than a cache read."""
    if candidate.spec is not None:
        return analytic.features(candidate.spec)
    from explorer.machine import versions
    from explorer.measure.cache import Cache, finite_number

    cache = Cache("features", cache_dir, enabled=not no_cache,
                  validate=lambda row: isinstance(row, dict) and all(
                      finite_number(row.get(f)) for f in FEATURES))
    key = {"candidate": candidate.key, "resolution": candidate.resolution,
           "versions": versions()}
    feats = cache.get(key)
    if feats is None:
        feats = architecture_features(candidate)
        cache.put(key, feats)
    return feats


def architecture_features(candidate: Candidate, macs: int | None = None) -> dict[str, float]:
    """The features of the candidate's deployed model (``macs``: its MAC count, when the
    caller has it already -- fvcore's trace is the slow part)."""
    model = candidate.deployed
    layers: list[tuple[nn.Module, torch.Tensor]] = []

    def record(module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if isinstance(output, torch.Tensor):
            layers.append((module, output))

    handles = [m.register_forward_hook(record) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, candidate.in_chans, candidate.resolution,
                              candidate.resolution))
    finally:
        for h in handles:
            h.remove()
    if not layers:
        raise ValueError("no convolution or linear layers ran in the forward pass")
    convs = [m for m, _ in layers if isinstance(m, nn.Conv2d)]
    widths = [m.out_channels if isinstance(m, nn.Conv2d) else m.out_features for m, _ in layers]
    head = next((m.in_features for m, _ in reversed(layers) if isinstance(m, nn.Linear)),
                widths[-1])
    depthwise = sum(1 for m in convs if m.groups > 1 and m.groups == m.in_channels)
    if macs is None:
        macs = count_macs(model, candidate.resolution, candidate.in_chans).macs
    return {
        "log_params": math.log(count_params(model)),
        "log_macs": math.log(max(macs, 1)),
        "log_depth": math.log(len(layers)),
        "log_act": math.log(sum(out.numel() for _, out in layers)),
        "log_width": math.log(sum(widths) / len(widths)),
        "log_head": math.log(head),
        "dw_frac": depthwise / max(len(convs), 1),
        "log_res": math.log(candidate.resolution),
    }
