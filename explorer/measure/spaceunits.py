"""The distinct unit configurations a search space can produce: what a device latency
table must hold so ``--backend lut:device:NAME`` can predict every network of the space.

A unit's configuration (:attr:`explorer.measure.lut.Unit.key`) depends only on the space's
global dimensions (resolution, a space-wide kernel, SE placement...), on its own stage's
dimensions and on the (channels, resolution) entering its stage -- never on later stages,
nor on *how* earlier stages produced that input. So instead of the Cartesian product of
whole networks (millions for the shipped spaces), the stages are walked in order: for
each assignment of the global dimensions, every assignment of one stage's dimensions is
built once per distinct input the earlier stages can deliver, the units of that stage
are kept, and one assignment per distinct stage output is carried forward. The input
and output are read off the built networks, not assumed; tests check the result against
networks sampled from the space.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.measure.lut import Unit, units

if TYPE_CHECKING:
    from explorer.search_space import Dim, SearchSpace
    from explorer.spec import NetworkSpec

_STAGE_DIM = re.compile(r"_(\d+)$")


@dataclass(frozen=True)
class SpaceUnits:
    """Every distinct unit of a space, each with one network that contains it."""

    found: dict[str, tuple[Unit, NetworkSpec]]
    networks_built: int

    def groups(self) -> dict[str, int]:
        """Distinct units per calibration group (stem, down, block:KIND, head)."""
        from explorer.measure.lut import group

        counts: dict[str, int] = {}
        for unit, _ in self.found.values():
            counts[group(unit)] = counts.get(group(unit), 0) + 1
        return dict(sorted(counts.items()))


def _assignments(dims: list[Dim]) -> list[dict[str, Any]]:
    """Every assignment of values to ``dims`` (one empty assignment when there are none)."""
    return [dict(zip([d.name for d in dims], values, strict=True))
            for values in itertools.product(*(d.values() for d in dims))]


def _stage_of(unit: Unit) -> int | None:
    """The stage index of a body unit (``stages.S.J``); None for the stem and the head."""
    parts = unit.path.split(".")
    return int(parts[1]) if parts[0] == "stages" else None


def _boundary(spec: NetworkSpec, stage: int) -> tuple[int, int]:
    """(channels, resolution) entering the unit after ``stage``: the stage's output."""
    after = next(u for u in units(spec)
                 if u.path == "head" or (_stage_of(u) is not None and _stage_of(u) > stage))
    return after.channels, after.resolution


def space_units(space: SearchSpace) -> SpaceUnits:
    """The distinct units of ``space`` (see the module docstring for why this is exact)."""
    per_stage: dict[int, list[Dim]] = {s: [] for s in range(space.n_stages)}
    shared: list[Dim] = []
    for dim in space.dims.values():
        match = _STAGE_DIM.search(dim.name)
        (per_stage[int(match.group(1))] if match else shared).append(dim)
    found: dict[str, tuple[Unit, NetworkSpec]] = {}
    built = 0
    last = space.n_stages - 1
    for common in _assignments(shared):
        carried: list[dict[str, Any]] = [common]  # one assignment per distinct stage input
        for s in range(space.n_stages):
            outputs: dict[tuple[int, int], dict[str, Any]] = {}
            for before in carried:
                for own in _assignments(per_stage[s]):
                    values = {**before, **own}
                    spec = space.build(values)
                    built += 1
                    for unit in units(spec):
                        stage = _stage_of(unit)
                        mine = (stage == s or (s == 0 and unit.path == "stem")
                                or (s == last and unit.path == "head"))
                        if mine and unit.key not in found:
                            found[unit.key] = (unit, spec)
                    outputs.setdefault(_boundary(spec, s), values)
            carried = list(outputs.values())
    return SpaceUnits(dict(sorted(found.items())), built)
