"""explorer roadmap: replay the RepViT roadmap edit by edit and write the table."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from explorer.commands._common import add_command, split_list

HELP = """Replay the paper's MobileNetV3-L -> RepViT-M0.9 roadmap as design edits and
measure every step (params, MACs, FLOPs, latency on the deployed model, accuracy proxy)
beside the paper's iPhone 12 latency and top-1. Writes roadmap.csv / roadmap.md /
roadmap.json (and roadmap_ablation.* with --ablate) under --out. --table se measures the
paper's SE-placement table (Table 7: RepViT-M0.9 and M1.5 with no SE, SE in every block,
cross-block SE) into se_table.*. Several comma-separated backends put one latency column
per backend side by side, each with its Kendall tau against the paper. Results are
cached: a second run is near instant.

examples:
  explorer roadmap                                 # ort, 1 thread, default proxy
  explorer roadmap --backend ort,torch --plot      # two latency columns, one figure
  explorer roadmap --table se --backend ort        # the paper's SE-placement table
  explorer roadmap --ablate                        # + leave-one-out table
  explorer roadmap --edits gelu,split_mixers,my_edits:no_se --out results/custom
  explorer roadmap --list-edits

--edits module:function imports the Python module (found in the current folder first, as
'python -m' finds it) and so runs its code: name only modules you trust."""


def register(sub: argparse._SubParsersAction) -> None:
    from explorer.commands import measure_options

    p = add_command(sub, "roadmap", help="reproduce the paper's roadmap table",
                    description=HELP)
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--table", choices=("roadmap", "se"), default="roadmap",
                   help="roadmap (default): the paper's roadmap steps; se: the paper's "
                        "SE-placement table (Table 7) as edits of RepViT-M0.9 and M1.5")
    p.add_argument("--ablate", action="store_true",
                   help="also write the leave-one-out ablation table")
    p.add_argument("--edits", default=None, metavar="LIST",
                   help="comma-separated edits to replay instead of the paper's "
                        "(registered names or module:function; module:function IMPORTS "
                        "AND RUNS that Python module, from the current folder like "
                        "'python -m' - only name code you trust)")
    p.add_argument("--base", default=None,
                   help="starting model: zoo name or spec file (default mobilenetv3_large_100)")
    p.add_argument("--resolution", type=int, default=None, metavar="PX",
                   help="input resolution for every step (default: the base's, 224)")
    p.add_argument("--no-control", action="store_true", help="omit the paper's control row")
    p.add_argument("--metrics", default="params,macs,flops,latency,proxy",
                   help="metrics to measure (default: params,macs,flops,latency,proxy)")
    p.add_argument("--plot", action="store_true", help="also draw the roadmap figure")
    p.add_argument("--list-edits", action="store_true", help="list registered edits and exit")
    measure_options.add(p, several_backends=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer import backend_columns, edits
    from explorer.commands import measure_options
    from explorer.files import check_writable
    from explorer.measure.backends.registry import get_backend

    if args.list_edits:
        for name, edit in edits.EDITS.items():
            print(f"{name:<22} {edit.description}")
        return 0
    opts = measure_options.options(args)
    for name in backend_columns.split(opts["backend"]):
        get_backend(name)  # a malformed list or an unknown name fails before measuring
    metrics = split_list(args.metrics, "--metrics")
    check_writable(args.out, "--out", folder=True)  # fail before the measurements
    if args.table == "se":
        written = _se_table(metrics, opts, args)
    else:
        written = _roadmap_table(metrics, opts, args)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _se_table(metrics: list[str], opts: dict[str, Any], args: argparse.Namespace
              ) -> list[Path]:
    from explorer import roadmap, tables
    from explorer.errors import ExplorerError

    roadmap_only = {"--edits": args.edits is not None, "--base": args.base is not None,
                    "--no-control": args.no_control, "--ablate": args.ablate,
                    "--plot": args.plot}
    given = [name for name, used in roadmap_only.items() if used]
    if given:
        raise ExplorerError(f"{', '.join(given)}: roadmap table only; --table se measures "
                            "the paper's fixed SE-placement rows")
    df = roadmap.run_se_table(metrics, resolution=args.resolution, **opts)
    agree = roadmap.se_agreement(df)
    md = tables.se_markdown(df, agree)
    print(md)
    return tables.write_table(df, md, args.out, "se_table",
                              {"agreement": agree, "rows": tables.json_rows(df)})


def _roadmap_table(metrics: list[str], opts: dict[str, Any], args: argparse.Namespace
                   ) -> list[Path]:
    from explorer import paper, roadmap, tables
    from explorer.candidate import resolve
    from explorer.errors import ExplorerError

    ref = args.base or "mobilenetv3_large_100"
    base = resolve(ref, resolution=args.resolution).spec
    if base is None:
        raise ExplorerError(f"--base {ref!r} must be a zoo model or a spec file "
                            "(timm models have no spec to edit)")
    steps = (paper.custom_steps(split_list(args.edits, "--edits"))
             if args.edits is not None else paper.roadmap_steps(not args.no_control))
    df = roadmap.run_roadmap(steps, base, metrics, **opts)
    agree = roadmap.agreement(df)
    md = tables.roadmap_markdown(df, agree)
    written = tables.write_table(df, md, args.out, "roadmap",
                                 {"agreement": agree, "rows": tables.json_rows(df)})
    print(md)
    if args.ablate:
        ab = roadmap.run_ablation(steps, base, metrics, **opts)
        ab_md = tables.ablation_markdown(ab)
        written += tables.write_table(ab, ab_md, args.out, "roadmap_ablation")
        print(ab_md)
    if args.plot:
        from explorer import plots

        written += plots.plot_roadmap(df, args.out)
    return written
