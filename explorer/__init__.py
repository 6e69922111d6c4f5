"""explorer: latency-aware architecture exploration around the RepViT roadmap.

The public API is re-exported here; implementation lives in the submodules.
"""
from explorer.build import Network, build, deploy
from explorer.errors import ExplorerError, SpecError
from explorer.spec import (BlockSpec, DownsampleSpec, HeadSpec, NetworkSpec, RecipeSpec,
                           StageSpec, StemSpec, load_spec)
from explorer.zoo import get_spec, list_models

__version__ = "0.1.0"

__all__ = [
    "BlockSpec", "DownsampleSpec", "ExplorerError", "HeadSpec", "Network", "NetworkSpec",
    "RecipeSpec", "SpecError", "StageSpec", "StemSpec", "build", "deploy", "get_spec",
    "list_models", "load_spec",
]
