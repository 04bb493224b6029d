"""Predict masks with a trained model and draw them: ids, colours, side-by-side panels.

Images are normalised exactly as the data package does (``compress.data.normalize``,
re-exported here as ``normalize``) and coloured with the data set's palette.

``predict_folder`` is what ``compress predict`` runs: it loads a checkpoint safely,
predicts every image of a file or folder at full resolution and writes, per image,
``<stem>_mask.png`` (class ids), ``<stem>_color.png`` and ``<stem>_panel.png``
(image | prediction | ground truth when a label sits beside the image).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from compress.core import atomic
from compress.core.device import resolve_device
from compress.core.errors import CompressError
from compress.data.info import DatasetInfo, default_palette
from compress.data.transforms import normalize
from compress.measure.inference import Predictor, inference_context, logits_of, predict_mask

__all__ = [
    "Predictor",
    "colorize",
    "find_images",
    "inference_context",
    "logits_of",
    "normalize",
    "predict_folder",
    "predict_mask",
    "save_panel",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
IMAGE_DIRS = ("image", "images")
LABEL_DIRS = ("mask", "masks", "label", "labels")
OUTPUT_SUFFIXES = ("_mask", "_color", "_panel")  # our own outputs, never inputs

Palette = Sequence[Sequence[int]]


def colorize(
    mask: Tensor | np.ndarray, palette: Palette | None = None, ignore_index: int | None = None
) -> np.ndarray:
    """An RGB ``uint8 [H, W, 3]`` picture of a class-id mask; ignored pixels are black."""
    ids = mask.cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    ids = ids.astype(np.int64)
    keep = ids != ignore_index if ignore_index is not None else np.ones(ids.shape, dtype=bool)
    highest = int(ids[keep].max()) if keep.any() else -1
    lut = _palette_array(palette if palette is not None else default_palette(highest + 1))
    if keep.any() and (int(ids[keep].min()) < 0 or highest >= len(lut)):
        bad = int(ids[keep].min()) if int(ids[keep].min()) < 0 else highest
        raise CompressError(
            f"mask holds class id {bad} but the palette has {len(lut)} colours "
            f"(ids 0..{len(lut) - 1} are valid)"
        )
    out = np.zeros((*ids.shape, 3), dtype=np.uint8)
    out[keep] = lut[ids[keep]]
    return out


def save_panel(
    image_uint8: Tensor | np.ndarray,
    pred: Tensor | np.ndarray,
    target: Tensor | np.ndarray | None,
    path: str | os.PathLike[str],
    *,
    palette: Palette | None = None,
    class_names: Sequence[str] | None = None,
    ignore_index: int | None = None,
) -> Path:
    """Write "image | prediction | ground truth" (or the first two) side by side, atomically.

    A title sits above each column and a legend of the classes shown below them.
    ``image_uint8`` is ``[3, H, W]`` (as the data package loads it) or ``[H, W, 3]``.
    """
    picture = _hwc(image_uint8)
    masks = [_ids(pred)] + ([] if target is None else [_ids(target)])
    for mask in masks:
        if mask.shape != picture.shape[:2]:
            raise CompressError(
                f"panel {path}: mask shape {mask.shape} differs from image shape "
                f"{picture.shape[:2]}"
            )
    shown = sorted({int(v) for m in masks for v in np.unique(m) if v != ignore_index})
    if palette is None:
        palette = default_palette(max(shown, default=0) + 1)
    titled = [("image", picture), ("prediction", colorize(masks[0], palette, ignore_index))]
    if target is not None:
        titled.append(("ground truth", colorize(masks[1], palette, ignore_index)))
    legend = [(_class_name(c, class_names), tuple(palette[c])) for c in shown]
    panel = _draw_panel(titled, legend)
    return _save_png(np.asarray(panel), Path(path))


def predict_folder(
    checkpoint_path: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    device: str | torch.device = "auto",
) -> list[Path]:
    """Predict every image of a file or folder with a checkpoint; return the files written.

    Colours, class names and the ignore index come from the checkpoint's data set
    info when it has one. A label is looked for beside each image (``image/`` or
    ``images/`` with a sibling ``mask/``, ``masks/``, ``label/`` or ``labels/`` holding
    ``<stem>.png`` or ``<stem>_lab.png``); without one the panel has two columns.
    """
    from compress.core.checkpoint import load_checkpoint
    from compress.data.images import read_mask

    images = find_images(input_path)
    checkpoint = load_checkpoint(checkpoint_path)
    source = f"checkpoint {checkpoint_path}"
    info = checkpoint_info(checkpoint.dataset, checkpoint.spec.num_classes, source=source)
    palette, target_device, out = info.colors(), resolve_device(device), Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CompressError(f"output {out} is a file; expected a folder (created if missing)")
    model = checkpoint.model.to(target_device)
    written: list[Path] = []
    for image_path in images:
        raw = read_image_tensor(image_path)
        mask = predict_mask(model, normalize(raw), device=target_device)
        label_path = find_label(image_path)
        label = None if label_path is None else read_mask(label_path, info)
        if label is not None and label.shape != tuple(raw.shape[1:]):
            raise CompressError(
                f"label {label_path} is {label.shape[1]}x{label.shape[0]} but image "
                f"{image_path} is {raw.shape[2]}x{raw.shape[1]}; they must match"
            )
        stem = image_path.stem
        written.append(_save_png(mask.numpy().astype(_id_dtype(info)), out / f"{stem}_mask.png"))
        written.append(_save_png(colorize(mask, palette), out / f"{stem}_color.png"))
        written.append(
            save_panel(
                raw,
                mask,
                label,
                out / f"{stem}_panel.png",
                palette=palette,
                class_names=info.class_names,
                ignore_index=info.ignore_index,
            )
        )
    return written


def checkpoint_info(
    dataset: dict[str, Any] | None, num_classes: int, *, source: str
) -> DatasetInfo:
    """The checkpoint's data set info, or a generic one (ids as names, 255 ignored)."""
    from compress.core.specs import parse_spec

    if dataset:
        info = parse_spec(DatasetInfo, dataset, source=f"{source} 'dataset'")
        if info.num_classes != num_classes:
            raise CompressError(
                f"{source}: its data set info names {info.num_classes} classes but the model "
                f"predicts {num_classes}"
            )
        return info
    return DatasetInfo(
        name="unknown",
        class_names=[f"class {i}" for i in range(num_classes)],
        ignore_index=255 if num_classes <= 255 else None,
    )


def find_images(input_path: str | os.PathLike[str]) -> list[Path]:
    """The images to predict: one file, or a folder's (or its ``image(s)/``'s), sorted.

    Files named like our outputs (``*_mask.png``, ...) are skipped, so predicting into
    the input folder twice does not predict the predictions.
    """
    path = Path(input_path)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise CompressError(
                f"input {path} is not an image; expected one of {', '.join(IMAGE_SUFFIXES)}"
            )
        return [path]
    if not path.is_dir():
        raise CompressError(f"input {path} does not exist; expected an image file or a folder")
    for folder in (path, *(path / name for name in IMAGE_DIRS)):
        found = (
            sorted(
                p
                for p in folder.glob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not p.stem.endswith(OUTPUT_SUFFIXES)
            )
            if folder.is_dir()
            else []
        )
        if found:
            return found
    raise CompressError(
        f"input folder {path} holds no {'/'.join(IMAGE_SUFFIXES)} images "
        f"(also looked in {'/'.join(IMAGE_DIRS)}/)"
    )


def find_label(image_path: Path) -> Path | None:
    """The label beside an image in an ``image(s)/`` folder, or ``None``."""
    folder = image_path.parent
    if folder.name.lower() not in IMAGE_DIRS:
        return None
    for sibling in LABEL_DIRS:
        for name in (f"{image_path.stem}.png", f"{image_path.stem}_lab.png"):
            candidate = folder.parent / sibling / name
            if candidate.is_file():
                return candidate
    return None


def read_image_tensor(path: Path) -> Tensor:
    """An image file as uint8 ``[3, H, W]``; CompressError naming the file if unreadable."""
    from compress.data.images import read_image as read_rgb

    return torch.from_numpy(read_rgb(path)).permute(2, 0, 1).contiguous()


def _save_png(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(array))
    atomic.write_with(path, lambda tmp: picture.save(tmp, format="PNG"))
    return path


def _id_dtype(info: DatasetInfo) -> type:
    highest = max(info.num_classes - 1, info.ignore_index or 0)
    return np.uint8 if highest < 256 else np.uint16


def _draw_panel(titled: list[tuple[str, np.ndarray]], legend: list[tuple[str, tuple]]) -> Any:
    """Columns with a title band above and a wrapped legend of coloured swatches below."""
    from PIL import Image, ImageDraw, ImageFont

    height, width = titled[0][1].shape[:2]
    size = max(10, min(24, width // 16))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        font = ImageFont.load_default()
    band, gap = size + 8, 4
    total_width = len(titled) * width + (len(titled) - 1) * gap
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    places, x, row = [], 0.0, 0
    for name, colour in legend:
        step = 3 * size + 4 + measure.textlength(name, font=font)
        if x and x + step > total_width:
            x, row = 0.0, row + 1
        places.append((name, colour, x, row))
        x += step
    rows = row + 1 if legend else 0
    panel = Image.new("RGB", (total_width, band + height + rows * band), "white")
    draw = ImageDraw.Draw(panel)
    for column, (title, picture) in enumerate(titled):
        left = column * (width + gap)
        draw.text((left + 4, 4), title, fill="black", font=font)
        panel.paste(Image.fromarray(picture), (left, band))
    for name, colour, x, row in places:
        y = band + height + 4 + row * band
        draw.rectangle([x + 4, y, x + 4 + size, y + size], fill=colour, outline="black")
        draw.text((x + size + 8, y), name, fill="black", font=font)
    return panel


def _palette_array(palette: Palette) -> np.ndarray:
    lut = np.asarray(palette)
    if lut.ndim != 2 or lut.shape[1] != 3 or lut.size == 0 or lut.min() < 0 or lut.max() > 255:
        raise CompressError(
            f"palette must be a list of [r, g, b] colours with values 0..255, got shape {lut.shape}"
        )
    return lut.astype(np.uint8)


def _hwc(image: Tensor | np.ndarray) -> np.ndarray:
    array = image.cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[2] != 3:
        array = array.transpose(1, 2, 0)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise CompressError(
            f"panel image must be uint8 [3, H, W] or [H, W, 3], got {array.shape} {array.dtype}"
        )
    return np.ascontiguousarray(array)


def _ids(mask: Tensor | np.ndarray) -> np.ndarray:
    return (mask.cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)).astype(np.int64)


def _class_name(index: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and index < len(class_names):
        return f"{index} {class_names[index]}"
    return f"class {index}"
