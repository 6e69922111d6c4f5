"""explorer: latency-aware architecture exploration around the RepViT roadmap.

The public API is re-exported here; implementation lives in the submodules. The names are
resolved lazily (PEP 562), so ``import explorer`` -- and with it ``explorer --help`` --
does not import torch until a name that needs it is used.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_EXPORTS = {
    "Network": "explorer.build", "build": "explorer.build", "deploy": "explorer.build",
    "ExplorerError": "explorer.errors", "SpecError": "explorer.errors",
    "BlockSpec": "explorer.spec", "DownsampleSpec": "explorer.spec",
    "HeadSpec": "explorer.spec", "NetworkSpec": "explorer.spec", "RecipeSpec": "explorer.spec",
    "StageSpec": "explorer.spec", "StemSpec": "explorer.spec", "load_spec": "explorer.spec",
    "get_spec": "explorer.zoo", "list_models": "explorer.zoo",
}

__all__ = [
    "BlockSpec", "DownsampleSpec", "ExplorerError", "HeadSpec", "Network", "NetworkSpec",
    "RecipeSpec", "SpecError", "StageSpec", "StemSpec", "build", "deploy", "get_spec",
    "list_models", "load_spec",
]

if TYPE_CHECKING:
    from explorer.build import Network, build, deploy
    from explorer.errors import ExplorerError, SpecError
    from explorer.spec import (
        BlockSpec,
        DownsampleSpec,
        HeadSpec,
        NetworkSpec,
        RecipeSpec,
        StageSpec,
        StemSpec,
        load_spec,
    )
    from explorer.zoo import get_spec, list_models


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Package(types.ModuleType):
    """``explorer.build`` names both a function and its submodule. Importing the submodule
    makes Python bind it on the package, which would shadow the exported function (so
    ``from explorer import build`` gave a module once anything had imported
    ``explorer.build``); the exported name wins, as it did with eager re-exports."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
