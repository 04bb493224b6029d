"""Data: label semantics, folder data sets, synthetic aerial scenes and transforms.

Names are loaded lazily (PEP 562), so ``import compress.data`` imports neither torch
nor numpy; the first access to, say, ``compress.data.SegmentationFolder`` imports
the submodule that defines it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "DatasetInfo": "info",
    "SYNTHETIC_AERIAL": "info",
    "FLOODNET": "info",
    "CAMVID": "info",
    "load_dataset_info": "info",
    "default_palette": "info",
    "read_image": "images",
    "read_mask": "images",
    "labels_to_rgb": "images",
    "write_png": "images",
    "render_scene": "synthetic",
    "write_synthetic_dataset": "synthetic",
    "SyntheticSpec": "synthetic",
    "find_pairs": "folder",
    "list_splits": "folder",
    "SegmentationFolder": "folder",
    "SplitSummary": "folder",
    "check_split": "folder",
    "check_dataset": "folder",
    "train_transform": "transforms",
    "eval_transform": "transforms",
    "normalize": "transforms",
    "denormalize": "transforms",
    "IMAGENET_MEAN": "transforms",
    "IMAGENET_STD": "transforms",
}

__all__ = [
    "CAMVID",
    "DatasetInfo",
    "FLOODNET",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SYNTHETIC_AERIAL",
    "SegmentationFolder",
    "SplitSummary",
    "SyntheticSpec",
    "check_dataset",
    "check_split",
    "labels_to_rgb",
    "default_palette",
    "denormalize",
    "eval_transform",
    "find_pairs",
    "list_splits",
    "load_dataset_info",
    "normalize",
    "read_image",
    "read_mask",
    "render_scene",
    "train_transform",
    "write_png",
    "write_synthetic_dataset",
]

if TYPE_CHECKING:
    from compress.data.folder import (
        SegmentationFolder,
        SplitSummary,
        check_dataset,
        check_split,
        find_pairs,
        list_splits,
    )
    from compress.data.images import labels_to_rgb, read_image, read_mask, write_png
    from compress.data.info import (
        CAMVID,
        FLOODNET,
        SYNTHETIC_AERIAL,
        DatasetInfo,
        default_palette,
        load_dataset_info,
    )
    from compress.data.synthetic import SyntheticSpec, render_scene, write_synthetic_dataset
    from compress.data.transforms import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        denormalize,
        eval_transform,
        normalize,
        train_transform,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'compress.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"compress.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
