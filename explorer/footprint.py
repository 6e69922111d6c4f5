"""Memory a network needs at batch 1, estimated before anything is allocated.

A resolution of 100000 px or a block width of 10^9 is a valid spec on paper, but
building or running it ends in an allocation failure deep inside torch (or in the
machine swapping). So every spec is estimated from its numbers alone -- weights plus
every layer's output, kept :data:`ACTIVATION_COPIES` times over, as a training step
(the short-training and gradient proxies) keeps convolution, BatchNorm and activation
outputs for the backward pass -- and refused when the estimate exceeds the memory
this machine has available (``MemAvailable``; ``$EXPLORER_MEMORY_LIMIT_GB`` sets
another limit). The message gives the estimate and the limit.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.errors import TooLargeError
from explorer.spec import NetworkSpec, make_divisible

if TYPE_CHECKING:
    from torch import nn

BYTES_PER_VALUE = 4  # float32
ACTIVATION_COPIES = 3  # conv, BatchNorm and activation outputs of each layer
#: below this resolution a timm model is not probed: every architecture fits there
PROBE_ABOVE = 224
_PROBE_RESOLUTION = 64


def spec_bytes(spec: NetworkSpec) -> int:
    """Estimated bytes of weights and activations of ``spec`` at batch 1 (training form).
    Within a small factor of the truth: what matters is refusing what cannot fit."""
    side, channels = spec.resolution, spec.in_chans
    weights, activations = 0, channels * side * side
    for i, width in enumerate(spec.stem.widths):  # early_conv: stride 2 each; mbv3: first
        if spec.stem.kind == "early_conv" or i == 0:
            side = max(1, side // 2)
        weights += channels * width * 9
        activations += width * side * side
        channels = width
    for stage in spec.stages:
        if stage.downsample is not None:
            d = stage.downsample
            side = max(1, side // 2)
            hidden = make_divisible(d.width * d.expansion)
            weights += channels * d.kernel ** 2 * 2 + channels * d.width + 2 * d.width * hidden
            activations += (4 * channels + d.width + hidden) * side * side
            channels = d.width
        for block in stage.blocks:
            hidden = make_divisible(channels * block.expansion)
            in_side, side = side, max(1, side // block.stride)
            weights += (channels + block.width) * hidden + (hidden + channels) * block.kernel ** 2
            if block.se:
                weights += hidden * hidden // 2
            activations += hidden * in_side * in_side + (hidden + block.width) * side * side
            channels = block.width
    for width in spec.head.widths:
        weights += channels * width
        activations += width * side * side
        channels = width
    weights += channels * spec.num_classes * (2 if spec.recipe.distillation else 1)
    return BYTES_PER_VALUE * (weights + ACTIVATION_COPIES * activations)


def module_bytes(module: nn.Module, resolution: int) -> int:
    """Estimated bytes of a built module (a timm model) at ``resolution``: its weights
    plus every leaf layer's output at a small probe resolution, scaled by the pixel
    count. A model that refuses the probe size (fixed-size ViTs) counts its weights."""
    import torch

    weights = sum(p.numel() for p in module.parameters())
    outputs: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(
        out.numel() if isinstance(out, torch.Tensor) else 0))
        for m in module.modules() if not any(m.children())]
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(1, 3, _PROBE_RESOLUTION, _PROBE_RESOLUTION))
    except Exception:  # noqa: BLE001 - a model that rejects the probe size: weights only
        outputs.clear()
    finally:
        for hook in hooks:
            hook.remove()
    scale = (resolution / _PROBE_RESOLUTION) ** 2
    return int(BYTES_PER_VALUE * (weights + sum(outputs) * scale))


def memory_limit() -> int:
    """Bytes a network may need: ``$EXPLORER_MEMORY_LIMIT_GB`` if set, else the memory
    available now (Linux ``MemAvailable``), else the physical memory."""
    env = os.environ.get("EXPLORER_MEMORY_LIMIT_GB")
    if env:
        try:
            return int(float(env) * 2**30)
        except ValueError:
            raise TooLargeError(f"$EXPLORER_MEMORY_LIMIT_GB must be a number of GB, got "
                                f"{env!r}") from None
    meminfo = Path("/proc/meminfo")
    lines = meminfo.read_text().splitlines() if meminfo.is_file() else []
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(estimate: int, what: str) -> None:
    """Refuse ``what`` when its estimated bytes exceed :func:`memory_limit`."""
    limit = memory_limit()
    if estimate > limit:
        raise TooLargeError(f"{what} needs about {_gb(estimate)} at batch 1 (weights and "
                            f"activations), more than the {_gb(limit)} this machine has "
                            f"available; lower the resolution or widths")


def _gb(n: int) -> str:
    return f"{n / 2**30:,.1f} GB"
