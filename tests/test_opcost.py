"""Operator features: hand-counted classes, MACs and bytes of a tiny net; fusion rules."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.candidate import from_module, resolve
from explorer.measure.opcost import OpCost, opcost, trace_ops


class Tiny(nn.Module):
    """conv3x3(3->8, no bias) + BN + ReLU, depthwise 3x3 with a residual add, global mean,
    linear 8->4, softmax: every count below is done by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn(self.conv(x)))
        z = self.dw(y) + y
        return F.softmax(self.fc(z.mean((2, 3))), dim=-1)


def _by_class(ops):
    return {op.cls: op for op in ops if op.executed}


def test_hand_counted_tiny_net_fp16():
    ops = trace_ops(Tiny().eval(), torch.randn(1, 3, 8, 8), "fp16")
    got = _by_class(ops)
    assert sorted(got) == ["conv", "dwconv", "elementwise", "linear", "pool", "softmax"]
    conv, dw, add, fc = got["conv"], got["dwconv"], got["elementwise"], got["linear"]
    assert (conv.macs, conv.weight_bytes, conv.in_bytes, conv.out_bytes) == (
        8 * 8 * 8 * 3 * 9, 216 * 2, 3 * 64 * 2, 8 * 64 * 2)
    assert conv.kind == "3x3" and conv.shape == (1, 8, 8, 8)
    assert (dw.macs, dw.weight_bytes) == (8 * 64 * 9, (72 + 8) * 2)
    assert (add.macs, add.in_bytes, add.out_bytes) == (0, 2 * 512 * 2, 512 * 2)
    assert (fc.macs, fc.weight_bytes) == (8 * 4, (32 + 4) * 2)
    assert got["pool"].in_bytes == 512 * 2 and got["softmax"].out_bytes == 4 * 2
    # BN and ReLU straight after the conv are fused
    fused = sorted(op.aten for op in ops if op.fused)
    assert len(fused) == 2 and fused[1] == "relu"


def test_ops_on_weights_alone_are_constant_folded():
    class Proj(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 8))

        def forward(self, x):
            return x @ (self.w * 2).t()

    ops = trace_ops(Proj(), torch.randn(2, 8))
    assert [op.aten for op in ops if op.constant] == ["mul", "t"]
    (mm,) = [op for op in ops if op.executed]
    assert mm.cls == "linear" and mm.macs == 2 * 4 * 8 and mm.weight_bytes == 32 * 2


def test_precision_scales_bytes_not_macs():
    x = torch.randn(1, 3, 8, 8)
    half = {op.cls: op for op in trace_ops(Tiny().eval(), x, "fp16") if op.executed}
    full = {op.cls: op for op in trace_ops(Tiny().eval(), x, "fp32") if op.executed}
    for cls in half:
        assert full[cls].macs == half[cls].macs
        assert full[cls].act_bytes == 2 * half[cls].act_bytes


def test_unknown_operator_is_counted_as_other():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, dim=1)

    ops = trace_ops(Odd(), torch.randn(1, 3, 4, 4))
    assert [(op.cls, op.aten) for op in ops if op.executed] == [("other", "cumsum")]
    cost = OpCost("odd", 4, "fp16", tuple(ops))
    assert cost.totals()["opcost_other"] == {"cumsum": 1}


def test_opcost_of_zoo_model_matches_fvcore_macs_and_is_cached(tmp_path):
    from explorer.measure.complexity import count_macs

    cand = resolve("repvit_m0_9", resolution=64)
    cost = opcost(cand, cache_dir=tmp_path)
    macs = count_macs(cand.deployed, 64).macs
    # conv + linear MACs as fvcore counts them; fvcore also counts one "MAC" per input
    # element of the final adaptive average pool (384 channels at 2x2), opcost does not
    assert macs - cost.totals()["opcost_macs"] == 384 * 2 * 2
    assert {op.cls for op in cost.executed()} >= {"conv", "dwconv", "linear", "elementwise"}
    assert not any(op.cls == "norm" for op in cost.executed())  # deployed: BN folded
    again = opcost(resolve("repvit_m0_9", resolution=64), cache_dir=tmp_path)
    assert again == cost
    (entry,) = list((tmp_path / "opcost").glob("*.json"))
    entry.write_text('{"value": {"ops": "garbage"}}')  # a bad entry is a miss
    assert opcost(resolve("repvit_m0_9", resolution=64), cache_dir=tmp_path) == cost


def test_module_candidate_attention_ops():
    class Attn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(3, 9)

        def forward(self, x):
            b, c, h, w = x.shape
            t = x.flatten(2).transpose(1, 2)
            q, k, v = self.qkv(t).chunk(3, dim=-1)
            a = (q @ k.transpose(-2, -1)).softmax(-1)
            return (a @ v).transpose(1, 2).reshape(b, c, h, w)

    cost = opcost(from_module(Attn(), "attn", 4), no_cache=True)
    classes = [op.cls for op in cost.executed()]
    assert classes.count("matmul") == 2 and "softmax" in classes and "linear" in classes
    mm = [op for op in cost.executed() if op.cls == "matmul"]
    assert [op.macs for op in mm] == [16 * 16 * 3, 16 * 16 * 3]


def test_measure_opcost_metric_cli(tmp_path, capsys):
    import json

    from explorer.cli import main

    assert main(["measure", "--model", "repvit_m0_9", "--resolution", "32", "--metrics",
                 "opcost", "--json", "--cache-dir", str(tmp_path)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["opcost_precision"] == "fp16" and row["opcost_other"] == {}
    assert row["opcost_ops"] == sum(row[f"opcost_{c}_ops"] for c in
                                    ("conv", "dwconv", "linear", "pool", "elementwise",
                                     "reshape") if f"opcost_{c}_ops" in row)
    assert row["opcost_weight_bytes"] > 2 * 5_000_000  # M0.9's ~5.07M weights at fp16
