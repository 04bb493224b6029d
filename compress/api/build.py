"""``compress.build``: a registered model, or any importable builder, with its spec recorded."""

from __future__ import annotations

from typing import Any

from torch import nn

from compress.api.record import record_of
from compress.core.specs import ModelSpec


def build(name: str, *, num_classes: int, **options: Any) -> nn.Module:
    """Build ``name`` (``compress models``, or ``"package.module:builder"``) with
    ``num_classes`` outputs and builder ``options`` (plain values: they are saved in
    checkpoints). The model remembers how it was built, for :func:`compress.save`.

    >>> model = compress.build("torchvision.models.segmentation:lraspp_mobilenet_v3_large",
    ...                        num_classes=11, weights_backbone=None)
    """
    spec = ModelSpec(name=name, num_classes=num_classes, options=options)
    model = spec.build()
    record_of(model)["spec"] = spec.model_dump(mode="json")
    return model
