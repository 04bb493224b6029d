"""Pruning every registered model (and torchvision's LR-ASPP): shapes, costs, protection."""

from __future__ import annotations

from functools import cache

import pytest
import torch
import torchvision
from torch import nn

from baselines import get_model, list_models
from compress.core.errors import CompressError
from compress.measure.macs import count_macs_params
from compress.pruning import PruneSpec, prune_model
from compress.pruning.graph import channel_counts

NUM_CLASSES = 5
SIZE = (64, 64)
TINY = {"unet": {"base_channels": 8}, "unet-attention": {"base_channels": 8}}


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return get_model(name, num_classes=NUM_CLASSES, **TINY.get(name, {})).eval()


def example() -> torch.Tensor:
    return torch.zeros(1, 3, *SIZE)


@cache
def pruned(name: str) -> tuple[nn.Module, nn.Module, dict]:
    """(original, pruned at 0.5 with l2, structure step), built once per model."""
    original = build(name)
    model, step = prune_model(
        build(name), PruneSpec(ratio=0.5, round_to=None), example_input=example()
    )
    return original, model.eval(), step


# The last conv of each model (torchvision's heads keep it inside ``classifier``).
CLASSIFIERS = {
    "deeplabv3-mobilenetv3-large": "classifier.4",
    "fcn-resnet50": "classifier.4",
    "lraspp-mobilenetv3-large": "classifier.high_classifier",
}


def classifier_of(model: nn.Module, name: str) -> tuple[str, nn.Conv2d]:
    path = CLASSIFIERS.get(name, "classifier")
    return path, model.get_submodule(path)


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_and_costs_fall(name: str) -> None:
    original, model, _ = pruned(name)
    x = torch.randn(1, 3, *SIZE)
    with torch.no_grad():
        assert model(x).shape == original(x).shape == (1, NUM_CLASSES, *SIZE)
        assert torch.isfinite(model(x)).all()
    macs0, params0 = count_macs_params(original, SIZE)
    macs1, params1 = count_macs_params(model, SIZE)
    # Halving the channels on both sides of most layers leaves about a quarter.
    assert macs1 < 0.35 * macs0 and params1 < 0.35 * params0


@pytest.mark.parametrize("name", list_models())
def test_classifier_keeps_its_classes_and_bias(name: str) -> None:
    original, model, step = pruned(name)
    path, before = classifier_of(original, name)
    _, after = classifier_of(model, name)
    assert after.out_channels == before.out_channels == NUM_CLASSES
    assert after.in_channels < before.in_channels  # its inputs are pruned, its outputs not
    assert torch.equal(after.bias, before.bias)
    assert path in step["protected_layers"]


def test_attention_gates_prune_skips_consistently() -> None:
    original, model, step = pruned("unet-attention")
    for level, gate in enumerate(model.gates):
        encoder = model.encoders[-1 - level]
        skip = encoder[1][0].out_channels
        assert skip < original.encoders[-1 - level][1][0].out_channels  # skips are pruned
        assert gate.theta.in_channels == gate.project[0].in_channels == skip
        assert gate.project[0].out_channels == gate.project[1].num_features
        assert gate.psi.out_channels == 1  # the broadcast map keeps its single channel
        assert gate.theta.out_channels == gate.phi.out_channels == gate.psi.in_channels
        assert f"gates.{level}.psi" in step["protected_layers"]
        decoder = model.decoders[level][0][0]
        assert decoder.in_channels == model.ups[level].out_channels + gate.project[0].out_channels


def test_squeeze_excite_channels_stay_coupled() -> None:
    _, model, _ = pruned("deeplab-mobilenetv3-aspp")
    blocks = [m for m in model.modules() if type(m).__name__ == "SqueezeExcitation"]
    assert blocks
    for se in blocks:
        assert se.fc2.out_channels == se.fc1.in_channels


@pytest.mark.parametrize("importance", ["l1", "l2", "taylor", "bn-scale", "lamp", "fpgm"])
@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_every_importance_and_ratio_on_a_small_model(importance: str, ratio: float) -> None:
    model = build("unet-attention")
    macs0, params0 = count_macs_params(model, SIZE)
    generator = torch.Generator().manual_seed(0)
    data = [
        (
            torch.randn(3, *SIZE, generator=generator),
            torch.randint(0, NUM_CLASSES, SIZE, generator=generator),
        )
        for _ in range(2)
    ]
    spec = PruneSpec(ratio=ratio, importance=importance, round_to=None)
    model, step = prune_model(model, spec, example_input=example(), importance_data=data)
    with torch.no_grad():
        assert model(torch.randn(2, 3, *SIZE)).shape == (2, NUM_CLASSES, *SIZE)
    macs, params = count_macs_params(model, SIZE)
    kept = 1 - ratio
    # uniform scope: about kept^2 of the costs, never more than kept
    assert macs < kept * macs0 and params < kept * params0
    assert all(p.grad is None for p in model.parameters())  # taylor's gradients are cleared
    assert step["importance"] == importance and step["history"]


def test_global_scope_and_iterative_steps() -> None:
    model = build("deeplab-vgg11-aspp")
    macs0, _ = count_macs_params(model, SIZE)
    spec = PruneSpec(ratio=0.5, scope="global", iterative_steps=3)
    model, step = prune_model(model, spec, example_input=example())
    assert step["steps_done"] == 3
    assert count_macs_params(model, SIZE)[0] < 0.6 * macs0
    assert all(counts[1] >= 1 for counts in channel_counts(model).values())


def test_round_to_keeps_multiples_and_never_empties_a_layer() -> None:
    original = channel_counts(build("unet"))
    model, _ = prune_model(
        build("unet"), PruneSpec(ratio=0.75, round_to=8), example_input=example()
    )
    for name, (_, out) in channel_counts(model).items():
        if name == "classifier":
            continue
        assert out % 8 == 0 or out == original[name][1]
        assert out >= min(8, original[name][1])


def test_ignored_layers_are_left_whole() -> None:
    model = build("unet")
    spec = PruneSpec(ratio=0.5, round_to=None, ignored_layers=["encoders.0.0.0"])
    model, step = prune_model(model, spec, example_input=example())
    assert model.encoders[0][0][0].out_channels == 8
    assert model.encoders[1][0][0].out_channels == 8  # 16 halved: the rest is pruned
    with pytest.raises(CompressError, match="encoders.9"):
        prune_model(
            build("unet"),
            PruneSpec(ratio=0.5, ignored_layers=["encoders.9"]),
            example_input=example(),
        )


def test_taylor_without_data_asks_for_data() -> None:
    with pytest.raises(CompressError, match="--data"):
        prune_model(
            build("unet"), PruneSpec(ratio=0.5, importance="taylor"), example_input=example()
        )


def test_taylor_refuses_labels_beyond_the_classes() -> None:
    data = [(torch.randn(3, *SIZE), torch.full(SIZE, NUM_CLASSES))]
    with pytest.raises(CompressError, match=f"label {NUM_CLASSES}"):
        prune_model(
            build("unet"),
            PruneSpec(ratio=0.5, importance="taylor"),
            example_input=example(),
            importance_data=data,
        )


def test_budget_mode_meets_its_macs_target() -> None:
    model = build("unet")
    macs0, _ = count_macs_params(model, SIZE)
    spec = PruneSpec(target_macs=0.4, round_to=None)
    model, step = prune_model(model, spec, example_input=example())
    kept = count_macs_params(model, SIZE)[0] / macs0
    assert 0.3 < kept <= 0.4
    assert 0 < step["ratio"] < 1 and step["target_macs"] == 0.4


def test_torchvision_lraspp_with_dict_output() -> None:
    torch.manual_seed(0)
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES
    ).eval()
    macs0, _ = count_macs_params(model, SIZE)
    model, step = prune_model(model, PruneSpec(ratio=0.5), example_input=example())
    with torch.no_grad():
        assert model(torch.randn(1, 3, *SIZE))["out"].shape == (1, NUM_CLASSES, *SIZE)
    assert count_macs_params(model, SIZE)[0] < 0.5 * macs0
    head = model.classifier
    assert head.low_classifier.out_channels == head.high_classifier.out_channels == NUM_CLASSES
    assert {"classifier.low_classifier", "classifier.high_classifier"} <= set(
        step["protected_layers"]
    )


class GroupNormNet(nn.Module):
    """Conv-GroupNorm blocks (smp's FPN decoder style): channels come in groups."""

    def __init__(self, groups: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in [(3, 32), (32, 64), (64, 64)]:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(64, NUM_CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


@pytest.mark.parametrize(("groups", "round_to"), [(8, 8), (4, 8), (8, None), (32, 8)])
def test_groupnorm_channels_are_pruned_group_by_group(groups: int, round_to: int | None) -> None:
    from compress.pruning.replay import replay_prune

    torch.manual_seed(0)
    model = GroupNormNet(groups).eval()
    macs0, _ = count_macs_params(model, SIZE)
    model, step = prune_model(
        model, PruneSpec(ratio=0.5, round_to=round_to), example_input=example()
    )
    assert count_macs_params(model, SIZE)[0] < 0.35 * macs0  # not silently left whole
    for norm in (m for m in model.modules() if isinstance(m, nn.GroupNorm)):
        assert norm.num_channels % norm.num_groups == 0
        assert norm.num_channels % (round_to or 1) == 0
        assert norm.num_channels < 64 or norm.num_groups == 32
    fresh = replay_prune(GroupNormNet(groups).eval(), step)
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, *SIZE)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
