"""explorer bench cost: the command line of :mod:`explorer.bench.cost`."""
from __future__ import annotations

import argparse

from explorer.bench import cost as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "cost", help="per-candidate seconds: build, fuse, export, timing",
                    description=bench.__doc__)
    p.add_argument("--backend", default="ort", help="runtime (default ort)")
    p.add_argument("--models", default=None,
                   help="comma-separated zoo models (default: the whole zoo)")
    add_bench_out(p, "cost")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from explorer import zoo
    from explorer.commands._common import split_list
    from explorer.files import check_writable

    check_writable(args.out, "--out")
    models = split_list(args.models, "--models") if args.models else zoo.list_models()
    result = bench.run_bench(models, args.backend, progress=sys.stderr.isatty())
    write_json(args.out, result)
    print(f"{'model':<24}{'threads':>8}" + "".join(f"{k:>8}" for k in bench.STEPS))
    for name, per in result["models"].items():
        for label, row in per.items():
            print(f"{name:<24}{label.split('_')[1]:>8}" + "".join(f"{row[k]:>8.2f}"
                                                               for k in bench.STEPS))
    print(f"wrote {args.out}")
    return 0
