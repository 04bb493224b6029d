"""The study's segmentation models as plain ``nn.Module`` builders behind a registry.

>>> from baselines import get_model, list_models
>>> model = get_model("unet", num_classes=8)
"""

from baselines.registry import (  # the model families register on first use (torch loads then)
    aliases_of,
    canonical_name,
    get_model,
    list_models,
    model_options,
    register_model,
)

__all__ = [
    "aliases_of",
    "canonical_name",
    "get_model",
    "list_models",
    "model_options",
    "register_model",
]
