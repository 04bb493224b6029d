"""Every method on every registered model: shapes kept, MACs fall as reported, skips named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from baselines import get_model, list_models, model_options
from compress.core.errors import CompressError
from compress.lowrank import FactorizeSpec, factorize_model
from compress.measure.macs import count_macs_params

SIZE = (64, 64)
# the chosen layers of these hold no 1 x 1 conv whose SVD would save MACs (only the
# narrow classifier): the report must still say so for every layer
NOTHING_TO_DO = {
    ("unet", "svd"),
    ("deeplab-vgg11", "svd"),
    ("deeplab-mobilenetv3", "svd"),
    ("deeplab-mobilenetv4", "svd"),
    ("lraspp-mobilenetv3-large", "spatial-svd"),
}
# CP (slow ALS) on one small k x k conv of the models whose head has none to spare.
CP_LAYERS = {
    "lraspp-mobilenetv3-large": ["backbone.0.0"],
    "deeplabv3-mobilenetv3-large": ["backbone.0.0"],
    "fcn-resnet50": ["backbone.layer1.0.conv2"],
}


def tiny(name: str) -> nn.Module:
    """The smallest variant of a registered model (narrow ASPP and head for DeepLabs)."""
    torch.manual_seed(0)
    if name.startswith("unet"):
        return get_model(name, num_classes=3, base_channels=8).eval()
    accepted = model_options(name)  # torchvision's models have no width options
    options = {key: 64 for key in ("head_channels", "aspp_channels") if key in accepted}
    return get_model(name, num_classes=3, **options).eval()


def layer_patterns(name: str, model: nn.Module) -> list[str]:
    """UNets: everything. DeepLabs: ASPP (dilated), head, classifier and the strided convs."""
    if name.startswith("unet"):
        return ["*"]
    strided = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and m.groups == 1 and m.stride != (1, 1) and n
    ]
    if not hasattr(model, "head"):  # torchvision's: LR-ASPP's light head, else the last conv
        # (their 960- and 2048-wide ASPP/FCN heads take tens of seconds to decompose)
        head = {
            "lraspp-mobilenetv3-large": ["classifier.*"],
            "deeplabv3-mobilenetv3-large": [
                "classifier.0.project.*",
                "classifier.1",
                "classifier.4",
            ],
        }
        return [*head.get(name, ["classifier.4"]), *strided]
    patterns = ["aspp.*", "head.*", "classifier"] if name.endswith("aspp") else ["head.*"]
    return patterns + strided + (["classifier"] if "classifier" not in patterns else [])


def _check(name: str, spec: FactorizeSpec, patterns: list[str] | None = None) -> None:
    model = tiny(name)
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x)
    macs_before, _ = count_macs_params(model, SIZE)
    spec = spec.model_copy(update={"layers": patterns or layer_patterns(name, model)})
    outcome = factorize_model(model, spec, input_size=SIZE)
    with torch.no_grad():
        after = model(x)
    assert after.shape == before.shape
    macs_after, _ = count_macs_params(model, SIZE)
    saved = sum(row.macs_before - row.macs_after for row in outcome.layers)
    assert macs_after == macs_before - saved  # the report's per-layer MACs are the real ones
    for row in outcome.layers:
        if row.method is not None:
            assert row.macs_after < spec.max_macs_ratio * row.macs_before
            assert row.rel_error is not None and row.rel_error >= 0.0
        else:
            assert row.note
    assert outcome.replaced or (name, spec.method) in NOTHING_TO_DO
    if outcome.replaced:
        assert macs_after < macs_before


@pytest.mark.parametrize("method", ["tucker", "svd", "spatial-svd"])
@pytest.mark.parametrize("name", list_models())
def test_method_keeps_output_shape_and_cuts_macs(name: str, method: str) -> None:
    _check(name, FactorizeSpec(method=method, rank=0.5))


@pytest.mark.parametrize("name", list_models())
def test_cp_on_a_few_layers_of_every_model(name: str) -> None:
    """CP is slow (ALS): one or two layers each, a low rank and few iterations."""
    patterns = ["bottleneck.*"] if name.startswith("unet") else CP_LAYERS.get(name, ["head.*"])
    spec = FactorizeSpec(method="cp", rank=0.05, cp_iterations=10, cp_max_error=1.0)
    _check(name, spec, patterns)


def test_dilated_aspp_branches_keep_their_dilation() -> None:
    model = tiny("deeplab-resnet18-aspp")
    outcome = factorize_model(
        model, FactorizeSpec(method="tucker", rank=8, layers=["aspp.branches.*"]), input_size=SIZE
    )
    replaced = {row.name for row in outcome.replaced}
    assert "aspp.branches.3.0" in replaced
    core = model.get_submodule("aspp.branches.3.0")[1]
    original = tiny("deeplab-resnet18-aspp").get_submodule("aspp.branches.3.0")
    assert core.dilation == original.dilation and core.padding == original.padding


def test_skipped_layers_say_why() -> None:
    unet = tiny("unet")
    rows = {
        r.name: r
        for r in factorize_model(
            unet, FactorizeSpec(method="tucker", rank=0.5), input_size=SIZE
        ).layers
    }
    assert rows["ups.0"].method is None and "transposed" in rows["ups.0"].note
    assert rows["classifier"].method is None and "1 x 1" in rows["classifier"].note
    mobile = tiny("deeplab-mobilenetv3")
    rows = {
        r.name: r
        for r in factorize_model(
            mobile,
            FactorizeSpec(method="tucker", rank=0.5, layers=["backbone.body.1.*"]),
            input_size=SIZE,
        ).layers
    }
    assert any(r.note and "depthwise" in r.note for r in rows.values())


def test_macs_rule_meets_the_budget_checked_on_the_whole_model() -> None:
    model = tiny("unet")
    base, _ = count_macs_params(model, SIZE)
    spec = FactorizeSpec(method="tucker", rank_rule="macs", target_macs=0.5)
    outcome = factorize_model(model, spec, input_size=SIZE)
    measured, _ = count_macs_params(model, SIZE)
    assert outcome.fraction is not None and 0 < outcome.fraction < 1
    assert measured <= 0.5 * base and not outcome.warnings
    assert all(r % 8 == 0 for row in outcome.replaced for r in row.ranks)


@pytest.mark.parametrize("rule", ["vbmf", "energy"])
def test_auto_rank_rules_pick_ranks_rounded_to_eight(rule: str) -> None:
    model = tiny("unet")
    spec = FactorizeSpec(
        method="tucker", rank_rule=rule, energy=0.5, max_macs_ratio=10.0, layers=["bottleneck.*"]
    )
    outcome = factorize_model(model, spec, input_size=SIZE)
    assert len(outcome.replaced) == 2
    assert all(r % 8 == 0 for row in outcome.replaced for r in row.ranks)


def test_bad_requests_are_user_errors() -> None:
    with pytest.raises(CompressError, match="larger than layer"):
        factorize_model(tiny("unet"), FactorizeSpec(method="tucker", rank=64), input_size=SIZE)
    with pytest.raises(CompressError, match="matches no conv"):
        factorize_model(
            tiny("unet"), FactorizeSpec(method="svd", layers=["nope.*"]), input_size=SIZE
        )
    with pytest.raises(CompressError, match="cannot be met"):
        spec = FactorizeSpec(method="svd", rank_rule="macs", target_macs=0.1)
        factorize_model(tiny("unet"), spec, input_size=SIZE)


def test_a_budget_carried_by_slivers_of_few_layers_is_named() -> None:
    # Few eligible layers and a tight MACs target: each is cut to about 5 % of its rank.
    torch.manual_seed(0)
    model = get_model("deeplab-resnet18-aspp", num_classes=3).eval()
    spec = FactorizeSpec(
        method="tucker", rank_rule="macs", target_macs=0.78, layers=["aspp.*", "head.*"]
    )
    outcome = factorize_model(model, spec, input_size=SIZE)
    slivers = [w for w in outcome.warnings if "of its rank" in w]
    assert len(slivers) == len(outcome.replaced) == 4
    assert "head.0 keeps 5% of its rank" in " ".join(slivers)
    carried = [w for w in outcome.warnings if "carried by" in w]
    assert len(carried) == 1 and "aspp.branches.1.0" in carried[0]


def test_a_gentle_rank_gives_no_floor_warning() -> None:
    outcome = factorize_model(
        tiny("unet"), FactorizeSpec(method="tucker", rank=0.5), input_size=SIZE
    )
    assert outcome.replaced and not [w for w in outcome.warnings if "of its rank" in w]
