"""The two baselines every proxy must beat: parameter count and MACs of the deployed
model (what the paper reports). Bigger is predicted better, which is exactly the naive
rule the zero-cost literature finds hard to beat on ImageNet."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.measure.complexity import macs_metric, params_metric
from explorer.measure.proxy import Proxy

if TYPE_CHECKING:
    from explorer.candidate import Candidate


class Params(Proxy):
    name = "params"
    description = "parameter count of the deployed model (baseline)"

    def compute(self, candidate: Candidate, seed: int) -> tuple[float, dict[str, Any]]:
        return float(params_metric(candidate, self.no_cache, self.cache_dir)["params"]), {}


class Macs(Proxy):
    name = "macs"
    description = "MACs of the deployed model at its input resolution (baseline)"

    def compute(self, candidate: Candidate, seed: int) -> tuple[float, dict[str, Any]]:
        return float(macs_metric(candidate, self.no_cache, self.cache_dir)["macs"]), {}
