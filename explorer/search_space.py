"""Search spaces: a YAML file says what varies around a base spec.

A space maps a dict of named values (Optuna's ``trial.params``) to a
:class:`~explorer.spec.NetworkSpec`, through one function (:meth:`SearchSpace.build`),
whether the values come from Optuna (:meth:`SearchSpace.suggest`) or from a seeded RNG
(:meth:`SearchSpace.sample`, used to validate the latency predictor).

File format (every key but ``base`` is optional; an omitted key keeps the base's value)::

    base: repvit_m0_9            # zoo name, or roadmap:<step id>
    resolution: [192, 224]       # a value is: a scalar (fixed), a list (choices),
    widths:                      #   or {low, high, step} (a range on a grid)
      - {low: 40, high: 64, step: 8}      # one entry per stage: the stage's output width
      - ...
    depths: [[1, 2, 3], ...]     # one entry per stage: number of body blocks
    kernel: [3, 5]               # all blocks; or {per_stage: [..., ...]}
    expansion: [2.0, 3.0]        # all blocks; or {per_stage: [...]}
    se: [none, alternate, all]   # SE placement per stage (base = keep the base's)
    fixed: {head.dropout: 0.1}   # any spec field by dotted path, set once

Loading validates everything, including networks at the corners of the space and a
seeded sample of it, so a space that can produce an impossible network (e.g. SE on a
width that is not a multiple of 4) fails at load time, naming file, key and value.
"""
from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer import footprint
from explorer.errors import ExplorerError, SearchSpaceError, SpecError
from explorer.spec import KERNELS, BlockSpec, NetworkSpec, StageSpec, make_divisible, parse_yaml

SE_PLACEMENTS = ("none", "alternate", "base", "all")  # ordered from cheapest to costliest
TOP_KEYS = ("base", "resolution", "widths", "depths", "kernel", "expansion", "se", "fixed")
_CHECK_SAMPLES = 64  # random networks built at load time, on top of the corners


@dataclass(frozen=True)
class Dim:
    """One searchable value: ``choices`` (categorical, or a single fixed value) or an
    int/float range ``low..high`` on a ``step`` grid."""

    name: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    is_int: bool = True

    @property
    def fixed(self) -> bool:
        return self.choices is not None and len(self.choices) == 1

    def values(self) -> list[Any]:
        """Every value the dimension can take."""
        if self.choices is not None:
            return list(self.choices)
        n = int(round((self.high - self.low) / self.step))
        vals = [self.low + i * self.step for i in range(n + 1)]
        return [int(round(v)) for v in vals] if self.is_int else [round(v, 10) for v in vals]

    def minimum(self) -> Any:
        return min(self.values(), key=_order)

    def maximum(self) -> Any:
        return max(self.values(), key=_order)

    def suggest(self, trial: Any) -> Any:
        if self.fixed:
            return self.choices[0]
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.is_int:
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=int(self.step))
        return trial.suggest_float(self.name, self.low, self.high, step=self.step)

    def sample(self, rng: random.Random) -> Any:
        return rng.choice(self.values())


def _order(value: Any) -> Any:
    return SE_PLACEMENTS.index(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class _Axis:
    """How one YAML key is parsed and checked."""

    key: str
    param: str  # Optuna parameter name (per-stage ones get a _<stage> suffix)
    is_int: bool
    check: Callable[[Any], bool]
    expect: str


_AXES = {
    "resolution": _Axis("resolution", "resolution", True, lambda v: _is_int(v) and v >= 32,
                        "an integer >= 32"),
    "widths": _Axis("widths", "width", True, lambda v: _is_int(v) and v > 0,
                    "a positive integer"),
    "depths": _Axis("depths", "depth", True, lambda v: _is_int(v) and 1 <= v <= 64,
                    "an integer from 1 to 64"),
    "kernel": _Axis("kernel", "kernel", True, lambda v: v in KERNELS and _is_int(v),
                    f"one of {', '.join(map(str, KERNELS))}"),
    "expansion": _Axis("expansion", "expansion", False,
                       lambda v: _is_num(v) and math.isfinite(v) and 0 < v <= 16,
                       "a number in (0, 16]"),
    "se": _Axis("se", "se", False, lambda v: v in SE_PLACEMENTS,
                f"one of {', '.join(SE_PLACEMENTS)}"),
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class SearchSpace:
    """A base spec plus named dimensions; see the module docstring for the file format."""

    def __init__(self, base: NetworkSpec, dims: dict[str, Dim], source: str = "<space>",
                 base_ref: str = "") -> None:
        self.base = base
        self.dims = dims
        self.source = source
        self.base_ref = base_ref or base.name
        self.n_stages = len(base.stages)

    # -- values -> spec --------------------------------------------------------------
    def build(self, values: dict[str, Any]) -> NetworkSpec:
        """The spec for one assignment of values (a dimension left out keeps the base's
        value; fixed ones always apply)."""
        v = {name: dim.values()[0] for name, dim in self.dims.items() if dim.fixed}
        v.update({name: value for name, value in values.items() if name in self.dims})
        base = self.base
        stages = tuple(self._stage(s, stage, v) for s, stage in enumerate(base.stages))
        stem = base.stem
        if stem.kind == "early_conv" and "width_0" in v:  # RepViT stem: (C1/2, C1)
            ratio = v["width_0"] / base.stages[0].width
            stem = dataclasses.replace(stem, widths=tuple(max(1, int(round(w * ratio)))
                                                          for w in stem.widths))
        spec = dataclasses.replace(base, stem=stem, stages=stages,
                                   resolution=v.get("resolution", base.resolution),
                                   name=f"{self.base_ref}-searched")
        return spec.replace()  # validates

    def _stage(self, s: int, stage: StageSpec, v: dict[str, Any]) -> StageSpec:
        def pick(key: str) -> Any:
            return v.get(f"{key}_{s}", v.get(key))

        blocks = stage.blocks
        depth = pick("depth")
        if depth is not None and blocks:
            blocks = _resample(blocks, depth)
        se = pick("se")
        if se is None and depth is not None:
            se = _se_pattern(stage.blocks)  # keep the base's placement at the new depth
        if se not in (None, "base"):
            blocks = tuple(dataclasses.replace(b, se=_se_on(se, j)) for j, b in enumerate(blocks))
        changes = {k: pick(k) for k in ("kernel", "expansion") if pick(k) is not None}
        blocks = tuple(dataclasses.replace(b, **changes) for b in blocks)
        down = stage.downsample
        if down is not None and changes:
            down = dataclasses.replace(down, **changes)
        width = pick("width")
        if width is not None:
            base_width = stage.width
            blocks = tuple(dataclasses.replace(b, width=_scaled(b.width, width, base_width))
                           for b in blocks)
            if down is not None:
                down = dataclasses.replace(down, width=width)
        return StageSpec(blocks, down)

    # -- sources of values -------------------------------------------------------------
    def suggest(self, trial: Any) -> NetworkSpec:
        """Ask an Optuna trial for every dimension; return the spec."""
        return self.build({name: dim.suggest(trial) for name, dim in self.dims.items()})

    def sample(self, rng: random.Random | int) -> NetworkSpec:
        """A uniformly random spec of the space (seeded: pass an int or a Random)."""
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        return self.build({name: dim.sample(rng) for name, dim in self.dims.items()})

    def smallest(self) -> NetworkSpec:
        """Every dimension at its cheapest value (used to reject impossible budgets)."""
        return self.build({name: dim.minimum() for name, dim in self.dims.items()})

    def largest(self) -> NetworkSpec:
        return self.build({name: dim.maximum() for name, dim in self.dims.items()})

    @property
    def size(self) -> int:
        """Number of distinct value assignments."""
        return math.prod(len(d.values()) for d in self.dims.values())

    def describe(self) -> str:
        parts = [f"{d.name}={d.values()[0]}" if d.fixed else
                 f"{d.name}∈{{{', '.join(map(str, d.values()))}}}" if d.choices else
                 f"{d.name}∈[{d.low}..{d.high} step {d.step}]" for d in self.dims.values()]
        return f"{self.source}: base {self.base_ref}, {self.size:,} networks; " + "; ".join(parts)

    # -- validation ------------------------------------------------------------------
    def check(self) -> SearchSpace:
        """Build the base with the fixed values (which every build applies, so an error
        there names them), then every value of every other dimension on it (so an error
        names the value that causes it), then the same with the others at their extremes,
        then a seeded random sample; an invalid network raises :class:`SearchSpaceError`."""
        low = {n: d.minimum() for n, d in self.dims.items()}
        high = {n: d.maximum() for n, d in self.dims.items()}
        fixed = [f"{n}={d.values()[0]}" for n, d in self.dims.items() if d.fixed]
        probes: list[tuple[str, dict[str, Any]]] = [(", ".join(fixed), {})] if fixed else []
        for others, tag in (({}, ""), (low, " (others at their minimum)"),
                            (high, " (others at their maximum)")):
            probes += [(f"{name}={value}{tag}", {**others, name: value})
                       for name, dim in self.dims.items() if not dim.fixed
                       for value in dim.values()]
        rng = random.Random(0)
        for _ in range(_CHECK_SAMPLES):
            values = {n: d.sample(rng) for n, d in self.dims.items()}
            probes.append((", ".join(f"{k}={x}" for k, x in values.items()), values))
        for label, values in probes:
            try:
                self.build(values)
            except SpecError as exc:
                raise SearchSpaceError(f"{self.source}: {label} gives an invalid network: "
                                       f"{exc}") from None
        big = self.largest()  # every dimension at its maximum: the most memory
        widths = "/".join(str(stage.width) for stage in big.stages)
        footprint.check_fits(footprint.spec_bytes(big), f"{self.source}: its largest network "
                             f"(resolution {big.resolution}, stage widths {widths})")
        return self


def _scaled(width: int, new_stage: int, base_stage: int) -> int:
    """Blocks as wide as their stage take the new width exactly; others (MobileNetV3's
    80 -> 112 stage) scale with it, rounded to a multiple of 8."""
    if width == base_stage:
        return new_stage
    return make_divisible(width * new_stage / base_stage)


def _resample(blocks: tuple[BlockSpec, ...], depth: int) -> tuple[BlockSpec, ...]:
    """``depth`` blocks spread evenly over the base ones (so a stage's width transitions
    survive); only the first block keeps a stride."""
    n = len(blocks)
    src = [0 if depth == 1 else round(j * (n - 1) / (depth - 1)) for j in range(depth)]
    return tuple(blocks[i] if j == 0 or i != 0 else dataclasses.replace(blocks[i], stride=1)
                 for j, i in enumerate(src))


def _se_on(placement: str, j: int) -> bool:
    return placement == "all" or (placement == "alternate" and j % 2 == 0)


def _se_pattern(blocks: Sequence[BlockSpec]) -> str:
    """The named placement the base stage follows, or 'base' when it follows none."""
    for name in ("none", "alternate", "all"):
        if all(b.se == _se_on(name, j) for j, b in enumerate(blocks)):
            return name
    return "base"


# -- loading ---------------------------------------------------------------------------
def resolve_base(ref: str) -> NetworkSpec:
    """A zoo name, or ``roadmap:<step id>`` (the paper's steps are built lazily)."""
    if ref.startswith("roadmap:"):
        from explorer.paper import roadmap_specs

        step = ref.split(":", 1)[1]
        specs = dict(roadmap_specs())
        if step not in specs:
            raise SearchSpaceError(f"unknown roadmap step {step!r}; steps: "
                                   f"{', '.join(specs)}")
        return dataclasses.replace(specs[step], name=f"roadmap-{step}")
    from explorer import zoo

    return zoo.get_spec(ref)


def _parse_dim(raw: Any, name: str, axis: _Axis, where: str) -> Dim:
    """A scalar, a list of choices, or a {low, high, step} mapping."""
    def bad(value: Any, what: str = "") -> SearchSpaceError:
        return SearchSpaceError(f"{where}: {what or f'expected {axis.expect}'}, got {value!r}")

    if isinstance(raw, dict):
        unknown = sorted(set(raw) - {"low", "high", "step"})
        if unknown or not {"low", "high"} <= set(raw):
            raise bad(raw, "a range needs keys low, high and optionally step")
        if axis.key == "se":
            raise bad(raw, "SE placement takes a value or a list of choices, not a range")
        low, high = raw["low"], raw["high"]
        step = raw.get("step", 1 if axis.is_int else None)
        for key, value in (("low", low), ("high", high)):
            if not axis.check(value):
                raise SearchSpaceError(f"{where}.{key}: expected {axis.expect}, got {value!r}")
        if step is None or not _is_num(step) or step <= 0 or (axis.is_int and not _is_int(step)):
            raise SearchSpaceError(f"{where}.step: expected a positive "
                                   f"{'integer' if axis.is_int else 'number'}, got {step!r}")
        if low > high:
            raise bad(raw, f"empty range: low {low} > high {high}")
        n = (high - low) / step
        if abs(n - round(n)) > 1e-9:
            raise bad(raw, f"high - low ({high - low}) must be a multiple of step {step}")
        dim = Dim(name, None, low, high, step, axis.is_int)
        return Dim(name, (low,)) if low == high else dim
    choices = list(raw) if isinstance(raw, list) else [raw]
    if not choices:
        raise bad(raw, "empty list of choices")
    for value in choices:
        if not axis.check(value):
            raise bad(value)
    if len(set(choices)) != len(choices):
        raise bad(raw, "duplicate choices")
    if not axis.is_int:
        choices = [c if isinstance(c, str) else float(c) for c in choices]
    return Dim(name, tuple(choices))


def _per_stage_dims(raw: Any, axis: _Axis, n_stages: int, where: str) -> list[Dim]:
    if not isinstance(raw, list) or len(raw) != n_stages:
        raise SearchSpaceError(f"{where}: expected a list with one entry per stage "
                               f"({n_stages} stages in the base), got {raw!r}")
    return [_parse_dim(v, f"{axis.param}_{s}", axis, f"{where}[{s}]")
            for s, v in enumerate(raw)]


def _set_path(data: dict[str, Any], path: str, value: Any, where: str) -> None:
    """Set ``a.b.0.c`` in nested dicts/lists, refusing paths the spec does not have."""
    node: Any = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            key: Any = int(part)
        elif isinstance(node, dict) and part in node:
            key = part
        else:
            raise SearchSpaceError(f"{where}: the spec has no field {path!r} "
                                   f"(at {part!r})")
        if last:
            node[key] = value
        else:
            node = node[key]


def parse_space(data: Any, source: str = "<space>") -> SearchSpace:
    """Build and fully validate a space from parsed YAML (a mapping)."""
    if not isinstance(data, dict):
        raise SearchSpaceError(f"{source}: expected a mapping of keys "
                               f"({', '.join(TOP_KEYS)}), got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(TOP_KEYS))
    if unknown:
        raise SearchSpaceError(f"{source}: unknown key(s) {', '.join(unknown)}; "
                               f"expected some of {', '.join(TOP_KEYS)}")
    ref = data.get("base")
    if not isinstance(ref, str) or not ref:
        raise SearchSpaceError(f"{source}: base: expected a zoo name or roadmap:<step>, "
                               f"got {ref!r}")
    try:
        base = resolve_base(ref)
    except ExplorerError as exc:
        raise SearchSpaceError(f"{source}: base: {exc}") from None
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise SearchSpaceError(f"{source}: fixed: expected a mapping of spec paths to "
                               f"values, got {fixed!r}")
    if fixed:
        plain = base.to_dict()
        for path, value in fixed.items():
            _set_path(plain, str(path), value, f"{source}: fixed.{path}")
        try:
            base = dataclasses.replace(NetworkSpec.from_dict(plain), name=base.name)
        except SpecError as exc:
            raise SearchSpaceError(f"{source}: fixed: {exc}") from None
    n = len(base.stages)
    dims: list[Dim] = []
    for key in ("resolution", "widths", "depths", "kernel", "expansion", "se"):
        if key not in data:
            continue
        raw, axis, where = data[key], _AXES[key], f"{source}: {key}"
        if key in ("widths", "depths"):
            dims += _per_stage_dims(raw, axis, n, where)
        elif isinstance(raw, dict) and "per_stage" in raw:
            if set(raw) != {"per_stage"}:
                raise SearchSpaceError(f"{where}: per_stage must be the only key, got "
                                       f"{sorted(raw)}")
            dims += _per_stage_dims(raw["per_stage"], axis, n, f"{where}.per_stage")
        else:
            dims.append(_parse_dim(raw, axis.param, axis, where))
    return SearchSpace(base, {d.name: d for d in dims}, source, ref).check()


#: the repository's search spaces, found from any working directory
SPACES_DIR = Path(__file__).resolve().parents[1] / "search_spaces"


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file: a path, or the bare name of a shipped
    space (``repvit`` or ``repvit.yaml``) so the shipped spaces are found from any folder;
    a file in the current folder comes first."""
    path = Path(path)
    if not path.is_file() and path.parent == Path("."):
        shipped = SPACES_DIR / (path.name if path.suffix else f"{path.name}.yaml")
        path = shipped if shipped.is_file() else path
    if not path.is_file():
        listing = ", ".join(str(p) for p in sorted(SPACES_DIR.glob("*.yaml"))) or "none"
        raise SearchSpaceError(f"search space file not found: {path} (shipped: {listing})")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SearchSpaceError(f"{path}: cannot read search space file: {exc}") from None
    return parse_space(parse_yaml(text, str(path), SearchSpaceError), str(path))
