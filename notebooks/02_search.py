# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (explorer venv)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A constrained search and its Pareto front
#
# Optuna searches widths, depths, SE placement and resolution around RepViT-M0.9
# (`search_spaces/repvit.yaml`), maximising the accuracy proxy subject to a latency budget
# measured on a real runtime. The budget is *relative*: RepViT-M1.0's own latency, measured here
# on the same backend in the same run ("find something better at M1.0's speed"), so the question
# is the same on every machine. Full settings: 10 trials, a few minutes on a CPU.
#
# The outputs shown were made by `EXPLORER_CACHE_DIR=$(mktemp -d) make notebooks` (full
# settings, backend ort, a fresh cache, a 2-core shared machine: latency figures are noisy).

# %%
from explorer.notebook import notebook_settings

S = notebook_settings()  # full settings; the test shrinks them (see explorer/notebook.py)
SMALL, OUT, MEASURE = S.small, S.out, S.measure
TRIALS = 4 if SMALL else 10
STUDY = "notebook"
# what a trial measures: MACs (an fvcore trace, the slowest metric) left out
SEARCH_METRICS = ("params", "latency", "proxy")
STORAGE = f"sqlite:///{OUT / 'search.db'}"
print(S, "trials:", TRIALS)

# %% [markdown]
# ## 1. The search space
#
# A YAML file says what varies around a base spec. The small setting uses a tiny inline space
# (same format, as a dict) so the notebook runs in seconds.

# %%
from pathlib import Path

from explorer.search_space import load_space, parse_space

if SMALL:
    space = parse_space({"base": "repvit_m0_9", "resolution": [32],
                         "widths": [[16, 24], [32, 48], [48, 64], [64, 96]],
                         "depths": [[1], [1], [1, 2], [1]],
                         "se": ["none", "alternate"]}, "tiny")
else:  # the repository root: the notebook may run from notebooks/ or from the root
    root = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "search_spaces").is_dir())
    space = load_space(root / "search_spaces" / "repvit.yaml")
print(Path(space.source).name, sorted(space.dims))

# %% [markdown]
# ## 2. A budget relative to a reference
#
# `budget_ref="MODEL[:FACTOR]"` (the CLI's `--budget-ref`) is FACTOR times the latency of MODEL
# (a zoo or timm name, or a spec file) measured like the trials: same backend, threads and
# machine. Here RepViT-M1.0 (full) or twice the tiny space's smallest network, saved as a spec
# file (small). `resolve_budget` shows the number the search will use.

# %%
from explorer.budget import resolve_budget

if SMALL:
    (OUT / "ref.json").write_text(space.smallest().to_json())
    BUDGET_REF = f"{OUT / 'ref.json'}:2"
else:
    BUDGET_REF = "repvit_m1_0"
print(f"budget on {S.backend}:", resolve_budget(BUDGET_REF, **MEASURE).describe())

# %% [markdown]
# ## 3. Search
#
# The study is stored in SQLite (re-running continues it, with the budget it stored); `workers=K`
# runs K processes, and a PostgreSQL URL spreads a study over many machines.

# %%
from explorer.search import run_search

result = run_search(space, None, TRIALS, budget_ref=BUDGET_REF, storage=STORAGE, study=STUDY,
                    seed=0, metrics=SEARCH_METRICS, progress=False, **MEASURE)
print(f"{result.n_done} trials under {result.budget.describe()}; this run took "
      f"{result.elapsed_s:.0f} s (measurements already cached are reused)")
result.best(5)[["trial", "proxy", "latency_ms", "params", "resolution", "widths", "depths",
                "se_blocks"]]

# %% [markdown]
# ## 4. The Pareto front
#
# Feasible trials no other feasible trial beats on both proxy and latency. The full setting
# also draws the zoo's reference models (MobileNetV3-L, RepViT-M0.9..M2.3) measured the same
# way; the budget line says where its number came from.

# %%
from IPython.display import Image, display

from explorer import report

view = report.load_study(STUDY, STORAGE)
refs = None if SMALL else report.study_references(view, progress=False, cache_dir=S.cache_dir)
png, svg = report.pareto_figure(view, OUT, references=refs)
display(result.pareto()[["trial", "proxy", "latency_ms", "widths", "depths"]])
Image(str(png))

# %% [markdown]
# ## 5. Take the best architecture with you
#
# Every trial stores its spec: rebuild it, save it, or export it
# (`explorer export --study ... --trial N`).

# %%
from explorer.build import build, deploy

top = result.best(1)  # empty when no trial met the budget: take the fastest
best = int(top.trial.iloc[0]) if len(top) else int(result.fastest().trial)
spec = result.spec(best)
(OUT / "best.json").write_text(spec.to_json())
model = deploy(build(spec).eval())
print(f"trial {best}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params "
      "deployed, spec saved as best.json")

# %% [markdown]
# The same search, its tables, report and dashboard from the command line:
#
# ```
# explorer search --space search_spaces/repvit.yaml --budget-ref repvit_m1_0 --trials 10 \
#     --metrics params,latency,proxy --study notebook --storage OUT/search.db
# explorer search --study notebook --storage OUT/search.db --show
# explorer report --study notebook --storage OUT/search.db --out OUT
# explorer dashboard --study notebook --storage OUT/search.db
# ```
