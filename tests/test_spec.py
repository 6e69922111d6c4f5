import dataclasses
import json

import pytest

from explorer import zoo
from explorer.errors import SpecError
from explorer.spec import BlockSpec, NetworkSpec, load_spec


@pytest.mark.parametrize("name", zoo.list_models())
def test_json_and_yaml_round_trip(name):
    spec = zoo.get_spec(name)
    assert NetworkSpec.from_json(spec.to_json()) == spec
    assert NetworkSpec.from_yaml(spec.to_yaml()) == spec
    assert NetworkSpec.from_json(spec.to_json()).hash == spec.hash


def test_hash_is_stable_and_content_based(tiny):
    # a fixed literal: hashes must not drift between runs, processes or Python versions
    assert zoo.get_spec("repvit_m0_9").hash == "f0beb8032bfed923"
    renamed = dataclasses.replace(tiny, name="other")
    assert renamed.hash == tiny.hash and renamed == tiny
    wider = tiny.replace(resolution=96)
    assert wider.hash != tiny.hash


def test_deploy_hash_ignores_recipe(tiny):
    other = tiny.replace(recipe=dataclasses.replace(tiny.recipe, name="mobilenetv3-google"))
    assert other.hash != tiny.hash
    assert other.deploy_hash == tiny.deploy_hash


def _mutate(spec, path, value):
    data = spec.to_dict()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,needle", [
    (("stages", 0, "blocks", 0, "width"), -3, "stages[0].blocks[0].width"),
    (("stages", 0, "blocks", 0, "stride"), 3, "stages[0].blocks[0].stride"),
    (("stages", 0, "blocks", 0, "kernel"), 4, "stages[0].blocks[0].kernel"),
    (("stages", 0, "blocks", 0, "act"), "swish", "stages[0].blocks[0].act"),
    (("stages", 0, "blocks", 0, "kind"), "mbconv", "stages[0].blocks[0].kind"),
    (("stages", 0, "blocks", 0, "expansion"), 0, "stages[0].blocks[0].expansion"),
    (("stages", 0, "blocks", 0, "width"), "wide", "stages[0].blocks[0].width"),
    (("stem", "kind"), "patchify", "stem.kind"),
    (("head", "kind"), "mlp", "head.kind"),
    (("resolution",), 8, "resolution"),
    (("recipe", "name"), "sgd", "recipe.name"),
])
def test_validation_names_the_field(tiny, path, value, needle):
    with pytest.raises(SpecError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        NetworkSpec.from_dict(_mutate(tiny, path, value))


def test_se_needs_divisible_channels(tiny):
    # block 0 of stage 1 sees 18 channels from a width-18 block: 18 % 4 != 0
    no_downsample = NetworkSpec.from_dict(_mutate(tiny, ("stages", 1, "downsample"), None))
    with pytest.raises(SpecError, match=r"stages\[1\].blocks\[0\].se"):
        NetworkSpec.from_dict(_mutate(no_downsample, ("stages", 0, "blocks", 1, "width"), 18))
    # with the downsample unit in between, the SE block sees its 32 channels: valid
    valid = NetworkSpec.from_dict(_mutate(tiny, ("stages", 0, "blocks", 1, "width"), 18))
    assert valid.stages[0].blocks[1].width == 18 and valid.stages[1].blocks[0].se


def test_unknown_and_missing_fields(tiny):
    data = tiny.to_dict()
    data["stages"][0]["blocks"][0]["colour"] = "red"
    with pytest.raises(SpecError, match="unknown field.*colour"):
        NetworkSpec.from_dict(data)
    data = tiny.to_dict()
    del data["stem"]
    with pytest.raises(SpecError, match="stem: required"):
        NetworkSpec.from_dict(data)


def test_malformed_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stem: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(bad)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.json")
    txt = tmp_path / "x.txt"
    txt.write_text("{}")
    with pytest.raises(SpecError, match=r"\.json, \.yaml"):
        load_spec(txt)


def test_file_errors_are_one_line_naming_the_file(tmp_path, tiny):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stem: {{{\n")
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)
    assert "line 2" in str(info.value)
    data = tiny.to_dict()
    data["stages"][0]["blocks"][0]["stride"] = 3
    stride = tmp_path / "stride.json"
    stride.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=rf"{stride}: .*stride.*got 3"):
        load_spec(stride)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(binary)


def test_load_spec_uses_file_stem_as_name(tmp_path, tiny):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**tiny.to_dict(), "name": ""}))
    assert load_spec(path).name == "mine"


def test_block_defaults_are_repvit():
    assert BlockSpec().kind == "repvit" and BlockSpec().expansion == 2.0


@pytest.mark.parametrize("suffix, text, needle", [
    (".yaml", "1: a\nfoo: b\nstem: {}\n", "unknown field(s) 1, foo"),
    (".json", '{"resolution": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    (".json", '{"stem": {"widths": ' + "[" * 900 + "]" * 900 + "}}", "expected an integer"),
    (".yaml", "resolution: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply")])
def test_odd_spec_files_end_in_one_line(tmp_path, capsys, suffix, text, needle):
    from explorer.cli import main

    path = tmp_path / f"odd{suffix}"
    path.write_text(text)
    assert main(["measure", "--spec", str(path), "--metrics", "params"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err and len(err) < 400
