"""Paired image/mask transforms built on ``torchvision.transforms.v2``.

Each transform takes ``(image uint8 [3,H,W], mask int64 [H,W])`` and returns
``(image float32 [3,H,W] normalised with the ImageNet mean/std, mask int64 [H,W])``.
Inside, the pair is wrapped as ``tv_tensors.Image`` and ``tv_tensors.Mask`` so every
geometric op draws one set of random parameters and applies it to both; masks are
always resampled with nearest-neighbour interpolation (no invented labels), and
colour ops touch the image only. Pixels that a rotation or padding brings in are
filled with black in the image and, in the mask, with the data set's ignore index or,
when it has none, with :data:`FILL_LABEL` - never with a real class, which would teach
the model that black borders are "background". :func:`loss_ignore_index` is the label
the loss must skip for either case.
"""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

FILL_LABEL = 255  # mask fill for data sets without an ignore index (labels are 8-bit)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The study's augmentation: random resized crop, rotation, flips, colour jitter. The
# resize is a zoom *relative to the image's own resolution* (0.5x-2x, as torchvision's
# segmentation references do), not a fraction of the image area squeezed into the crop:
# with small crops of large frames the latter shrinks every training sample 1.6-3.75x
# (CamVid 360x480 -> 128), so the model learns objects at a scale that full-image
# evaluation never shows it.
ZOOM_RANGE = (0.5, 2.0)
ROTATION_DEGREES = 15.0
JITTER = {"brightness": 0.25, "contrast": 0.25, "saturation": 0.25, "hue": 0.03}


class PairTransform:
    """Apply a v2 pipeline to an image and its mask together; return plain tensors."""

    def __init__(self, ops: list[v2.Transform]) -> None:
        self.pipeline = v2.Compose(ops)

    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out_image, out_mask = self.pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return out_image.as_subclass(torch.Tensor), out_mask.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return f"PairTransform({self.pipeline!r})"


def loss_ignore_index(ignore_index: int | None) -> int:
    """The label a loss must skip: the data set's ignore index, else :data:`FILL_LABEL`."""
    return FILL_LABEL if ignore_index is None else ignore_index


def _fill(ignore_index: int | None) -> dict[type, int]:
    return {tv_tensors.Image: 0, tv_tensors.Mask: loss_ignore_index(ignore_index)}


def _to_normalised_float() -> list[v2.Transform]:
    return [
        v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64}, scale=True),
        v2.Normalize(mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD)),
    ]


def train_transform(
    crop: int, *, augment: bool = True, ignore_index: int | None = None
) -> PairTransform:
    """Training pipeline producing ``crop x crop`` samples.

    ``augment=True``: random zoom (0.5-2x of the native resolution) and rotation
    (+-15 degrees) in one affine warp, then a random ``crop x crop`` window (padded when
    the zoomed image is smaller), horizontal and vertical flips, colour jitter.
    ``augment=False``: a plain random crop, padded first when the image is smaller than
    ``crop``.
    """
    if not isinstance(crop, int) or crop < 1:
        raise ValueError(f"crop must be a positive int, got {crop!r}")
    fill = _fill(ignore_index)
    if augment:
        ops: list[v2.Transform] = [
            v2.RandomAffine(
                ROTATION_DEGREES,
                scale=ZOOM_RANGE,
                interpolation=v2.InterpolationMode.BILINEAR,
                fill=fill,
            ),
            v2.RandomCrop(crop, pad_if_needed=True, fill=fill),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.ColorJitter(**JITTER),
        ]
    else:
        ops = [v2.RandomCrop(crop, pad_if_needed=True, fill=fill)]
    return PairTransform(ops + _to_normalised_float())


def eval_transform() -> PairTransform:
    """Evaluation pipeline: the whole image, converted to float and normalised."""
    return PairTransform(_to_normalised_float())


def normalize(image: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., 3, H, W]`` -> float32 normalised with the ImageNet mean/std."""
    mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=image.device).view(3, 1, 1)
    return (image.to(torch.float32) / 255.0 - mean) / std


def denormalize(t: torch.Tensor) -> torch.Tensor:
    """Undo :func:`normalize`: float ``[..., 3, H, W]`` -> uint8 (for display)."""
    mean = torch.tensor(IMAGENET_MEAN, device=t.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=t.device).view(3, 1, 1)
    return ((t.detach().float() * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)
