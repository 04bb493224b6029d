"""Read and write images and label masks as numpy arrays, with errors that name the file.

Masks are either class-index images (8- or 16-bit greyscale, or palette PNGs whose
indices are the class ids) or colour-coded RGB images decoded through the data set's
palette. Every decoded mask is checked: a label that is neither a class id nor the
ignore index is reported with its value, its pixel count and the valid range.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.paths import require_file
from compress.data.info import DatasetInfo

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def _open(path: Path, what: str) -> Image.Image:
    """Open and fully decode an image so that corrupt or truncated files fail here."""
    require_file(path, what, "an image file")
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise CompressError(
            f"{what} {path} cannot be read ({reason}); expected a valid "
            f"{'/'.join(s.lstrip('.') for s in IMAGE_SUFFIXES)} file"
        ) from None
    return image


# Modes PIL converts to RGB faithfully (8 bits per channel, or a palette / bilevel).
_EIGHT_BIT_MODES = frozenset(
    {"RGB", "RGBA", "RGBX", "RGBa", "L", "LA", "La", "P", "PA", "1", "CMYK", "YCbCr"}
)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as an ``H x W x 3`` uint8 RGB array.

    8-bit modes (greyscale, palette, RGBA, CMYK, ...) are converted by PIL; 16-bit
    greyscale is scaled from its full 0..65535 range to 0..255 (PIL's own conversion
    clips it to white; a 32-bit integer image holding only 0..255 is taken as 8-bit);
    other modes (floating point, LAB, HSV) are refused by name.
    """
    path = Path(path)
    image = _open(path, "image")
    if image.mode in _EIGHT_BIT_MODES:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise CompressError(
                f"image {path} has mode {image.mode} with values outside 0..65535; "
                "expected 8-bit or 16-bit images"
            )
        # I;16 is 16-bit by its mode; plain 32-bit "I" (TIFF) holding 0..255 is 8-bit data
        full = 255 if image.mode == "I" and values.size and values.max() <= 255 else 65535
        grey = np.round(values * (255 / full)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    raise CompressError(
        f"image {path} has image mode {image.mode!r}, which is not read as a photo; "
        "expected 8-bit RGB/greyscale/palette or 16-bit greyscale"
    )


def read_mask(path: str | os.PathLike[str], info: DatasetInfo) -> np.ndarray:
    """A mask file as an ``H x W`` int64 array of class ids (and the ignore index).

    ``info.masks == "index"`` reads the pixel values as ids (an RGB file is accepted
    only when its three channels are equal); ``"rgb"`` maps colours through the palette.
    """
    path = Path(path)
    image = _open(path, "mask")
    if info.masks == "rgb":
        labels = decode_rgb_mask(np.asarray(image.convert("RGB")), info, source=path)
    elif image.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L", "1"):
        labels = np.asarray(image).astype(np.int64)
    elif image.mode in ("RGB", "RGBA", "LA"):
        channels = np.asarray(image.convert("RGB"))
        if not (
            np.array_equal(channels[..., 0], channels[..., 1])
            and np.array_equal(channels[..., 0], channels[..., 2])
        ):
            raise CompressError(
                f"mask {path} is a colour image but the data set's masks are class indices; "
                "set `masks: rgb` and a palette in dataset.yaml, or save single-channel masks"
            )
        labels = channels[..., 0].astype(np.int64)
    else:
        raise CompressError(
            f"mask {path} has image mode {image.mode!r}; expected a single-channel "
            "(L, P, I;16) class-index PNG"
        )
    check_labels(labels, info, source=path)
    return labels


def check_labels(labels: np.ndarray, info: DatasetInfo, *, source: str | Path) -> None:
    """Raise a CompressError if ``labels`` holds a value that is no class id nor ignored."""
    k = info.num_classes
    bad = (labels < 0) | (labels >= k)
    if info.ignore_index is not None:
        bad &= labels != info.ignore_index
    if not bad.any():
        return
    values, counts = np.unique(labels[bad], return_counts=True)
    pairs = zip(values[:5].tolist(), counts[:5].tolist(), strict=True)
    shown = ", ".join(f"{v} ({c} px)" for v, c in pairs)
    ignore = f" or the ignore index {info.ignore_index}" if info.ignore_index is not None else ""
    raise CompressError(
        f"mask {source} has label(s) {shown} outside the valid range 0..{k - 1}{ignore} "
        f"({info.name}: {k} classes)"
    )


def _pack(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def decode_rgb_mask(rgb: np.ndarray, info: DatasetInfo, *, source: str | Path) -> np.ndarray:
    """Map an ``H x W x 3`` colour mask to class ids through ``info``'s palette."""
    colours = list(info.colors())
    ids = list(range(len(colours)))
    if info.ignore_color is not None and info.ignore_index is not None:
        colours.append(info.ignore_color)
        ids.append(info.ignore_index)
    keys = _pack(np.asarray(colours, dtype=np.int64))
    order = np.argsort(keys)
    keys, ids_sorted = keys[order], np.asarray(ids, dtype=np.int64)[order]
    packed = _pack(rgb)
    position = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    found = keys[position] == packed
    if not found.all():
        unknown = np.unique(packed[~found])
        shown = ", ".join(f"({v >> 16}, {(v >> 8) & 255}, {v & 255})" for v in unknown[:3].tolist())
        raise CompressError(
            f"mask {source} has colour(s) {shown} ({int((~found).sum())} px) that are not in "
            f"the {info.name} palette; valid colours are the {len(colours)} listed in its "
            "palette (and ignore_color)"
        )
    return ids_sorted[position]


def labels_to_rgb(
    labels: np.ndarray, palette: Sequence[Sequence[int]], *, ignore_color: Sequence[int] = (0, 0, 0)
) -> np.ndarray:
    """Colour an ``H x W`` label array (``H x W x 3`` uint8); ids outside the palette get
    ``ignore_color``. Used for prediction panels and to write colour-coded masks."""
    table = np.asarray(list(palette) + [list(ignore_color)], dtype=np.uint8)
    labels = np.asarray(labels).astype(np.int64)
    index = np.where((labels >= 0) & (labels < len(palette)), labels, len(palette))
    return table[index]


def write_png(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Atomically write an ``H x W`` (uint8 or uint16) or ``H x W x 3`` uint8 array as PNG."""
    array = np.ascontiguousarray(array)
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_png expects uint8 or uint16 data, got {array.dtype}")
    image = Image.fromarray(array)
    atomic.write_with(path, lambda tmp: image.save(tmp, format="PNG"))
