"""A thing to measure: a spec or any ``nn.Module`` (timm models included).

Every measurement (complexity, latency, proxy) takes a :class:`Candidate`, so specs
and foreign models go through exactly the same code. The training-form module and
its deployed (fused) form are built lazily, once.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from torch import nn

from explorer import footprint
from explorer.errors import SpecError, UnknownModelError
from explorer.registry import did_you_mean
from explorer.spec import MIN_RESOLUTION, NetworkSpec, load_spec


@dataclass
class Candidate:
    name: str
    factory: Callable[[], nn.Module] = field(repr=False)
    resolution: int = 224
    spec: NetworkSpec | None = None
    source: str = "spec"  # spec | zoo | timm | module
    in_chans: int = 3

    @cached_property
    def model(self) -> nn.Module:
        """Training form, in eval mode."""
        return self.factory().eval()

    @cached_property
    def deployed(self) -> nn.Module:
        """Deployment form: what latency is always measured on."""
        from explorer.build import deploy

        return deploy(self.model)

    @property
    def key(self) -> str:
        """Cache key for measurements of the deployed model (latency, features)."""
        if self.spec is not None:
            return self.spec.deploy_hash
        return self._foreign_key

    @property
    def train_key(self) -> str:
        """Cache key for measurements of the training form (proxies, complexity): a spec's
        full hash, since the recipe (e.g. a distillation head) changes the trained network."""
        if self.spec is not None:
            return self.spec.hash
        return self._foreign_key

    @cached_property
    def _foreign_key(self) -> str:
        """A timm model is fixed by its name; any other module by its content, never by
        its name (two different modules both called 'net' must not share a row)."""
        if self.source == "timm":
            return f"timm:{self.name}@{self.resolution}x{self.in_chans}"
        return f"module:{module_digest(self.model)}@{self.resolution}x{self.in_chans}"


def module_digest(module: nn.Module) -> str:
    """Content hash of a module: every submodule's class and printed configuration, and
    every parameter and buffer (name, dtype, shape, values)."""
    h = hashlib.sha256()
    for name, sub in module.named_modules():
        h.update(f"{name}|{type(sub).__module__}.{type(sub).__qualname__}|"
                 f"{sub.extra_repr()}\n".encode())
    for name, tensor in module.state_dict(keep_vars=False).items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def from_spec(spec: NetworkSpec, name: str | None = None, source: str = "spec") -> Candidate:
    """A candidate for ``spec``; one that cannot fit in memory is refused here, before
    anything is allocated (see :mod:`explorer.footprint`)."""
    from explorer.build import build

    name = name or spec.name or spec.hash
    footprint.check_fits(footprint.spec_bytes(spec), f"{name} at {spec.resolution} px")
    return Candidate(name, lambda: build(spec), spec.resolution, spec, source, spec.in_chans)


def from_module(module: nn.Module, name: str, resolution: int = 224) -> Candidate:
    return Candidate(name, lambda: module, resolution, None, "module")


def from_timm(name: str, resolution: int = 224) -> Candidate:
    import timm

    if not timm.is_model(name):
        raise UnknownModelError(f"unknown timm model {name!r}"
                                f"{did_you_mean(name, timm.list_models())}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) \
            or resolution < MIN_RESOLUTION:
        raise SpecError(f"resolution must be a whole number of at least {MIN_RESOLUTION} px, "
                        f"got {resolution!r}")
    if resolution > footprint.PROBE_ABOVE:  # above the size every model is made for
        probe = timm.create_model(name, pretrained=False)
        footprint.check_fits(footprint.module_bytes(probe, resolution),
                             f"{name} at {resolution} px")
    return Candidate(name, lambda: timm.create_model(name, pretrained=False), resolution,
                     None, "timm")


def resolve(ref: str, kind: str = "auto", resolution: int | None = None) -> Candidate:
    """``ref`` is a zoo name, a timm architecture or a spec file; ``kind`` forces one of
    'zoo', 'timm', 'spec'. Zoo names win over timm names (same networks, known spec)."""
    from explorer import zoo

    is_file = Path(ref).suffix in (".json", ".yaml", ".yml")
    if kind == "spec" or (kind == "auto" and is_file):
        spec = load_spec(ref)
    elif kind == "zoo" or (kind == "auto" and ref in zoo.list_models()):
        spec = zoo.get_spec(ref)
    elif kind in ("timm", "auto"):
        try:
            return from_timm(ref, 224 if resolution is None else resolution)
        except UnknownModelError:
            if kind == "timm":
                raise
            raise UnknownModelError(f"{ref!r} is not a zoo model, a timm model or a spec file"
                                    f"{did_you_mean(ref, zoo.list_models(), n=2)}") from None
    else:
        raise ValueError(f"unknown candidate kind {kind!r}")
    if resolution is not None and resolution != spec.resolution:
        spec = spec.replace(resolution=resolution)
    return from_spec(spec, source="spec" if kind == "spec" or is_file else "zoo")
