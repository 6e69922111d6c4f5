"""Load a timm model's weights into the network built from our spec of the same name.

Equal parameter counts do not prove two networks compute the same function: an
activation, a gate, a stride or a padding could differ and the count would not move.
With timm's weights (and BN statistics) loaded into ours, equal logits do prove it —
``tests/test_timm_parity.py`` compares them for every zoo model timm also builds.

The key map pairs the two ``state_dict``s entry by entry in registration order (both
build stem → stages → head in forward order); every pair must agree on the tensor's
role (``weight``, ``bias``, ``running_mean``...) and shape, so a structural difference
is reported where it starts instead of loading weights into the wrong layer.
"""
from __future__ import annotations

from torch import nn

from explorer.errors import DataError


def timm_key_map(ours: nn.Module, theirs: nn.Module) -> dict[str, str]:
    """Our ``state_dict`` key for every key of the timm model's."""
    mine, other = ours.state_dict(), theirs.state_dict()
    if len(mine) != len(other):
        raise DataError(f"cannot map timm weights: {len(other)} tensors in the timm model, "
                        f"{len(mine)} in ours")
    mapping = {}
    for (ka, a), (kb, b) in zip(mine.items(), other.items(), strict=True):
        if ka.rsplit(".", 1)[-1] != kb.rsplit(".", 1)[-1] or a.shape != b.shape:
            raise DataError(f"cannot map timm weights: timm {kb} {tuple(b.shape)} meets our "
                            f"{ka} {tuple(a.shape)}")
        mapping[kb] = ka
    return mapping


def load_timm_weights(net: nn.Module, timm_model: nn.Module) -> nn.Module:
    """Copy every tensor of ``timm_model`` (weights and BN statistics) into ``net``."""
    mapping = timm_key_map(net, timm_model)
    net.load_state_dict({mapping[k]: v for k, v in timm_model.state_dict().items()})
    return net
