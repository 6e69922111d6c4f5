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
# # The RepViT roadmap, edit by edit
#
# The paper turns MobileNetV3-L into RepViT-M0.9 in ten steps. In explorer each step is a small
# named **design edit** (`NetworkSpec -> NetworkSpec`), so the roadmap is a list you can replay,
# extend with your own edits, and ablate.
#
# Full settings measure params, MACs, latency (on the deployed, fused model) and the accuracy
# proxy of every step at 224 px: a few minutes on a laptop CPU, cached afterwards.
#
# The outputs shown were made by `EXPLORER_CACHE_DIR=$(mktemp -d) make notebooks` (full
# settings, backend ort, a fresh cache, a 2-core shared machine: latency figures are noisy,
# read their ratios).

# %%
from explorer.notebook import notebook_settings

S = notebook_settings()  # full settings; the test shrinks them (see explorer/notebook.py)
SMALL, OUT, MEASURE = S.small, S.out, S.measure
RESOLUTION = 64 if SMALL else 224
METRICS = ["params"] if SMALL else ["params", "macs", "latency", "proxy"]
# MACs (an fvcore trace, the slowest metric) are left out of the ablation
ABLATION_METRICS = ["params"] if SMALL else ["params", "latency", "proxy"]
print(S, "metrics:", METRICS)

# %% [markdown]
# ## 1. The edits and the steps
#
# Every registered edit has a one-line description taken from the paper's step.

# %%
from explorer import edits, paper, roadmap, zoo

for name, edit in edits.EDITS.items():
    print(f"{name:<20} {edit.description}")

# %% [markdown]
# Replaying the steps is pure data work (no torch): each step applies its edits to the previous
# step's spec. Watch the shape change.

# %%
base = zoo.get_spec("mobilenetv3_large_100").replace(resolution=RESOLUTION)
steps = paper.roadmap_steps()

def shape(spec):
    widths = [st.blocks[-1].width for st in spec.stages]
    kinds = sorted({b.kind for _, _, b in spec.iter_blocks()})
    kernels = sorted({b.kernel for _, _, b in spec.iter_blocks()})
    se = sum(b.se for _, _, b in spec.iter_blocks())
    return (f"stem {spec.stem.kind:<10} blocks {'/'.join(kinds):<6} k{kernels} "
            f"depths {spec.depths} widths {widths} SE {se:>2} head {spec.head.kind}")

for step, spec in paper.step_specs(steps, base):
    print(f"{step.id:>6}  {'+'.join(step.edits):<20} {shape(spec)}")

# %% [markdown]
# ## 2. Measure every step beside the paper's numbers
#
# `run_roadmap` returns a DataFrame; results are cached by spec, backend, threads and machine, so
# re-running is instant. The paper's latency is an iPhone 12 (Core ML), ours is this machine:
# compare the *ratios to step 0*.

# %%
df = roadmap.run_roadmap(steps, base, METRICS, progress=False, **MEASURE)
cols = [c for c in ("step", "title", "params", "macs", "latency_ms", "latency_rel", "proxy",
                    "paper_latency_ms", "paper_latency_rel", "paper_top1") if c in df]
df[cols]

# %%
from IPython.display import Image, Markdown, display

from explorer import plots, tables

display(Markdown(tables.roadmap_markdown(df, roadmap.agreement(df))))
png, svg = plots.plot_roadmap(df, OUT)
Image(str(png))

# %% [markdown]
# ## 3. Write your own edit and compose it
#
# An edit is a function from spec to spec. Specs are frozen dataclasses, so `dataclasses.replace`
# builds the new one; `edits.register` makes it usable by name (also from the CLI, as
# `module:function`, e.g. `explorer roadmap --edits
# gelu,split_mixers,tests.fixtures.my_edits:no_se`).

# %%
import dataclasses


@edits.register("kernel_5x5", "Kernel size: every depthwise conv 5x5")
def kernel_5x5(spec):
    """The opposite of the paper's step 8: larger kernels everywhere."""
    stages = tuple(
        dataclasses.replace(st, blocks=tuple(dataclasses.replace(b, kernel=5)
                                             for b in st.blocks))
        for st in spec.stages)
    return dataclasses.replace(spec, stages=stages)

repvit_0_9 = {s.id: spec for s, spec in paper.step_specs(steps, base)}["9"]
mine = edits.apply(repvit_0_9, ["kernel_5x5"])
shape(repvit_0_9), shape(mine)

# %% [markdown]
# Measure both the same way (`explorer.measure.measure` takes any candidate: a spec, a zoo name, a
# timm model or an `nn.Module`).

# %%
import pandas as pd

from explorer.candidate import from_spec
from explorer.measure import measure

pd.DataFrame([measure(from_spec(s, name), METRICS, **MEASURE)
              for name, s in [("step 9", repvit_0_9), ("step 9 + kernel_5x5", mine)]])

# %% [markdown]
# Compositions that make no sense fail with a message naming the edit and its precondition, never
# deep inside torch:

# %%
from explorer.errors import EditError

try:
    edits.apply(base, ["split_mixers", "split_mixers"])
except EditError as exc:
    print("EditError:", exc)

# %% [markdown]
# A roadmap of your own is a list of edit names: `paper.custom_steps([...])` gives steps for
# `run_roadmap`.

# %%
mine_steps = paper.custom_steps(["gelu", "split_mixers", "kernel_5x5"])
mine_df = roadmap.run_roadmap(mine_steps, base, METRICS, progress=False, **MEASURE)
mine_df[[c for c in ("step", "title", "params", "latency_ms", "proxy") if c in mine_df]]

# %% [markdown]
# ## 4. Ablate: the full roadmap minus one edit
#
# Which step matters? Remove each edit in turn from the full path and measure again. A row whose
# remaining edits cannot apply says why.

# %%
ab = roadmap.run_ablation(None, base, ABLATION_METRICS, progress=False, **MEASURE)
display(Markdown(tables.ablation_markdown(ab)))
