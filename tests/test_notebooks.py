"""The notebooks: their source is a jupytext py:percent file paired with the committed
.ipynb (same cells), the committed .ipynb is executed with full settings (so a repository
page shows its tables and figures), and both run top to bottom with small settings
(EXPLORER_NB_SMALL=1) on a kernel that is this interpreter, in notebooks/ as a user would
open them."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
STEMS = ("01_roadmap", "02_search")


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


@pytest.mark.parametrize("stem", STEMS)
def test_py_and_ipynb_are_paired_and_agree(stem):
    text = jupytext.read(NOTEBOOKS / f"{stem}.py")
    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    assert text.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert _cells(text) == _cells(nb), f"{stem}.py and {stem}.ipynb differ: run make notebooks"


@pytest.mark.parametrize("stem", STEMS)
def test_committed_notebooks_are_executed_with_full_settings(stem):
    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure shown"
    assert "small=False" in "".join(o.get("text", "") for o in code[0].outputs)


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch):
    """A kernelspec running ``sys.executable`` (so the notebook sees the installed
    explorer, whatever kernels the machine has), found through JUPYTER_PATH."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "explorer-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "explorer test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("EXPLORER_NB_SMALL", "1")
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EXPLORER_NB_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    return "explorer-test"


@pytest.mark.slow
@pytest.mark.parametrize("stem, produced", [
    ("01_roadmap", ("roadmap.png", "roadmap.svg")),
    ("02_search", ("pareto.png", "search.db", "best.json")),
])
def test_notebook_runs_top_to_bottom(stem, produced, venv_kernel, tmp_path):
    from nbclient import NotebookClient

    nb = jupytext.read(NOTEBOOKS / f"{stem}.py")  # the source, not the committed outputs
    NotebookClient(nb, kernel_name=venv_kernel, timeout=300,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    for file in produced:
        assert (tmp_path / "out" / file).stat().st_size > 0, file
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
    assert "small=True" in text
