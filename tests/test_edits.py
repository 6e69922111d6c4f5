import dataclasses
import json
import random

import pytest

from explorer import build, edits, paper, roadmap, zoo
from explorer.cli import main
from explorer.errors import EditError
from explorer.measure.complexity import count_params

PATH = [e for s in roadmap.PAPER_STEPS for e in s.edits]


def test_roadmap_composes_to_the_zoo_repvit_m0_9():
    spec = edits.apply(zoo.get_spec("mobilenetv3_large_100"), PATH)
    target = zoo.get_spec("repvit_m0_9")
    assert spec == target and spec.hash == target.hash


@pytest.mark.slow
def test_composed_params_equal_timm():
    import timm

    spec = edits.apply(zoo.get_spec("mobilenetv3_large_100"), PATH)
    assert count_params(build(spec)) == count_params(timm.create_model("repvit_m0_9"))


def test_edits_are_pure():
    base = zoo.get_spec("mobilenetv3_large_100")
    before = base.to_json()
    edits.apply(base, PATH)
    assert base.to_json() == before


def test_every_edit_has_a_description():
    for name in PATH:
        assert edits.get_edit(name).description


@pytest.mark.parametrize("seed", range(30))
def test_any_subset_in_any_order_applies_or_explains(seed):
    rng = random.Random(seed)
    chosen = rng.sample(PATH, rng.randint(1, len(PATH)))
    spec = zoo.get_spec("mobilenetv3_large_100")
    try:
        out = edits.apply(spec, chosen)
    except EditError as exc:
        assert str(exc).split(":")[0] in chosen or any(n in str(exc) for n in chosen)
        return
    build(out.replace(resolution=32))  # a spec that applied must build


def test_preconditions_are_named():
    m09 = zoo.get_spec("repvit_m0_9")
    with pytest.raises(EditError, match="split_mixers needs MobileNetV3"):
        edits.apply(m09, ["split_mixers"])
    with pytest.raises(EditError, match="early_conv replaces a MobileNetV3 stem"):
        edits.apply(m09, ["early_conv"])
    with pytest.raises(EditError, match="simple_classifier replaces"):
        edits.apply(m09, ["simple_classifier"])
    with pytest.raises(EditError, match="unknown edit"):
        edits.get_edit("make_it_fast")
    mbv3 = zoo.get_spec("mobilenetv3_large_100")
    with pytest.raises(EditError, match="distill needs the simple classifier"):
        edits.apply(mbv3, ["distill"])


def test_steps_and_control_row():
    pairs = paper.step_specs()
    ids = [s.id for s, _ in pairs]
    assert ids[0] == "0" and ids[-2] == "10" and ids[-1] == "3-ctrl"
    by_id = {s.id: spec for s, spec in pairs}
    ctrl = by_id["3-ctrl"]
    assert all(b.kind == "ir" and b.expansion == 2.0 for _, _, b in ctrl.iter_blocks())
    assert by_id["9"].deploy_hash == by_id["10"].deploy_hash  # distillation merges away
    assert by_id["0"].deploy_hash == by_id["1"].deploy_hash  # recipe only


def test_custom_edit_in_the_cli(tmp_path, capsys):
    code = main(["roadmap", "--edits", "gelu,tests.fixtures.my_edits:no_se", "--metrics",
                 "params", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert code == 0
    rows = (tmp_path / "roadmap.csv").read_text().splitlines()
    assert len(rows) == 3 and "tests.fixtures.my_edits:no_se" in rows[2]
    code = main(["roadmap", "--edits", "gelu,nowhere:thing", "--metrics", "params",
                 "--out", str(tmp_path)])
    assert code == 2 and "cannot import edit module" in capsys.readouterr().err
    code = main(["roadmap", "--edits", "os.path:join", "--metrics", "params",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "edit os.path:join failed" in err and "TypeError" in err
    assert "Traceback" not in err


#: runs the CLI as the installed ``explorer`` script does: the package from this checkout,
#: but neither the current folder nor the repository on ``sys.path`` (``-I``)
_SCRIPT = ("import importlib.util, sys; "
           "spec = importlib.util.spec_from_file_location('explorer', sys.argv[1], "
           "submodule_search_locations=[sys.argv[2]]); "
           "module = importlib.util.module_from_spec(spec); sys.modules['explorer'] = module; "
           "spec.loader.exec_module(module); "
           "from explorer.cli import main; sys.exit(main(sys.argv[3:]))")


def test_readme_custom_edit_example_runs_through_the_script(tmp_path):
    """The README's example, as written, from the repository root."""
    import subprocess
    import sys
    from pathlib import Path

    import explorer

    package = Path(explorer.__file__).parent
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _SCRIPT, str(package / "__init__.py"), str(package),
         "roadmap", "--edits", "gelu,split_mixers,tests.fixtures.my_edits:no_se",
         "--metrics", "params", "--resolution", "64", "--out", str(tmp_path / "custom"),
         "--cache-dir", str(tmp_path / "c")],
        cwd=package.parent, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "custom" / "roadmap.csv").read_text().splitlines()
    assert len(rows) == 4 and "tests.fixtures.my_edits:no_se" in rows[3]


def test_edits_help_says_module_function_runs_code(capsys):
    with pytest.raises(SystemExit):
        main(["roadmap", "--help"])
    assert "imports the Python module" in capsys.readouterr().out


def test_roadmap_ends_have_the_papers_complexity():
    df = roadmap.run_roadmap([roadmap.PAPER_STEPS[0]], metrics=["params", "macs"],
                             progress=False)
    assert df["params"].iloc[0] == 5470832 and round(df["macs"].iloc[0] / 1e9, 2) == 0.22
    m09 = roadmap.run_roadmap(roadmap.PAPER_STEPS, base=None, metrics=["params"],
                              progress=False)
    last = m09[m09["step"] == "9"].iloc[0]
    assert last["params"] == 5067056


def test_roadmap_table_and_ablation(tmp_path):
    code = main(["roadmap", "--metrics", "params", "--ablate", "--resolution", "64",
                 "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert code == 0
    import pandas as pd

    df = pd.read_csv(tmp_path / "roadmap.csv")
    for col in ("step", "edit", "params", "paper_latency_ms", "paper_top1"):
        assert col in df
    assert df["params"].iloc[0] == 5470832 and len(df) == len(paper.roadmap_steps())
    ab = pd.read_csv(tmp_path / "roadmap_ablation.csv")
    assert len(ab) == len(roadmap.PAPER_STEPS) + 1
    assert (ab["status"] != "ok").sum() == 1  # without simple_classifier, distill cannot apply
    assert json.loads((tmp_path / "roadmap.json").read_text())["agreement"] == {}


SE_EDITS = {"se_none": lambda b: False, "se_all": lambda b: True,
            "se_alternate": lambda b: b % 2 == 0}


@pytest.mark.parametrize("name", sorted(SE_EDITS))
@pytest.mark.parametrize("base", ["mobilenetv3_large_100", "repvit_m0_9", "repvit_m1_5",
                                  "tiny", "tiny_ir"])
def test_se_edits_apply_to_any_spec_with_blocks(name, base):
    from tests.conftest import tiny_spec

    spec = {"tiny": tiny_spec(), "tiny_ir": tiny_spec("ir", "mbv3", "mbv3")}.get(base) \
        or zoo.get_spec(base)
    out = edits.apply(spec, [name])
    assert [blk.se for _, b, blk in out.iter_blocks()] == \
        [SE_EDITS[name](b) for _, b, _ in spec.iter_blocks()]
    # only SE changes: same blocks otherwise, same downsampling units, stem and head
    strip = [dataclasses.replace(blk, se=False) for _, _, blk in out.iter_blocks()]
    assert strip == [dataclasses.replace(blk, se=False) for _, _, blk in spec.iter_blocks()]
    assert [st.downsample for st in out.stages] == [st.downsample for st in spec.stages]
    assert (out.stem, out.head) == (spec.stem, spec.head)
    build(out.replace(resolution=32))


def test_se_none_then_se_alternate_is_the_published_m0_9():
    m09 = zoo.get_spec("repvit_m0_9")
    plain = edits.apply(m09, ["se_none"])
    assert not any(blk.se for _, _, blk in plain.iter_blocks()) and plain != m09
    again = edits.apply(plain, ["se_alternate"])
    assert again == m09 and again.hash == m09.hash


@pytest.mark.parametrize("placement", ["se_none", "se_all"])
def test_se_placements_compose_with_the_roadmap(placement):
    """The roadmap with step 9's cross-block SE replaced, or with the other placement
    applied anywhere before it, applies and builds; a later se_alternate still wins."""
    base = zoo.get_spec("mobilenetv3_large_100")
    swapped = edits.apply(base, [placement if e == "se_alternate" else e for e in PATH])
    assert swapped == edits.apply(zoo.get_spec("repvit_m0_9"), [placement])
    build(swapped.replace(resolution=32))
    for i in range(PATH.index("se_alternate") + 1):
        assert edits.apply(base, PATH[:i] + [placement] + PATH[i:]) == \
            zoo.get_spec("repvit_m0_9")


def test_the_papers_se_table_names_registered_edits():
    from explorer.paper import SE_TABLE

    assert [r.edit for r in SE_TABLE] == ["se_none", "se_all", "se_alternate"] * 2
    assert all(r.edit in edits.EDITS for r in SE_TABLE)
    assert [(r.paper_latency_ms, r.paper_top1) for r in SE_TABLE] == [
        (0.83, 77.92), (0.92, 78.75), (0.87, 78.74), (1.48, 81.86), (1.58, 82.29), (1.52, 82.29)]
