"""The canvas a synthetic scene is drawn on: class ids, textures, geometry helpers.

:class:`Scene` holds the label map, the clean colour image and the random generator of
one scene; :mod:`compress.data.scenes` draws its layers (ground, water, roads,
buildings, pools, trees, vehicles) onto it and photographs the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral

import numpy as np
from PIL import Image, ImageDraw

from compress.core.errors import CompressError

BACKGROUND, BUILDING, ROAD, WATER, TREE, VEHICLE, POOL, GRASS = range(8)
# Texture amplitude per class: pixel noise and mid-scale (about 6 px) blotches.
FINE = np.array([0.07, 0.03, 0.05, 0.015, 0.10, 0.02, 0.02, 0.08], dtype=np.float32)
MID = np.array([0.10, 0.02, 0.04, 0.04, 0.18, 0.0, 0.03, 0.12], dtype=np.float32)
CAR_COLOURS = [(235, 235, 235), (35, 35, 40), (170, 172, 175), (180, 40, 40), (45, 70, 160)]

Region = tuple[slice, slice, np.ndarray]  # rows, cols, boolean footprint inside them
Road = tuple[np.ndarray, float]  # centreline points (x, y), width in pixels
Building = tuple[np.ndarray, float, float, float, np.ndarray]  # centre, hx, hy, angle, normal
Colour = np.ndarray | Sequence[float]
Drawer = Callable[[ImageDraw.ImageDraw, int, int], None]


def scene_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` of a scene; an int means a square. At least 16 x 16."""
    dims = (size, size) if isinstance(size, Integral) else size
    if (
        not isinstance(dims, tuple | list)
        or len(dims) != 2
        or not all(isinstance(d, Integral) and not isinstance(d, bool) for d in dims)
        or not all(16 <= d <= 8192 for d in dims)
    ):
        raise CompressError(
            f"scene size {size!r} is invalid; use an int or (height, width) in 16..8192"
        )
    return int(dims[0]), int(dims[1])


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Bicubic-upsampled uniform noise with features about ``cell`` pixels wide, in [0, 1]."""
    grid = rng.random((max(2, round(h / cell) + 1), max(2, round(w / cell) + 1)))
    field = Image.fromarray(grid.astype(np.float32)).resize((w, h), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(field), 0.0, 1.0)


def member(labels: np.ndarray, classes: list[int]) -> np.ndarray:
    """``np.isin(labels, classes)`` for small class ids, through a lookup table (faster)."""
    table = np.zeros(256, bool)
    table[classes] = True
    return table[labels]


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate (x, y) rows by ``angle`` radians about the origin."""
    c, s = math.cos(angle), math.sin(angle)
    return np.asarray(points, dtype=np.float64) @ np.array([[c, s], [-s, c]])


def rect_points(cx: float, cy: float, hx: float, hy: float, angle: float) -> np.ndarray:
    """Corners (x, y) of a rectangle with half sizes ``hx`` x ``hy`` rotated by ``angle``."""
    return rotate([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]], angle) + (cx, cy)


class Scene:
    """The label map, the albedo (colour before lighting) and a shadow layer of one scene."""

    def __init__(self, h: int, w: int, rng: np.random.Generator) -> None:
        self.h, self.w, self.rng = h, w, rng
        self.scale = min(h, w) / 256
        self.area = h * w / 256**2
        self.labels = np.zeros((h, w), np.uint8)
        self.albedo = np.zeros((h, w, 3), np.float32)
        self.shadow = Image.new("L", (w, h), 0)
        self.shadow_draw = ImageDraw.Draw(self.shadow)
        self.sun = rng.uniform(0, 2 * math.pi)  # direction shadows fall towards

    def region(self, bbox: tuple[float, float, float, float], draw: Drawer) -> Region | None:
        """Rasterise ``draw(ImageDraw, dx, dy)`` inside ``bbox`` (x0, y0, x1, y1), clipped."""
        x0, y0 = max(0, math.floor(bbox[0])), max(0, math.floor(bbox[1]))
        x1, y1 = min(self.w, math.ceil(bbox[2]) + 1), min(self.h, math.ceil(bbox[3]) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        layer = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw(ImageDraw.Draw(layer), x0, y0)
        footprint = np.asarray(layer) > 0
        return (slice(y0, y1), slice(x0, x1), footprint) if footprint.any() else None

    def polygon(self, points: np.ndarray) -> Region | None:
        """Any simple polygon, rasterised by PIL."""
        (x0, y0), (x1, y1) = points.min(0), points.max(0)
        pts = [(float(x), float(y)) for x, y in points]
        return self.region(
            (x0, y0, x1, y1), lambda d, dx, dy: d.polygon([(x - dx, y - dy) for x, y in pts], 1)
        )

    def disc(self, cx: float, cy: float, r: float) -> Region | None:
        """A filled circle, computed in numpy (faster than a PIL layer for small shapes)."""
        x0, y0 = max(0, math.floor(cx - r)), max(0, math.floor(cy - r))
        x1, y1 = min(self.w, math.ceil(cx + r) + 1), min(self.h, math.ceil(cy + r) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        xs, ys = np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        footprint = (xs[None] - cx) ** 2 + (ys[:, None] - cy) ** 2 <= r * r
        return (slice(y0, y1), slice(x0, x1), footprint) if footprint.any() else None

    def line(self, points: np.ndarray, width: float) -> Region | None:
        (x0, y0), (x1, y1) = points.min(0) - width, points.max(0) + width
        pts, px = [(float(x), float(y)) for x, y in points], max(1, round(width))
        return self.region(
            (x0, y0, x1, y1),
            lambda d, dx, dy: d.line([(x - dx, y - dy) for x, y in pts], 1, px, joint="curve"),
        )

    def labels_in(self, region: Region) -> np.ndarray:
        rows, cols, footprint = region
        return self.labels[rows, cols][footprint]

    def any_of(self, region: Region, classes: list[int]) -> bool:
        """Whether any pixel of ``region`` currently has one of ``classes``."""
        return bool(member(self.labels_in(region), classes).any())

    def paint(
        self,
        region: Region | None,
        cls: int | None,
        colour: Colour,
        allowed: list[int] | None = None,
    ) -> None:
        """Set label ``cls`` (None: keep labels) and albedo ``colour`` (RGB or full field)."""
        if region is None:
            return
        rows, cols, footprint = region
        if allowed is not None:
            footprint = footprint & member(self.labels[rows, cols], allowed)
        if cls is not None:
            self.labels[rows, cols][footprint] = cls
        value = colour[rows, cols][footprint] if np.ndim(colour) == 3 else colour
        self.albedo[rows, cols][footprint] = value

    def cast(self, points: np.ndarray, height: float) -> None:
        """Draw the shadow of a prism with footprint ``points`` and ``height`` pixels."""
        v = np.array([math.cos(self.sun), math.sin(self.sun)]) * height
        shifted = points + v
        self.shadow_draw.polygon([tuple(p) for p in shifted], fill=255)
        for i in range(len(points)):
            j = (i + 1) % len(points)
            quad = [points[i], points[j], shifted[j], shifted[i]]
            self.shadow_draw.polygon([(float(x), float(y)) for x, y in quad], fill=255)

    def field(self, a: Colour, b: Colour, cell: float) -> np.ndarray:
        """A colour field blending colours ``a`` and ``b`` through smooth noise."""
        t = smooth_noise(self.rng, self.h, self.w, cell)[..., None]
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        return a + (b - a) * t
