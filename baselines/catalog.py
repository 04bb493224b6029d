"""The table of models this package ships, readable without importing torch.

Each :class:`ModelEntry` names a model, its aliases, a one-line summary, where it comes
from and where its builder lives (``"module:attribute"``, imported on first use), so
that ``compress models`` lists every model — the study's, torchvision's and timm's —
in well under a second, and only the model a command uses loads its code. A target
whose attribute is a mapping holds builders by model name (one family module builds
several models from a table, e.g. the DeepLab families below).

Third-party packages add entries through the ``segcompress.models`` entry-point group
(see :func:`plugin_entries`); a builder named ``"package.module:function"`` directly
(``--model``) needs no entry at all (see :mod:`baselines.registry`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from baselines.errors import BaselineError

ENTRY_POINT_GROUP = "segcompress.models"

# "package.module:attribute": what --model accepts for a builder that is not registered.
BUILDER_TARGET = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_builder_target(name: str) -> bool:
    """Whether ``name`` has the form ``package.module:builder``."""
    return bool(BUILDER_TARGET.match(name))


@dataclass(frozen=True)
class ModelEntry:
    """One model: ``target`` is ``"module:attribute"`` of its builder (or of a mapping
    of builders by model name); ``requires`` names packages it needs beyond torch."""

    name: str
    target: str
    summary: str
    source: str = "segcompress"
    aliases: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        """Import the builder (raises BaselineError naming what is missing)."""
        builder = load_target(self.target, what=f"model {self.name!r}")
        if isinstance(builder, Mapping):
            builder = builder[self.name]
        return builder


def load_target(target: str, *, what: str) -> Any:
    """The object at ``"module:attribute"``; one-line BaselineError when it cannot load."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise BaselineError(
            f"{what} needs module {error.name or module_name!r}, which is not installed "
            f"(builder {target})"
        ) from None
    except Exception as error:  # the user's module failed while importing
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise BaselineError(f"{what}: importing {module_name} failed ({reason})") from None
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise BaselineError(f"{what}: module {module_name} has no attribute {attribute!r}")
        value = getattr(value, part)
    if not callable(value) and not isinstance(value, Mapping):
        raise BaselineError(f"{what}: {target} is not a callable builder")
    return value


@dataclass(frozen=True)
class Family:
    """One DeepLab family: a backbone (or a choice of them) under a name stem.

    Each family registers two models: ``<stem>`` (head on the backbone) and
    ``<stem>-aspp`` (ASPP first); ``alias`` names the ASPP one. ``backbones[0]`` is the
    default; the others are chosen with the ``backbone`` option.
    """

    stem: str
    backbones: tuple[str, ...]
    title: str
    alias: str
    source: str = "segcompress"
    requires: tuple[str, ...] = ()


FAMILIES: tuple[Family, ...] = (
    Family("deeplab-resnet18", ("resnet18",), "ResNet-18", "resnet18"),
    Family("deeplab-vgg11", ("vgg11_bn",), "VGG-11 (batch-norm)", "vgg"),
    Family("deeplab-mobilenetv3", ("mobilenet_v3_small",), "MobileNetV3-small", "mobilenet"),
    Family(
        "deeplab-mobilenetv4",
        ("mobilenetv4_conv_small", "mobilenetv4_conv_medium"),
        "MobileNetV4-conv (timm; small, or backbone=mobilenetv4_conv_medium)",
        "mobilenetv4",
        source="segcompress on timm",
        requires=("timm",),
    ),
)

_DEEPLAB = "baselines.deeplab:DEEPLAB_BUILDERS"
_TORCHVISION = "baselines.torchvision_models:TORCHVISION_BUILDERS"

BUILTIN_MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("unet", "baselines.unet:unet", "the study's UNet (32 -> 512 channels)"),
    ModelEntry(
        "unet-attention",
        "baselines.unet:unet_attention",
        "UNet with an attention gate on every skip",
    ),
    *(
        entry
        for family in FAMILIES
        for entry in (
            ModelEntry(
                family.stem,
                _DEEPLAB,
                f"DeepLab on {family.title}, no ASPP",
                family.source,
                requires=family.requires,
            ),
            ModelEntry(
                f"{family.stem}-aspp",
                _DEEPLAB,
                f"DeepLab on {family.title} with ASPP",
                family.source,
                aliases=(family.alias,),
                requires=family.requires,
            ),
        )
    ),
    ModelEntry(
        "lraspp-mobilenetv3-large",
        _TORCHVISION,
        "torchvision LR-ASPP on MobileNetV3-large",
        "torchvision",
    ),
    ModelEntry(
        "deeplabv3-mobilenetv3-large",
        _TORCHVISION,
        "torchvision DeepLabV3 on MobileNetV3-large",
        "torchvision",
    ),
    ModelEntry("fcn-resnet50", _TORCHVISION, "torchvision FCN on ResNet-50", "torchvision"),
)


def plugin_entries() -> list[ModelEntry]:
    """Models that installed packages declare in the ``segcompress.models`` group.

    Each entry point is ``model-name = "package.module:builder"`` (in a package's
    ``pyproject.toml``: ``[project.entry-points."segcompress.models"]``); nothing is
    imported until the model is built.
    """
    from importlib.metadata import entry_points

    entries = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if not is_builder_target(point.value):
            raise BaselineError(
                f"entry point {point.name!r} in group {ENTRY_POINT_GROUP} names "
                f"{point.value!r}; expected 'package.module:builder'"
            )
        dist = getattr(point, "dist", None)
        source = f"plugin {dist.name}" if dist is not None else "plugin"
        entries.append(ModelEntry(point.name, point.value, f"from {point.value}", source))
    return entries
