"""explorer latency: bring in latencies measured on devices explorer cannot drive."""
from __future__ import annotations

import argparse

from explorer.commands._common import add_cache_dir, add_command, print_json, print_table

HELP = """Import latencies measured elsewhere (e.g. an iPhone with Xcode's Core ML
performance report on packages from 'explorer export --format coreml').

The CSV needs the columns model (zoo name, roadmap step id or 16-hex spec hash) and
latency_ms; resolution and note are optional. The whole file is validated before anything
is stored. Afterwards '--backend device:NAME' reads the numbers in measure, roadmap and
search.

examples:
  explorer latency import iphone12.csv --device iphone12
  explorer measure --model repvit_m0_9 --metrics latency --backend device:iphone12"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "latency", help="import latencies measured on a device",
                    description=HELP)
    lat_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = add_command(lat_sub, "import", help="import a CSV of device latencies",
                      description=HELP)
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--device", required=True, help="device name, used as device:NAME")
    add_cache_dir(imp)
    imp.add_argument("--json", action="store_true", help="print the imported rows as JSON")
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from explorer.measure.device import import_latencies

    rows = import_latencies(args.file, args.device, args.cache_dir)
    if args.json:
        print_json({"device": args.device, "imported": len(rows), "rows": rows})
    else:
        print_table(rows, ["model", "resolution", "latency_ms", "id", "note"])
        print(f"imported {len(rows)} latencies for device {args.device!r}; "
              f"use --backend device:{args.device}")
    return 0
