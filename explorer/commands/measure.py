"""explorer measure: params, MACs (and, as backends land, latency and proxies) of one model."""
from __future__ import annotations

import argparse

from explorer.commands._common import (
    add_candidate_args,
    add_command,
    candidate_from_args,
    print_json,
    split_list,
)

HELP = """Measure one model: a zoo spec, any timm architecture, or a spec file.

Params and MACs are reported for the deployed (fused, single-head) model, as the paper
does; params_train / macs_train give the training form. MACs are multiply-accumulates
counted by fvcore (convolutions and linear layers): what the RepViT paper and timm call
FLOPs. The flops metric is 2 x MACs over the same operators (torch's convention).

examples:
  explorer measure --model repvit_m0_9 --json
  explorer measure --timm efficientnet_b0 --metrics params,macs,flops
  explorer measure --spec my_net.yaml
  explorer measure --list"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "measure", help="params, MACs, latency, proxy of one model",
                    description=HELP)
    add_candidate_args(p, required=False)
    p.add_argument("--metrics", default="params,macs",
                   help="comma-separated metrics (default: params,macs)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--list", action="store_true", help="list the zoo models and exit")
    from explorer.commands import measure_options

    measure_options.add(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer import zoo
    from explorer.errors import ExplorerError
    from explorer.measure import measure

    if args.list:
        print("\n".join(zoo.list_models()))
        return 0
    if not (args.model or args.timm or args.spec):
        raise ExplorerError("give one of --model NAME, --timm NAME or --spec FILE "
                            "(or --list to see the zoo)")
    from explorer.commands import measure_options

    candidate = candidate_from_args(args)
    metrics = split_list(args.metrics, "--metrics")
    row = measure(candidate, metrics, **measure_options.options(args))
    if args.json:
        print_json(row)
    else:
        width = max(len(k) for k in row)
        for key, value in row.items():
            if isinstance(value, int) and key.startswith(("params", "macs", "flops")):
                unit = 1e6 if key.startswith("params") else 1e9
                value = f"{value:,}  ({value / unit:.3f}{'M' if unit == 1e6 else 'G'})"
            print(f"{key:<{width}}  {value}")
    return 0
