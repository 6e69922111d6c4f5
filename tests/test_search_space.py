"""Search spaces: YAML -> dimensions -> specs, and load-time validation."""
from __future__ import annotations

import random

import optuna
import pytest
import yaml

from explorer.errors import SearchSpaceError
from explorer.search_space import load_space, parse_space

REPVIT = "search_spaces/repvit.yaml"
MBV3 = "search_spaces/mobilenetv3.yaml"


@pytest.fixture(params=[REPVIT, MBV3])
def shipped(request):
    return load_space(request.param)


def _write(tmp_path, data, name="space.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_shipped_spaces_load_and_sample(shipped):
    assert shipped.size > 1000
    a, b = shipped.sample(3), shipped.sample(3)
    assert a == b and a.hash == b.hash  # seeded
    specs = {shipped.sample(random.Random(i)).hash for i in range(20)}
    assert len(specs) > 15
    small, large = shipped.smallest(), shipped.largest()
    assert sum(small.depths) < sum(large.depths)
    assert small.resolution < large.resolution


def test_repvit_width_sets_downsample_and_stem():
    space = load_space(REPVIT)
    values = {"width_0": 56, "width_1": 112, "width_2": 224, "width_3": 448,
              "depth_0": 2, "depth_1": 2, "depth_2": 14, "depth_3": 2, "se": "alternate",
              "resolution": 224}
    spec = space.build(values)
    from explorer import zoo

    m1 = zoo.get_spec("repvit_m1_0")
    assert spec.hash == m1.hash  # the space contains RepViT-M1.0 exactly
    assert spec.stem.widths == (28, 56)
    assert [s.downsample.width for s in spec.stages[1:]] == [112, 224, 448]


def test_se_placement_and_depth():
    space = load_space(REPVIT)
    spec = space.build({"depth_2": 9, "se": "all"})
    assert spec.depths[2] == 9 and all(b.se for _, _, b in spec.iter_blocks())
    spec = space.build({"depth_2": 9, "se": "none"})
    assert not any(b.se for _, _, b in spec.iter_blocks())
    spec = space.build({"depth_2": 9, "se": "alternate"})
    assert [b.se for b in spec.stages[2].blocks] == [j % 2 == 0 for j in range(9)]


def test_mobilenetv3_width_scaling_keeps_structure():
    space = load_space(MBV3)
    spec = space.build({"width_2": 144, "depth_2": 8, "depth_0": 3})
    widths = [b.width for b in spec.stages[2].blocks]
    assert widths[-1] == 144 and widths[0] < 144 and widths[0] % 8 == 0
    strides = [b.stride for b in spec.stages[0].blocks]
    assert strides == [2, 1, 1]  # only the first block keeps the stride when deepened
    base = space.base
    assert spec.head == base.head and spec.stem == base.stem


def test_suggest_matches_build(shipped):
    values = {name: dim.values()[-1] for name, dim in shipped.dims.items() if not dim.fixed}
    trial = optuna.trial.FixedTrial(values)
    assert shipped.suggest(trial) == shipped.build(values)


def test_fixed_fields(tmp_path):
    path = _write(tmp_path, {"base": "repvit_m0_9", "fixed": {"head.dropout": 0.1,
                                                              "recipe.distillation": False},
                             "resolution": [160, 192]})
    space = load_space(path)
    assert space.sample(0).head.dropout == 0.1
    assert not space.sample(0).recipe.distillation


def test_roadmap_base(tmp_path):
    from explorer.paper import roadmap_specs

    step, spec = roadmap_specs()[-1]
    space = load_space(_write(tmp_path, {"base": f"roadmap:{step}", "resolution": [160, 224]}))
    assert space.build({"resolution": 224}).deploy_hash == spec.replace(resolution=224).deploy_hash


@pytest.mark.parametrize("data, needle", [
    ({"base": "repvit_m0_9", "widht": [1]}, "unknown key(s) widht"),
    ({"base": "repvit_m0_99"}, "base: unknown zoo model 'repvit_m0_99'"),
    ({"base": "roadmap:nope"}, "unknown roadmap step 'nope'"),
    ({"base": "repvit_m0_9", "resolution": {"low": 224, "high": 192, "step": 32}},
     "resolution: empty range: low 224 > high 192"),
    ({"base": "repvit_m0_9", "resolution": {"low": 192, "high": 224, "step": 24}},
     "must be a multiple of step 24"),
    ({"base": "repvit_m0_9", "resolution": []}, "resolution: empty list of choices"),
    ({"base": "repvit_m0_9", "kernel": [3, 4]}, "kernel: expected one of 1, 3, 5, 7, got 4"),
    ({"base": "repvit_m0_9", "se": ["some"]}, "se: expected one of none"),
    ({"base": "repvit_m0_9", "widths": [48, 96]}, "one entry per stage (4 stages"),
    ({"base": "repvit_m0_9", "depths": [2, 2, 0, 2]}, "depths[2]: expected an integer from 1"),
    ({"base": "repvit_m0_9", "widths": [48, 96, {"low": 190, "high": 194, "step": 2}, 384]},
     "width_2=190 gives an invalid network: stages[2].blocks[0].se: SE on 190 channels"),
    ({"base": "repvit_m0_9", "widths": [[48, 64], 96, 190, 384]},  # fixed: named as such
     "width_1=96, width_2=190, width_3=384 gives an invalid network: stages[2].blocks[0]"),
    ({"base": "repvit_m0_9", "fixed": {"head.nope": 1}},
     "fixed.head.nope: the spec has no field 'head.nope'"),
    ({"base": "repvit_m0_9", "fixed": {"head.dropout": 2.0}}, "fixed: head.dropout: must be"),
    ({"base": "repvit_m0_9", "kernel": {"per_stage": [3, 3, 3]}}, "kernel.per_stage"),
    ("base: [", "not valid YAML"),
    ("- 1", "expected a mapping"),
])
def test_invalid_spaces_name_file_key_value(tmp_path, data, needle):
    path = _write(tmp_path, data)
    with pytest.raises(SearchSpaceError) as err:
        load_space(path)
    assert needle in str(err.value)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_file():
    with pytest.raises(SearchSpaceError, match="not found.*shipped: .*repvit.yaml"):
        load_space("search_spaces/nope.yaml")


def test_shipped_spaces_are_found_from_any_folder(tmp_path, monkeypatch):
    from explorer.cli import build_parser

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["bench", "search"])
    assert load_space(args.space).base_ref == "repvit_m0_9"


def test_se_width_checked_only_where_se_can_be_on():
    # 190 is not a multiple of 4, but with SE never on, the space is valid
    space = parse_space({"base": "repvit_m0_9", "se": "none",
                         "widths": [48, 96, {"low": 190, "high": 194, "step": 2}, 384]})
    assert space.size == 3


@pytest.mark.parametrize("name", ["repvit", "repvit.yaml", "mobilenetv3"])
def test_a_shipped_space_by_bare_name(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert load_space(name).source.endswith(f"{name.removesuffix('.yaml')}.yaml")
    (tmp_path / "repvit.yaml").write_text("base: no_such_model\n")  # the folder's file first
    with pytest.raises(SearchSpaceError):
        load_space("repvit.yaml")
    with pytest.raises(SearchSpaceError, match="not found"):
        load_space("sub/repvit.yaml")
