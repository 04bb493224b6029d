"""The registry: unique names, aliases, clear errors for unknown names and options."""

from __future__ import annotations

import pytest

from baselines import get_model, list_models, registry
from baselines.deeplab import DeepLab
from baselines.errors import BaselineError
from baselines.unet import UNet

EXPECTED = {
    "unet",
    "unet-attention",
    "deeplab-resnet18",
    "deeplab-resnet18-aspp",
    "deeplab-vgg11",
    "deeplab-vgg11-aspp",
    "deeplab-mobilenetv3",
    "deeplab-mobilenetv3-aspp",
}


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register throw-away models without leaking them into other tests."""
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))


def test_every_model_of_the_issue_is_registered() -> None:
    assert set(list_models()) == EXPECTED
    assert set(list_models(include_aliases=True)) == EXPECTED | {"resnet18", "vgg", "mobilenet"}


@pytest.mark.usefixtures("isolated_registry")
def test_duplicate_names_and_aliases_are_refused() -> None:
    with pytest.raises(ValueError, match="'unet' is already registered"):
        registry.register_model("unet")(lambda *, num_classes: None)
    with pytest.raises(ValueError, match="'vgg' is already registered"):
        registry.register_model("fresh-name", aliases=("vgg",))(lambda *, num_classes: None)
    assert "fresh-name" not in registry._BUILDERS  # a refused registration leaves nothing


@pytest.mark.usefixtures("isolated_registry")
def test_a_new_model_registers_and_builds() -> None:
    @registry.register_model("tiny-test-model", aliases=("tiny",))
    def tiny(*, num_classes: int, width: int = 4) -> tuple[int, int]:
        return num_classes, width

    assert registry.get_model("tiny", num_classes=3, width=2) == (3, 2)
    assert registry.aliases_of("tiny-test-model") == ["tiny"]


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(BaselineError) as error:
        get_model("unet3000", num_classes=2)
    message = str(error.value)
    assert "'unet3000'" in message
    for name in [*EXPECTED, "vgg"]:
        assert name in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("alias", "canonical", "model_type"),
    [
        ("vgg", "deeplab-vgg11-aspp", DeepLab),
        ("resnet18", "deeplab-resnet18-aspp", DeepLab),
        ("mobilenet", "deeplab-mobilenetv3-aspp", DeepLab),
    ],
)
def test_alias_resolves_to_the_canonical_model(
    alias: str, canonical: str, model_type: type
) -> None:
    assert registry.canonical_name(alias) == canonical
    model = get_model(alias, num_classes=2)
    assert isinstance(model, model_type)
    assert model.aspp is not None


def test_unknown_option_names_the_valid_options() -> None:
    with pytest.raises(BaselineError, match="no option.* widht.*valid options: .*base_channels"):
        get_model("unet", num_classes=2, widht=3)
    assert isinstance(get_model("unet", num_classes=2, base_channels=8), UNet)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_num_classes_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(BaselineError, match="num_classes"):
        get_model("unet", num_classes=bad, base_channels=8)  # type: ignore[arg-type]
