"""Zero-cost proxies, each implemented from its paper, on one small random batch.

They score an *untrained* network in seconds: a seeded Gaussian batch (no dataset, no
download) at a reduced resolution (64 px by default; a model that only accepts its own
input size, such as LeViT, falls back to it). Every proxy works on a deep copy of the
candidate's training-form model, so the candidate itself is never modified, and
BatchNorm is handled as each paper says:

* synflow (Tanaka et al. 2020; Abdelfattah et al. 2021): |weights|, all-ones input,
  float64, BatchNorm reset to the identity (the zero-cost paper drops BN); log score.
* snip (Lee et al. 2019) and grad_norm (Abdelfattah et al. 2021): cross-entropy against
  random labels, BN in training mode (batch statistics), dropout off.
* naswot (Mellor et al. 2021): log-det of the Hamming-similarity kernel of binary
  activation patterns over a batch; for GELU/Hardswish/SiLU-type units the pattern is
  the sign of the pre-activation, as for ReLU.
* zico (Li et al. 2023): sum over layers of log(sum mean|g| / std g) across mini-batches.
* zen (Lin et al. 2021): Gaussian re-initialisation, pre-pooling feature-map change
  under a small input perturbation, plus the log BN scaling (batch std) of every BN.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer.measure.proxy import Proxy, fresh_model

if TYPE_CHECKING:
    from explorer.candidate import Candidate

#: lower-cased class names of ReLU-type units (torch and timm) whose sign pattern naswot reads
ACTIVATIONS = frozenset({"relu", "relu6", "leakyrelu", "prelu", "elu", "gelu", "gelutanh",
                         "quickgelu", "hardswish", "hardswishme", "swish", "swishme", "silu",
                         "mish", "mishme"})

#: what a model that rejects the reduced input size raises from inside its forward
_SHAPE_ERRORS = (RuntimeError, AssertionError, ValueError, IndexError)


class ZeroCostProxy(Proxy):
    """Shared plumbing: a fresh copy of the model, a seeded batch, resolution fallback.

    Subclasses implement :meth:`evaluate` on a model copy and an input batch."""

    default_batch: int = 16

    def __init__(self, resolution: int = 64, batch: int | None = None, **options: Any) -> None:
        super().__init__(resolution=resolution, batch=batch or self.default_batch, **options)
        self.resolution = resolution
        self.batch = batch or self.default_batch

    def compute(self, candidate: Candidate, seed: int) -> tuple[float, dict[str, Any]]:
        sizes = sorted({min(self.resolution, candidate.resolution), candidate.resolution})
        for res in sizes:
            gen = torch.Generator().manual_seed(seed)
            x = torch.randn(self.batch, candidate.in_chans, res, res, generator=gen)
            try:
                value = self.evaluate(fresh_model(candidate, seed), x, gen)
            except _SHAPE_ERRORS:
                if res == sizes[-1]:
                    raise
                continue  # this model needs its own input size
            return value, {"proxy_resolution": res}
        raise AssertionError("unreachable")

    def evaluate(self, model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> float:
        raise NotImplementedError


def logits(out: Any) -> torch.Tensor:
    """The class scores of a forward pass (distillation heads return a pair: averaged)."""
    if isinstance(out, (tuple, list)):
        tensors = [t for t in out if isinstance(t, torch.Tensor) and t.shape == out[0].shape]
        return torch.stack(tensors).mean(0)
    return out


def train_mode(model: nn.Module) -> nn.Module:
    """Training mode (BN uses batch statistics) with dropout off, so scores depend on
    the architecture and the seed only."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    return model


def weight_layers(model: nn.Module) -> Iterator[nn.Module]:
    """Convolutions and linear layers: the layers the proxies' sums run over."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) and m.weight.requires_grad:
            yield m


def cross_entropy_backward(model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> None:
    """Cross-entropy of a forward pass against seeded random labels, back-propagated."""
    out = logits(model(x))
    labels = torch.randint(0, out.shape[1], (x.shape[0],), generator=gen)
    F.cross_entropy(out, labels).backward()


class SynFlow(ZeroCostProxy):
    name = "synflow"
    description = "log synaptic flow: sum |theta * dR/dtheta| with |weights|, ones input, BN off"
    default_batch = 1

    def evaluate(self, model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> float:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()  # running stats (0, 1), affine (1, 0): the identity
        model.eval().double()
        with torch.no_grad():
            for p in model.parameters():
                p.abs_()
        ones = torch.ones(1, *x.shape[1:], dtype=torch.float64)
        logits(model(ones)).sum().backward()
        total = sum(float((p * p.grad).detach().abs().sum()) for p in model.parameters()
                    if p.grad is not None)
        return math.log(total) if total != 0 else -math.inf  # NaN stays NaN: reported


class _LossGradient(ZeroCostProxy):
    """Sum over conv/linear layers of a per-layer statistic of (weight, gradient)."""

    def layer_score(self, weight: torch.Tensor, grad: torch.Tensor) -> float:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> float:
        cross_entropy_backward(train_mode(model), x, gen)
        return sum(self.layer_score(m.weight, m.weight.grad) for m in weight_layers(model)
                   if m.weight.grad is not None)


class Snip(_LossGradient):
    name = "snip"
    description = "SNIP connection sensitivity: sum |w * dL/dw| on a random batch"

    def layer_score(self, weight: torch.Tensor, grad: torch.Tensor) -> float:
        return float((weight.detach() * grad).abs().sum())


class GradNorm(_LossGradient):
    name = "grad_norm"
    description = "sum over layers of the L2 norm of dL/dw on a random batch"

    def layer_score(self, weight: torch.Tensor, grad: torch.Tensor) -> float:
        return float(grad.norm())


class NASWOT(ZeroCostProxy):
    name = "naswot"
    description = "log-det of the activation-pattern Hamming kernel over a batch (Mellor 2021)"
    default_batch = 32

    def evaluate(self, model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> float:
        n = x.shape[0]
        kernel = torch.zeros(n, n, dtype=torch.float64)

        def record(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            codes = (inputs[0].detach().reshape(n, -1) > 0).double()
            kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

        units = [m for m in model.modules() if type(m).__name__.lower() in ACTIVATIONS]
        if not units:
            raise ValueError("no ReLU/GELU-type activation modules to read patterns from")
        handles = [m.register_forward_pre_hook(record) for m in units]
        try:
            with torch.no_grad():
                train_mode(model)(x)
        finally:
            for h in handles:
                h.remove()
        return float(torch.linalg.slogdet(kernel).logabsdet)


class ZiCo(ZeroCostProxy):
    name = "zico"
    description = "sum over layers of log(sum mean|g| / std g) across mini-batches (Li 2023)"
    default_batch = 8

    def __init__(self, resolution: int = 64, batch: int | None = None,
                 batches: int = 2, **options: Any) -> None:
        super().__init__(resolution, batch, batches=batches, **options)
        self.batches = batches

    def evaluate(self, model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> float:
        train_mode(model)
        layers = list(weight_layers(model))
        grads: list[list[torch.Tensor]] = [[] for _ in layers]
        for i in range(self.batches):
            model.zero_grad(set_to_none=True)
            batch = x if i == 0 else torch.randn(x.shape, generator=gen)
            cross_entropy_backward(model, batch, gen)
            for store, m in zip(grads, layers, strict=True):
                if m.weight.grad is not None:
                    store.append(m.weight.grad.detach().flatten().clone())
        total = 0.0
        for store in grads:
            if len(store) < 2:
                continue
            g = torch.stack(store)
            std, mean_abs = g.std(0, unbiased=False), g.abs().mean(0)
            nonzero = std > 0
            ratio = float((mean_abs[nonzero] / std[nonzero]).sum())
            if ratio > 0:
                total += math.log(ratio)
        return total


class Zen(ZeroCostProxy):
    name = "zen"
    description = "Zen-score: log feature-map change under input noise + log BN scaling (Lin 2021)"
    default_batch = 8

    def __init__(self, resolution: int = 64, batch: int | None = None,
                 mixup_gamma: float = 1e-2, **options: Any) -> None:
        super().__init__(resolution, batch, mixup_gamma=mixup_gamma, **options)
        self.mixup_gamma = mixup_gamma

    def evaluate(self, model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> float:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    m.weight.normal_(generator=gen)
                    if m.bias is not None:
                        m.bias.zero_()
                elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
                                    nn.LayerNorm)) and m.weight is not None:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
        bn_log_std: list[float] = []

        def record(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            var = inputs[0].detach().transpose(0, 1).flatten(1).var(1, unbiased=False)
            bn_log_std.append(0.5 * math.log(float(var.mean())))

        features = getattr(model, "forward_features", model)
        train_mode(model)
        with torch.no_grad():
            handles = [m.register_forward_pre_hook(record) for m in model.modules()
                       if isinstance(m, nn.BatchNorm2d)]
            try:
                out = self._tensor(features(x))
            finally:
                for h in handles:
                    h.remove()
            noisy = x + self.mixup_gamma * torch.randn(x.shape, generator=gen)
            delta = (out - self._tensor(features(noisy))).abs().flatten(1).sum(1).mean()
        return math.log(float(delta)) + sum(bn_log_std)

    @staticmethod
    def _tensor(out: Any) -> torch.Tensor:
        return out[0] if isinstance(out, (tuple, list)) else out
