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
