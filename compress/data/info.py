"""What a data set's labels mean: class names, ignore index, palette, mask encoding.

A :class:`DatasetInfo` travels with every checkpoint so that predictions can be named
and coloured without the data set at hand. ``load_dataset_info(root)`` reads
``root/dataset.yaml`` when there is one and otherwise infers a preset from the
folder layout:

* ``{split}/images`` + ``{split}/labels`` (the SegNet CamVid layout) -> :data:`CAMVID`
* ``{split}/image`` + ``{split}/mask`` (the FloodNet layout) -> :data:`FLOODNET`, the
  study's 8 aerial classes (same classes and palette as :data:`SYNTHETIC_AERIAL`)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from compress.core.errors import CompressError
from compress.core.paths import require_folder
from compress.core.specs import Spec, parse_spec

DESCRIPTOR = "dataset.yaml"
# Top-level keys of dataset.yaml that describe provenance, not labels (written by
# `compress data synth`); everything else must be a DatasetInfo field.
PROVENANCE_KEYS = ("generator",)

RGB = tuple[int, int, int]


class DatasetInfo(Spec):
    """The label semantics of a data set.

    ``palette`` gives one RGB colour per class id; it colours predictions and, when
    ``masks`` is ``"rgb"``, decodes colour-coded masks. ``ignore_color`` is the colour
    of ignored pixels in such masks (it decodes to ``ignore_index``).
    """

    name: str = Field(min_length=1)
    class_names: list[str] = Field(min_length=1)
    ignore_index: int | None = Field(default=None, ge=0, le=65535)
    palette: list[tuple[int, int, int]] | None = None
    ignore_color: tuple[int, int, int] | None = None
    masks: Literal["index", "rgb"] = "index"

    @property
    def num_classes(self) -> int:
        """How many classes a model must predict (the ignore index is not one)."""
        return len(self.class_names)

    @model_validator(mode="after")
    def _consistent(self) -> DatasetInfo:
        k = len(self.class_names)
        if self.ignore_index is not None and self.ignore_index < k:
            raise ValueError(
                f"ignore_index {self.ignore_index} is a class id; use a value >= {k} "
                "(the number of classes) or null"
            )
        colours = [*(self.palette or []), *([self.ignore_color] if self.ignore_color else [])]
        for colour in colours:
            if any(not 0 <= c <= 255 for c in colour):
                raise ValueError(f"colour {list(colour)} has a channel outside 0..255")
        if self.palette is not None:
            if len(self.palette) != k:
                raise ValueError(
                    f"palette has {len(self.palette)} colours for {k} classes; "
                    "give exactly one RGB colour per class"
                )
            if len(set(colours)) != len(colours):
                raise ValueError("palette colours (and ignore_color) must all be different")
        if self.masks == "rgb" and self.palette is None:
            raise ValueError("masks: rgb needs a palette to decode the mask colours")
        if self.ignore_color is not None and self.ignore_index is None:
            raise ValueError("ignore_color needs an ignore_index to decode to")
        return self

    def colors(self) -> list[RGB]:
        """The palette, or a generated one of well-separated colours when none is set."""
        if self.palette is not None:
            return [tuple(c) for c in self.palette]  # type: ignore[misc]
        return default_palette(self.num_classes)


def default_palette(n: int) -> list[RGB]:
    """``n`` distinct colours (the PASCAL VOC bit-interleaving scheme), black excluded."""
    colours: list[RGB] = []
    for i in range(1, n + 1):
        r = g = b = 0
        label = i
        for shift in range(7, -1, -1):
            r |= ((label >> 0) & 1) << shift
            g |= ((label >> 1) & 1) << shift
            b |= ((label >> 2) & 1) << shift
            label >>= 3
        colours.append((r, g, b))
    return colours


AERIAL_CLASSES = ["background", "building", "road", "water", "tree", "vehicle", "pool", "grass"]
AERIAL_PALETTE: list[RGB] = [
    (0, 0, 0),  # background
    (230, 25, 75),  # building
    (128, 128, 128),  # road
    (0, 92, 230),  # water
    (0, 128, 0),  # tree
    (255, 225, 25),  # vehicle
    (70, 240, 240),  # pool
    (150, 230, 110),  # grass
]

SYNTHETIC_AERIAL = DatasetInfo(
    name="synthetic-aerial", class_names=AERIAL_CLASSES, ignore_index=None, palette=AERIAL_PALETTE
)
FLOODNET = DatasetInfo(
    name="floodnet", class_names=AERIAL_CLASSES, ignore_index=None, palette=AERIAL_PALETTE
)
# The SegNet-tutorial CamVid palette; id 11 ("void", black) is ignored.
CAMVID = DatasetInfo(
    name="camvid",
    class_names=[
        "sky",
        "building",
        "pole",
        "road",
        "pavement",
        "tree",
        "sign/symbol",
        "fence",
        "car",
        "pedestrian",
        "bicyclist",
    ],
    ignore_index=11,
    palette=[
        (128, 128, 128),
        (128, 0, 0),
        (192, 192, 128),
        (128, 64, 128),
        (60, 40, 222),
        (128, 128, 0),
        (192, 128, 128),
        (64, 64, 128),
        (64, 0, 128),
        (64, 64, 0),
        (0, 128, 192),
    ],
    ignore_color=(0, 0, 0),
)

# Folder layout (image folder, mask folder) -> the preset it implies.
LAYOUT_PRESETS: dict[tuple[str, str], DatasetInfo] = {
    ("images", "labels"): CAMVID,
    ("image", "mask"): FLOODNET,
}


def read_descriptor(path: Path) -> dict[str, Any]:
    """Parse a dataset.yaml into a mapping; CompressError naming the file when malformed."""
    from compress.core.yaml_files import read_yaml_mapping

    return read_yaml_mapping(path, what="data set descriptor")


def info_from_descriptor(path: Path) -> DatasetInfo:
    """The DatasetInfo that a dataset.yaml describes (provenance keys are skipped)."""
    data = read_descriptor(path)
    fields = {k: v for k, v in data.items() if k not in PROVENANCE_KEYS}
    return parse_spec(DatasetInfo, fields, source=str(path))


def infer_dataset_info(root: Path) -> DatasetInfo:
    """The preset implied by the first split folder with a known layout."""
    for split in sorted(p for p in root.iterdir() if p.is_dir()):
        for (image_dir, mask_dir), preset in LAYOUT_PRESETS.items():
            if (split / image_dir).is_dir() and (split / mask_dir).is_dir():
                return preset
    raise CompressError(
        f"{root} has no {DESCRIPTOR} and no known layout; expected {{split}}/image + "
        f"{{split}}/mask (FloodNet) or {{split}}/images + {{split}}/labels (CamVid), "
        f"or a {DESCRIPTOR} describing the classes"
    )


def load_dataset_info(root: str | os.PathLike[str]) -> DatasetInfo:
    """Read ``root/dataset.yaml`` if present, else infer the preset from the layout."""
    root = require_folder(root, "dataset folder")
    descriptor = root / DESCRIPTOR
    if descriptor.is_file():
        return info_from_descriptor(descriptor)
    return infer_dataset_info(root)
