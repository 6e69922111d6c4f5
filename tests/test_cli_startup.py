"""The CLI answers --help without importing torch, numpy or pandas (issue: 3-6 s help)."""
from __future__ import annotations

import subprocess
import sys


def test_building_the_parser_imports_no_heavy_library():
    code = ("import sys, explorer.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'optuna', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_public_api_still_resolves_lazily():
    import explorer

    assert explorer.get_spec("repvit_m0_9").name == "repvit_m0_9"
    assert set(explorer.__all__) <= set(dir(explorer))
    try:
        explorer.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")


def test_exported_function_wins_over_its_submodule():
    """``explorer.build`` is a function and a submodule; importing the submodule first must
    not turn ``from explorer import build`` into the module (it did under lazy exports)."""
    code = ("import types, explorer.build; from explorer import build, deploy; "
            "import explorer; assert not isinstance(build, types.ModuleType), build; "
            "assert explorer.build is build and callable(deploy); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
