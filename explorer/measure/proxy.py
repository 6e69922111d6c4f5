"""Accuracy proxies: one small interface, a registry by name, and the ``proxy`` metric.

We cannot train ImageNet models here, so every candidate gets a *proxy* score whose
only job is to rank architectures like their ImageNet top-1 would. Each proxy is a
:class:`Proxy` subclass registered by name in :data:`PROXIES` as ``"module:Class"``,
imported on first use as :data:`explorer.measure.METRICS` entries are. Higher is
always better. A proxy is deterministic for a given seed and records its own compute
time; a non-finite score is an error (:class:`ProxyError`), never a silent NaN.

How far to trust each proxy is measured by ``explorer proxy validate`` against
published ImageNet accuracies (see :mod:`explorer.measure.proxies.validation`).
"""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from explorer.errors import ExplorerError, ProxyError
from explorer.registry import Registry

if TYPE_CHECKING:
    from explorer.candidate import Candidate

#: proxy name -> "module:Class"
PROXIES: Registry[str] = Registry("proxy", ProxyError)
PROXIES.add("params", "explorer.measure.proxies.baselines:Params")
PROXIES.add("macs", "explorer.measure.proxies.baselines:Macs")
PROXIES.add("synflow", "explorer.measure.proxies.zero_cost:SynFlow")
PROXIES.add("snip", "explorer.measure.proxies.zero_cost:Snip")
PROXIES.add("grad_norm", "explorer.measure.proxies.zero_cost:GradNorm")
PROXIES.add("naswot", "explorer.measure.proxies.zero_cost:NASWOT")
PROXIES.add("zico", "explorer.measure.proxies.zero_cost:ZiCo")
PROXIES.add("zen", "explorer.measure.proxies.zero_cost:Zen")
PROXIES.add("train", "explorer.measure.proxies.train:ShortTraining")
PROXIES.add("fitted", "explorer.measure.proxies.fitted:Fitted")

#: the zero-cost proxies (computed from an untrained network in seconds)
ZERO_COST = ("synflow", "snip", "grad_norm", "naswot", "zico", "zen")

#: the proxy the roadmap and the search use when none is named; chosen by
#: ``explorer proxy validate`` evidence (see results/proxy_validation.md)
DEFAULT_PROXY = "fitted"


@dataclass(frozen=True)
class ProxyResult:
    """One proxy score of one candidate (higher = predicted more accurate)."""

    name: str
    value: float
    seconds: float
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)


class Proxy:
    """Base class: subclasses set ``name``/``description`` and implement :meth:`compute`.

    ``options`` are proxy-specific settings (batch size, dataset path, ...); they are
    part of the cache key through :meth:`config`. ``cache_dir``/``no_cache`` are where
    a proxy keeps intermediate results of its own (they never change a score, so they
    are attributes, set by :func:`cached_score`, not options)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    cache_dir: str | None = None
    no_cache: bool = False

    def __init__(self, **options: Any) -> None:
        self.options = options

    def config(self) -> dict[str, Any]:
        """Everything besides the candidate and the seed that changes the score."""
        return dict(self.options)

    def compute(self, candidate: Candidate, seed: int) -> tuple[float, dict[str, Any]]:
        """Return (score, extra columns). Called with all RNGs seeded by ``seed``."""
        raise NotImplementedError

    def __call__(self, candidate: Candidate, seed: int = 0) -> ProxyResult:
        seed_everything(seed)
        start = time.perf_counter()
        try:
            value, extra = self.compute(candidate, seed)
        except ExplorerError:
            raise
        except (RuntimeError, ValueError, TypeError, AssertionError, IndexError) as exc:
            raise ProxyError(f"proxy {self.name!r} failed on {candidate.name}: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
        seconds = time.perf_counter() - start
        value = float(value)
        if not math.isfinite(value):
            raise ProxyError(f"proxy {self.name!r} gave a non-finite score ({value}) for "
                             f"{candidate.name}; the network's activations or gradients "
                             "overflow or vanish at this initialisation")
        return ProxyResult(self.name, value, seconds, seed, extra)


def seed_everything(seed: int) -> None:
    """Seed every RNG a proxy may touch (torch, Python)."""
    torch.manual_seed(seed)
    random.seed(seed)


def fresh_model(candidate: Candidate, seed: int) -> nn.Module:
    """A newly initialised copy of the candidate's network, seeded: zero-cost scores
    judge an architecture at initialisation, so the seed (not whatever weights the
    candidate happens to hold) must fix them."""
    torch.manual_seed(seed)
    if candidate.source != "module":
        return candidate.factory()
    model = copy.deepcopy(candidate.model)
    for m in model.modules():
        if hasattr(m, "reset_parameters") and m is not model:
            m.reset_parameters()
    return model


def list_proxies() -> dict[str, str]:
    """name -> one-line description, for ``explorer proxy list``."""
    return {name: proxy_class(name).description for name in PROXIES}


def proxy_class(name: str) -> type[Proxy]:
    if name == "default":
        name = DEFAULT_PROXY
    if name not in PROXIES:
        raise ProxyError(PROXIES.unknown(name, ["default", *PROXIES]))
    return PROXIES.load(name)


def get_proxy(name: str, **options: Any) -> Proxy:
    """An instance of the proxy called ``name`` ('default' = :data:`DEFAULT_PROXY`)."""
    return proxy_class(name)(**options)


def score(candidate: Candidate, proxy_name: str = DEFAULT_PROXY, seed: int = 0,
          **options: Any) -> ProxyResult:
    """Score one candidate with one proxy (uncached; see :func:`proxy_metric`)."""
    return get_proxy(proxy_name, **options)(candidate, seed)


def cached_score(candidate: Candidate, proxy_name: str = DEFAULT_PROXY, seed: int = 0,
                 no_cache: bool = False, cache_dir: str | None = None,
                 **options: Any) -> ProxyResult:
    """:func:`score` through the on-disk cache (key: the candidate's *training* form --
    zero-cost and training proxies score it, so two specs differing only in their recipe
    must not share a score -- resolution, proxy, options, seed, library versions)."""
    from explorer.machine import versions
    from explorer.measure.cache import Cache

    proxy = get_proxy(proxy_name, **options)
    proxy.cache_dir, proxy.no_cache = cache_dir, no_cache
    key = {"candidate": candidate.train_key, "resolution": candidate.resolution,
           "proxy": proxy.name, "config": proxy.config(), "seed": seed,
           "versions": versions()}
    cache = Cache("proxy", cache_dir, enabled=not no_cache, validate=valid_result)
    hit = cache.get(key)
    if hit is not None:
        return ProxyResult(**hit)
    result = proxy(candidate, seed)
    cache.put(key, {"name": result.name, "value": result.value, "seconds": result.seconds,
                    "seed": result.seed, "extra": result.extra})
    return result


def valid_result(value: Any) -> bool:
    """A cached proxy row: a name, a finite score and seconds, an int seed, a dict."""
    from explorer.measure.cache import finite_number

    return (isinstance(value, dict) and set(value) == {"name", "value", "seconds", "seed",
                                                       "extra"}
            and isinstance(value.get("name"), str)
            and finite_number(value.get("value")) and finite_number(value.get("seconds"))
            and isinstance(value.get("seed"), int) and isinstance(value.get("extra"), dict))


def proxy_metric(candidate: Candidate, proxy: str = "default", seed: int = 0,
                 no_cache: bool = False, cache_dir: str | None = None,
                 proxy_options: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
    """The ``proxy`` metric of :func:`explorer.measure.measure`: score, name, seconds."""
    result = cached_score(candidate, proxy, seed, no_cache, cache_dir, **(proxy_options or {}))
    return {"proxy": result.value, "proxy_name": result.name,
            "proxy_seconds": round(result.seconds, 4)}
