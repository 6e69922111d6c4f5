"""One registry mechanism (explorer.registry.Registry) behind metrics, proxies, latency
backends, edits and zoo models: duplicates refused, unknown names answered with the
closest ones and every choice, "module:attribute" entries imported on first use."""
from __future__ import annotations

import sys

import pytest

from explorer import edits, zoo
from explorer.errors import (
    BackendError,
    DuplicateNameError,
    EditError,
    ExplorerError,
    ProxyError,
    UnknownModelError,
)
from explorer.measure import METRICS
from explorer.measure.backends.registry import PREFIXED, get_backend
from explorer.measure.backends.runtimes import RUNTIMES
from explorer.measure.proxy import PROXIES
from explorer.registry import Registry, resolve


def test_register_lookup_and_duplicate():
    reg: Registry[int] = Registry("colour", EditError)
    reg.add("red", 1)
    assert reg.register("green")(2) == 2
    assert reg.get("red") == 1 and list(reg) == ["red", "green"] and "green" in reg
    with pytest.raises(DuplicateNameError, match="colour 'red' is registered twice"):
        reg.add("red", 3)
    assert reg.get("red") == 1  # the first registration stands
    with pytest.raises(EditError, match=r"unknown colour 'rde'; did you mean red\?; "
                                        r"choose from red, green"):
        reg.get("rde")
    with pytest.raises(EditError, match=r"unknown colour 'blue'; choose from red, green$"):
        reg.get("blue")
    assert reg.get("blue", None) is None


def test_module_attribute_entries_are_imported_on_first_use(monkeypatch):
    reg: Registry[str] = Registry("thing")
    reg.add("dumps", "json:dumps")
    monkeypatch.delitem(sys.modules, "json")
    assert "json" not in sys.modules  # registering imported nothing
    dumps = reg.load("dumps")
    assert dumps({"a": 1}) == '{"a": 1}' and resolve("json:dumps") is dumps


@pytest.mark.parametrize("registry, name, error", [
    (METRICS, "latency", ExplorerError),
    (PROXIES, "synflow", ProxyError),
    (RUNTIMES, "ort", BackendError),
    (PREFIXED, "lut", BackendError),
    (edits.EDITS, "gelu", EditError),
    (zoo.MODELS, "repvit_m0_9", UnknownModelError),
])
def test_all_five_registries_refuse_a_taken_name(registry, name, error):
    assert isinstance(registry, Registry) and registry.error is error
    with pytest.raises(DuplicateNameError, match=f"'{name}' is registered twice"):
        registry.add(name, object())


def test_edit_and_zoo_decorators_refuse_a_taken_name():
    with pytest.raises(DuplicateNameError, match="edit 'gelu'"):
        edits.register("gelu", "another gelu")(lambda spec: spec)

    def repvit_m0_9():
        return zoo.repvit((8, 16), (1, 1))

    with pytest.raises(DuplicateNameError, match="zoo model 'repvit_m0_9'"):
        zoo.register(repvit_m0_9)
    assert zoo.get_spec("repvit_m0_9").stages[0].width == 48  # the shipped one stands


def test_unknown_names_suggest_across_the_registries():
    with pytest.raises(BackendError, match="unknown latency backend 'otr'; did you mean ort"):
        get_backend("otr")
    with pytest.raises(ExplorerError, match="unknown metric 'latncy'; did you mean latency"):
        METRICS.load("latncy")
    with pytest.raises(EditError, match="unknown edit 'gleu'; did you mean gelu"):
        edits.get_edit("gleu")
