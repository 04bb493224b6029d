"""The registry: unique names, aliases, clear errors for unknown names and options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
    "deeplab-mobilenetv4",
    "deeplab-mobilenetv4-aspp",
    "lraspp-mobilenetv3-large",
    "deeplabv3-mobilenetv3-large",
    "fcn-resnet50",
}
ALIASES = {"resnet18", "vgg", "mobilenet", "mobilenetv4"}


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register throw-away models without leaking them into other tests."""
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    monkeypatch.setattr(registry, "_NAMED", set(registry._NAMED))


def test_every_model_of_the_issue_is_registered() -> None:
    assert set(list_models()) == EXPECTED
    assert set(list_models(include_aliases=True)) == EXPECTED | ALIASES


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


# A user's own builder, named "module:function" (this test module is importable).
def user_builder(*, num_classes: int, width: int = 4) -> torch.nn.Module:
    return torch.nn.Conv2d(3, num_classes, kernel_size=width % 2 + 1)


USER = f"{__name__}:user_builder"


@pytest.mark.usefixtures("isolated_registry")
def test_a_user_builder_builds_by_module_and_name_and_is_then_named() -> None:
    assert registry.canonical_name(USER) == USER
    assert not registry.is_named(USER)  # nothing imported or allowed yet
    model = get_model(USER, num_classes=3, width=1)
    assert isinstance(model, torch.nn.Conv2d) and model.out_channels == 3
    assert registry.is_named(USER)  # built in this process: its checkpoints may load
    assert USER not in list_models()  # listed models are the catalogue's only
    with pytest.raises(BaselineError, match="no option.*depth.*valid options: width"):
        get_model(USER, num_classes=3, depth=2)


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no_such_package_xyz.models:build", "needs module 'no_such_package_xyz'"),
        (f"{__name__}:no_such_builder", "has no attribute 'no_such_builder'"),
        (f"{__name__}:USER", "is not a callable builder"),
        ("not a target", "unknown model 'not a target'"),
    ],
)
def test_a_user_builder_that_cannot_load_is_one_line(target: str, words: str) -> None:
    with pytest.raises(BaselineError, match=words) as error:
        get_model(target, num_classes=2)
    assert "\n" not in str(error.value)


@pytest.mark.usefixtures("isolated_registry")
def test_builders_are_named_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.NAMED_MODELS_VARIABLE, f" other.mod:fn , {USER}")
    assert registry.is_named(USER) and registry.is_named("other.mod:fn")
    assert registry.is_named("unet")  # registered models are always allowed
    with pytest.raises(BaselineError, match="package.module:builder"):
        registry.name_builder("no-colon")


def test_listing_imports_no_builder() -> None:
    code = (
        "import sys; from baselines import list_models; from baselines.registry import "
        "model_entry; names = list_models(); [model_entry(n) for n in names]; "
        "print(len(names), sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == f"{len(EXPECTED)} []"


def test_a_plugin_registers_models_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed distribution declaring one model in the segcompress.models group.
    (tmp_path / "my_seg_plugin.py").write_text(
        "import torch\ndef build(*, num_classes):\n    return torch.nn.Conv2d(3, num_classes, 1)\n"
    )
    info = tmp_path / "my_seg_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-seg-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[segcompress.models]\nplugin-net = my_seg_plugin:build\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_ENTRIES", {})
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_ALIASES", {})
    assert "plugin-net" in list_models()
    assert registry.model_entry("plugin-net").source == "plugin my-seg-plugin"
    assert get_model("plugin-net", num_classes=4).out_channels == 4
