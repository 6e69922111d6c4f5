"""Both notebooks run top to bottom with small settings (EXPLORER_NB_SMALL=1), on a
kernel that is this interpreter (the venv's), in notebooks/ as a user would open them;
the committed notebooks carry no outputs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_roadmap.ipynb", "02_search.ipynb")


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


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
@pytest.mark.parametrize("name, produced", [
    ("01_roadmap.ipynb", ("roadmap.png", "roadmap.svg")),
    ("02_search.ipynb", ("pareto.png", "search.db", "best.json")),
])
def test_notebook_runs_top_to_bottom(name, produced, venv_kernel, tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
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
