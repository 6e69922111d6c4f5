"""explorer export: write a model's deployed (fused) form as ONNX, Core ML or TorchScript."""
from __future__ import annotations

import argparse
import sys

from explorer.commands._common import (
    add_candidate_args,
    add_command,
    candidate_from_args,
    print_json,
)

HELP = """Export the deployed (fused) model, exactly what explorer times.

--out is a file with the format's suffix (.onnx, .mlpackage, .pt) or a folder (the file is
then named after the model). Core ML packages are ML programs (minimum target iOS 16) and
are written on any OS: profile them on an iPhone with Xcode's Core ML performance report
and import the numbers with 'explorer latency import'.

examples:
  explorer export --model repvit_m0_9 --format onnx --out repvit_m0_9.onnx
  explorer export --timm efficientnet_b0 --format torchscript --out exports/
  explorer export --roadmap --format coreml --out packages/
  explorer export --study repvit-demo --trial 12 --format onnx --out exports/"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "export", help="export the deployed model (onnx, coreml, torchscript)",
                    description=HELP)
    add_candidate_args(p, required=False)
    p.add_argument("--roadmap", action="store_true",
                   help="export every roadmap step (one file each, into the --out folder)")
    p.add_argument("--study", metavar="NAME", help="a search study: export its --trial "
                   "(see 'explorer search --show')")
    p.add_argument("--trial", type=int, metavar="N", help="trial number within --study")
    p.add_argument("--storage", default=None, metavar="URL", help="the study's storage "
                   "(default sqlite:///results/search.db)")
    p.add_argument("--format", required=True, choices=["onnx", "coreml", "torchscript"])
    p.add_argument("--out", required=True, help="output file or folder")
    p.add_argument("--json", action="store_true", help="print the written paths as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from explorer.candidate import from_spec
    from explorer.errors import ExplorerError
    from explorer.export import export

    chosen = bool(args.model or args.timm or args.spec or args.study)
    if chosen == args.roadmap:
        raise ExplorerError("give exactly one of --model, --timm, --spec, --study or "
                            "--roadmap")
    if args.roadmap:
        from pathlib import Path

        from explorer.export import FORMATS
        from explorer.paper import roadmap_specs

        if Path(args.out).suffix == FORMATS[args.format][0]:
            raise ExplorerError(f"--roadmap writes one file per step: --out must be a "
                                f"folder, not {args.out}")

        candidates = [from_spec(spec, name=f"step_{step}") for step, spec in roadmap_specs()]
    elif args.study:
        from explorer.search import trial_candidate, trial_failure

        candidates = [trial_candidate(args.storage, args.study, args.trial)]
        error = trial_failure(args.storage, args.study, args.trial)
        if error is not None:
            print(f"explorer export: warning: trial {args.trial} of study {args.study!r} "
                  f"failed ({error}), so it was never measured; exporting its spec anyway",
                  file=sys.stderr)
    else:
        candidates = [candidate_from_args(args)]
    written = []
    for candidate in tqdm(candidates, desc=f"export {args.format}", unit="model",
                          disable=len(candidates) == 1):
        written.append({"name": candidate.name,
                        "path": str(export(candidate, args.format, args.out))})
    if args.json:
        print_json(written)
    else:
        for row in written:
            print(f"{row['name']}: {row['path']}")
    return 0
