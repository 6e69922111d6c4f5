import pytest
import timm

from explorer import build, deploy, zoo
from explorer.errors import UnknownModelError
from explorer.measure.complexity import count_macs, count_params

# Paper Table 1 (fused, single head): params in M and MACs in G, to one decimal.
PAPER = {"repvit_m0_9": (5.1, 0.8), "repvit_m1_0": (6.8, 1.1), "repvit_m1_1": (8.2, 1.3),
         "repvit_m1_5": (14.0, 2.3), "repvit_m2_3": (22.9, 4.5)}


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.TIMM_NAMES)
def test_training_form_params_equal_timm(name):
    ours = count_params(build(zoo.get_spec(name)))
    theirs = count_params(timm.create_model(name, pretrained=False))
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAPER))
def test_fused_counts_round_to_paper_table_1(name):
    fused = deploy(build(zoo.get_spec(name)))
    c = count_macs(fused)
    params_m, macs_g = PAPER[name]
    assert round(c.params / 1e6, 1) == params_m
    assert round(c.macs / 1e9, 1) == macs_g


@pytest.mark.slow
def test_mobilenetv3_counts():
    fused = deploy(build(zoo.get_spec("mobilenetv3_large_100")))
    c = count_macs(fused)
    assert round(c.params / 1e6, 2) == 5.47  # 5.48M training form; paper 5.4M
    assert round(c.macs / 1e6, 1) == 216.6  # paper 219M MAdds


def test_unknown_name_suggests():
    with pytest.raises(UnknownModelError, match="did you mean repvit_m0_9"):
        zoo.get_spec("repvit_m09")
