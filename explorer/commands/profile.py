"""explorer profile: where a network's time goes on a device, operator by operator."""
from __future__ import annotations

import argparse

from explorer.commands._common import (
    add_cache_dir,
    add_candidate_args,
    add_command,
    candidate_from_args,
    print_json,
    print_table,
)

HELP = """Trace the deployed network at batch 1, list every executed operator (class,
shape, MACs, weight and activation bytes at the profile's precision) with its predicted
time and share on a device profile, then the totals per operator class. Fused
operators (a norm or activation folded into the conv before it) and constant-folded
ones cost nothing and are left out; operators the classifier does not know are
counted as 'other' and listed.

examples:
  explorer profile --model repvit_m0_9                      # iphone12, top 25 ops
  explorer profile --timm efficientformer_l1 --top 0        # every operator
  explorer profile --spec my_net.yaml --device pixel8 --json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "profile", help="per-operator predicted time on a device",
                    description=HELP)
    add_candidate_args(p)
    p.add_argument("--device", default="iphone12", metavar="PROFILE",
                   help="device profile name or file (default iphone12)")
    p.add_argument("--top", type=int, default=25, metavar="N",
                   help="show the N slowest operators (0: all, in execution order)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_cache_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.errors import ExplorerError
    from explorer.measure.devicemodel import op_times_ms, predict_ms
    from explorer.measure.opcost import CLASSES, opcost
    from explorer.measure.profiles import load

    if args.top < 0:
        raise ExplorerError(f"--top must be 0 (all) or a positive count, got {args.top}")
    prof = load(args.device, args.cache_dir)
    candidate = candidate_from_args(args)
    cost = opcost(candidate, prof.precision, cache_dir=args.cache_dir)
    total = predict_ms(prof.parameters, cost)
    times = op_times_ms(prof.parameters, cost)
    ops = [{"#": op.index, "module": op.module, "op": op.aten, "class": op.cls,
            "kind": op.kind, "shape": "x".join(map(str, op.shape)),
            "MMACs": round(op.macs / 1e6, 2), "weight_KB": round(op.weight_bytes / 1e3, 1),
            "act_KB": round(op.act_bytes / 1e3, 1), "ms": round(t, 4),
            "share_pct": round(100 * t / total, 2)}
           for op, t in zip(cost.ops, times, strict=True) if op.executed]
    by_class = []
    for cls in CLASSES:
        members = [o for o in ops if o["class"] == cls]
        if members:
            ms = sum(o["ms"] for o in members)
            by_class.append({"class": cls, "ops": len(members),
                             "MMACs": round(sum(o["MMACs"] for o in members), 1),
                             "ms": round(ms, 4), "share_pct": round(100 * ms / total, 1)})
    fixed = prof.parameters.get("fixed_ms", 0.0)
    other = sorted({o["op"] for o in ops if o["class"] == "other"})
    if args.json:
        print_json({"name": candidate.name, "profile": prof.name, "latency_ms": total,
                    "fixed_ms": fixed, "ops": ops, "classes": by_class, "other_ops": other})
        return 0
    shown = sorted(ops, key=lambda o: -o["ms"])[:args.top] if args.top else ops
    print_table(shown)
    print()
    print_table(by_class)
    print(f"\n{candidate.name} on {prof.name}: {total:.3f} ms predicted "
          f"({fixed:.3f} ms fixed per inference + {len(ops)} operators; "
          f"{sum(not o.executed for o in cost.ops)} fused or folded)")
    if other:
        print(f"operators the classifier does not know (counted as 'other'): "
              f"{', '.join(other)}")
    return 0
