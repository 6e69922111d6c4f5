"""Writes notebooks/01_roadmap.ipynb and notebooks/02_search.ipynb (outputs stripped).

The notebooks are generated so their text lives in one reviewable place and git never
sees outputs. Edit the cells here, then run:  .venv/bin/python notebooks/build_notebooks.py
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
md, code = new_markdown_cell, new_code_cell

#: shared first code cell: settings a test (or you) can override through the environment
SETUP = '''\
import os, tempfile
from pathlib import Path

# Settings. EXPLORER_NB_SMALL=1 shrinks everything so the notebook runs in about a minute
# (the test does that); EXPLORER_CACHE_DIR / EXPLORER_NB_OUT choose where caches/outputs go.
SMALL = os.environ.get("EXPLORER_NB_SMALL") == "1"
BACKEND = os.environ.get("EXPLORER_NB_BACKEND", "ort")  # ort | torch | lut | ...
PROXY = os.environ.get("EXPLORER_NB_PROXY", "default")
CACHE_DIR = os.environ.get("EXPLORER_CACHE_DIR") or None  # None: ~/.cache/explorer
OUT = Path(os.environ.get("EXPLORER_NB_OUT") or tempfile.mkdtemp(prefix="explorer-nb-"))
OUT.mkdir(parents=True, exist_ok=True)
# the repository root (the notebook may run from notebooks/ or from the root)
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "search_spaces").is_dir())
MEASURE = dict(backend=BACKEND, threads=1, proxy=PROXY, cache_dir=CACHE_DIR)
'''


def roadmap_cells() -> list[nbformat.NotebookNode]:
    return [
        md("# The RepViT roadmap, edit by edit\n\n"
           "The paper turns MobileNetV3-L into RepViT-M0.9 in ten steps. In explorer each "
           "step is a small named **design edit** (`NetworkSpec -> NetworkSpec`), so the "
           "roadmap is a list you can replay, extend with your own edits, and ablate.\n\n"
           "Full settings measure params, MACs, latency (on the deployed, fused model) and "
           "the accuracy proxy of every step at 224 px: a few minutes on a laptop CPU, "
           "cached afterwards."),
        code(SETUP + 'RESOLUTION = 64 if SMALL else 224\n'
             'METRICS = ["params"] if SMALL else ["params", "macs", "latency", "proxy"]\n'
             '# MACs (an fvcore trace, the slowest metric) are left out of the ablation\n'
             'ABLATION_METRICS = ["params"] if SMALL else ["params", "latency", "proxy"]\n'
             'print(f"small={SMALL} backend={BACKEND} metrics={METRICS} out={OUT}")'),
        md("## 1. The edits and the steps\n\nEvery registered edit has a one-line "
           "description taken from the paper's step."),
        code("from explorer import edits, roadmap, zoo\n\n"
             "for name, edit in edits.EDITS.items():\n"
             "    print(f\"{name:<20} {edit.description}\")"),
        md("Replaying the steps is pure data work (no torch): each step applies its edits "
           "to the previous step's spec. Watch the shape change."),
        code('base = zoo.get_spec("mobilenetv3_large_100").replace(resolution=RESOLUTION)\n'
             "steps = roadmap.roadmap_steps()\n\n"
             "def shape(spec):\n"
             "    widths = [st.blocks[-1].width for st in spec.stages]\n"
             "    kinds = sorted({b.kind for _, _, b in spec.iter_blocks()})\n"
             "    kernels = sorted({b.kernel for _, _, b in spec.iter_blocks()})\n"
             "    se = sum(b.se for _, _, b in spec.iter_blocks())\n"
             "    return (f\"stem {spec.stem.kind:<10} blocks {'/'.join(kinds):<6} k{kernels} \"\n"
             "            f\"depths {spec.depths} widths {widths} SE {se:>2} head {spec.head.kind}\")\n\n"
             "for step, spec in roadmap.step_specs(steps, base):\n"
             "    print(f\"{step.id:>6}  {'+'.join(step.edits):<20} {shape(spec)}\")"),
        md("## 2. Measure every step beside the paper's numbers\n\n"
           "`run_roadmap` returns a DataFrame; results are cached by spec, backend, threads "
           "and machine, so re-running is instant. The paper's latency is an iPhone 12 "
           "(Core ML), ours is this machine: compare the *ratios to step 0*."),
        code("df = roadmap.run_roadmap(steps, base, METRICS, **MEASURE)\n"
             "cols = [c for c in (\"step\", \"title\", \"params\", \"macs\", \"latency_ms\", "
             "\"latency_rel\", \"proxy\",\n"
             "                    \"paper_latency_ms\", \"paper_latency_rel\", \"paper_top1\") "
             "if c in df]\n"
             "df[cols]"),
        code("from IPython.display import Image, Markdown, display\n"
             "from explorer import plots, tables\n\n"
             "display(Markdown(tables.roadmap_markdown(df, roadmap.agreement(df))))\n"
             "png, svg = plots.plot_roadmap(df, OUT)\n"
             "Image(str(png))"),
        md("## 3. Write your own edit and compose it\n\n"
           "An edit is a function from spec to spec. Specs are frozen dataclasses, so "
           "`dataclasses.replace` builds the new one; `edits.register` makes it usable by "
           "name (also from the CLI, as `module:function`, e.g. "
           "`explorer roadmap --edits gelu,split_mixers,tests.fixtures.my_edits:no_se`)."),
        code("import dataclasses\n\n"
             "@edits.register(\"kernel_5x5\", \"Kernel size: every depthwise conv 5x5\")\n"
             "def kernel_5x5(spec):\n"
             "    \"\"\"The opposite of the paper's step 8: larger kernels everywhere.\"\"\"\n"
             "    stages = tuple(\n"
             "        dataclasses.replace(st, blocks=tuple(dataclasses.replace(b, kernel=5)\n"
             "                                             for b in st.blocks))\n"
             "        for st in spec.stages)\n"
             "    return dataclasses.replace(spec, stages=stages)\n\n"
             "repvit_0_9 = {s.id: spec for s, spec in roadmap.step_specs(steps, base)}[\"9\"]\n"
             "mine = edits.apply(repvit_0_9, [\"kernel_5x5\"])\n"
             "shape(repvit_0_9), shape(mine)"),
        md("Measure both the same way (`explorer.measure.measure` takes any candidate: "
           "a spec, a zoo name, a timm model or an `nn.Module`)."),
        code("import pandas as pd\n"
             "from explorer.candidate import from_spec\n"
             "from explorer.measure import measure\n\n"
             "pd.DataFrame([measure(from_spec(s, name), METRICS, **MEASURE)\n"
             "              for name, s in [(\"step 9\", repvit_0_9), "
             "(\"step 9 + kernel_5x5\", mine)]])"),
        md("Compositions that make no sense fail with a message naming the edit and its "
           "precondition, never deep inside torch:"),
        code("from explorer.errors import EditError\n\n"
             "try:\n"
             "    edits.apply(base, [\"split_mixers\", \"split_mixers\"])\n"
             "except EditError as exc:\n"
             "    print(\"EditError:\", exc)"),
        md("A roadmap of your own is a list of edit names: "
           "`roadmap.custom_steps([...])` gives steps for `run_roadmap`."),
        code("mine_steps = roadmap.custom_steps([\"gelu\", \"split_mixers\", \"kernel_5x5\"])\n"
             "mine_df = roadmap.run_roadmap(mine_steps, base, METRICS, **MEASURE)\n"
             "mine_df[[c for c in (\"step\", \"title\", \"params\", \"latency_ms\", "
             "\"proxy\") if c in mine_df]]"),
        md("## 4. Ablate: the full roadmap minus one edit\n\n"
           "Which step matters? Remove each edit in turn from the full path and measure "
           "again. A row whose remaining edits cannot apply says why."),
        code("ab = roadmap.run_ablation(None, base, ABLATION_METRICS, **MEASURE)\n"
             "display(Markdown(tables.ablation_markdown(ab)))"),
    ]


def search_cells() -> list[nbformat.NotebookNode]:
    return [
        md("# A constrained search and its Pareto front\n\n"
           "Optuna searches widths, depths, SE placement and resolution around "
           "RepViT-M0.9 (`search_spaces/repvit.yaml`), maximising the accuracy proxy "
           "subject to a latency budget measured on a real runtime. Full settings: 12 "
           "trials at 192-224 px with the budget set to RepViT-M1.0's own latency on this "
           "machine (\"find something better at M1.0's speed\"), a few minutes on a CPU."),
        code(SETUP + 'TRIALS = 4 if SMALL else 12\nSTUDY = "notebook"\n'
             '# what a trial measures: MACs (an fvcore trace, the slowest metric) left out\n'
             'SEARCH_METRICS = ("params", "latency", "proxy")\n'
             'STORAGE = f"sqlite:///{OUT / \'search.db\'}"\n'
             'print(f"small={SMALL} backend={BACKEND} trials={TRIALS} out={OUT}")'),
        md("## 1. The search space\n\nA YAML file says what varies around a base spec. "
           "The small setting uses a tiny inline space (same format, as a dict) so the "
           "notebook runs in seconds."),
        code("from explorer.search_space import load_space, parse_space\n\n"
             "if SMALL:\n"
             "    space = parse_space({\"base\": \"repvit_m0_9\", \"resolution\": [32],\n"
             "                         \"widths\": [[16, 24], [32, 48], [48, 64], [64, 96]],\n"
             "                         \"depths\": [[1], [1], [1, 2], [1]],\n"
             "                         \"se\": [\"none\", \"alternate\"]}, \"tiny\")\n"
             "else:\n"
             "    space = load_space(ROOT / \"search_spaces\" / \"repvit.yaml\")\n"
             "print(space.source, sorted(space.dims))"),
        md("## 2. A budget\n\nThe budget is in ms on *this* machine and backend. Here: the "
           "measured latency of RepViT-M1.0 (full: \"the best proxy at M1.0's speed\") or "
           "twice the space's smallest network (small)."),
        code("from explorer.candidate import from_spec, resolve\n"
             "from explorer.measure import measure\n\n"
             "ref = from_spec(space.smallest()) if SMALL else resolve(\"repvit_m1_0\")\n"
             "ref_ms = measure(ref, [\"latency\"], **MEASURE)[\"latency_ms\"]\n"
             "BUDGET_MS = round(2 * ref_ms if SMALL else ref_ms, 3)\n"
             "print(f\"budget: {BUDGET_MS} ms on {BACKEND}\")"),
        md("## 3. Search\n\nThe study is stored in SQLite (re-running continues it); "
           "`workers=K` runs K processes, and a PostgreSQL URL spreads a study over many "
           "machines."),
        code("from explorer.search import run_search\n\n"
             "result = run_search(space, BUDGET_MS, TRIALS, storage=STORAGE, study=STUDY,\n"
             "                    seed=0, metrics=SEARCH_METRICS, **MEASURE)\n"
             "print(f\"{result.n_done} trials in {result.elapsed_s:.0f} s\")\n"
             "result.best(5)[[\"trial\", \"proxy\", \"latency_ms\", \"params\", "
             "\"resolution\", \"widths\", \"depths\", \"se_blocks\"]]"),
        md("## 4. The Pareto front\n\nFeasible trials no other feasible trial beats on "
           "both proxy and latency. The full setting also draws the zoo's reference models "
           "(MobileNetV3-L, RepViT-M0.9..M2.3) measured the same way."),
        code("from IPython.display import Image\n"
             "from explorer import report\n\n"
             "view = report.load_study(STUDY, STORAGE)\n"
             "refs = None if SMALL else report.study_references(view, cache_dir=CACHE_DIR)\n"
             "png, svg = report.pareto_figure(view, OUT, references=refs)\n"
             "display(result.pareto()[[\"trial\", \"proxy\", \"latency_ms\", \"widths\", "
             "\"depths\"]])\n"
             "Image(str(png))"),
        md("## 5. Take the best architecture with you\n\nEvery trial stores its spec: "
           "rebuild it, save it, or export it (`explorer export --study ... --trial N`)."),
        code("from explorer.build import build, deploy\n\n"
             "top = result.best(1)  # empty when no trial met the budget: take the fastest\n"
             "best = int(top.trial.iloc[0]) if len(top) else int(result.fastest().trial)\n"
             "spec = result.spec(best)\n"
             "(OUT / \"best.json\").write_text(spec.to_json())\n"
             "model = deploy(build(spec).eval())\n"
             "print(f\"trial {best}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M \"\n"
             "      f\"params deployed, spec saved to {OUT / 'best.json'}\")"),
        md("The same study from the command line:\n\n"
           "```\nexplorer search --study notebook --storage <OUT>/search.db --show\n"
           "explorer report --study notebook --storage <OUT>/search.db --out <OUT>\n```"),
    ]


def _metadata() -> dict:
    return {"kernelspec": {"name": "python3", "display_name": "Python 3 (explorer venv)",
                           "language": "python"},
            "language_info": {"name": "python"}}


NOTEBOOKS = {"01_roadmap.ipynb": roadmap_cells, "02_search.ipynb": search_cells}


def main() -> None:
    for name, make in NOTEBOOKS.items():
        nb = new_notebook(cells=make(), metadata=_metadata())
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"c{i:02d}"  # stable ids: regenerating gives identical files
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
