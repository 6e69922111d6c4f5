"""The import-linter contracts in pyproject.toml (run by `make test`) cover every module:
a new module left out of the layers would escape them silently."""
from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import tomllib

import explorer
import explorer.measure
import explorer.measure.backends

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli, which import-linter depends on there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["name"].split(":")[0]: c for c in config["contracts"]}


def _layer_names(contract: dict) -> set[str]:
    return {name.strip() for layer in contract["layers"]
            for name in layer.replace(":", "|").split("|")}


def test_every_package_module_is_in_a_layer():
    named = _layer_names(_contracts()["explorer"])
    modules = {f"explorer.{m.name}" for m in pkgutil.iter_modules(explorer.__path__)}
    modules.discard("explorer.data")  # package data (CSV, YAML), no code
    assert modules <= named, sorted(modules - named)


def test_every_measure_module_is_in_a_layer():
    named = _layer_names(_contracts()["measure"])
    modules = {m.name for m in pkgutil.iter_modules(explorer.measure.__path__)}
    backends = {f"backends.{m.name}"
                for m in pkgutil.iter_modules(explorer.measure.backends.__path__)}
    modules = (modules - {"backends"}) | backends
    assert modules <= named, sorted(modules - named)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return ({a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module})


def test_argparse_only_in_the_cli_layer():
    package = ROOT / "explorer"
    users = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                   if "argparse" in _imports(p))
    assert users and all(u == "cli.py" or u.startswith("commands/") for u in users), users
