"""Synthetic aerial scenes with the study's 8 classes, deterministic from a seed.

FloodNet cannot be downloaded here, so ``render_scene`` draws a stand-in that poses
the same problems: a road network (connected strips with vehicles on them),
buildings as rotated rectangles with gable or flat roofs and cast shadows, small
pools beside some buildings, tree clusters, water bodies, grass and bare ground.
Small objects (vehicles, pools) are the hard classes, as in the real data.

Colours alone do not separate the classes: every scene draws its own palette (dry
grass looks like soil, grey roofs like roads, muddy water like bare ground), each
class has its own texture (rough tree crowns, flat water, dashed road markings), and
a per-scene illumination (gain, tint, gradient), shadows, sensor noise and blur sit
on top. Only numpy and PIL are used; a 256 x 256 scene takes a few tens of ms.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFilter
from pydantic import Field, model_validator

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.specs import Spec, parse_spec
from compress.data.info import DESCRIPTOR, SYNTHETIC_AERIAL, read_descriptor

logger = logging.getLogger(__name__)
GENERATOR_VERSION = 1  # bump when a change to the drawing alters the scenes of a seed

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


def _colour(rng: np.random.Generator, low: Colour, high: Colour) -> np.ndarray:
    return rng.uniform(low, high).astype(np.float32)


def _ground(scene: Scene) -> None:
    """Bare ground everywhere, then grass patches; dry grass overlaps soil in colour."""
    rng = scene.rng
    soil = rng.uniform(110, 180) * _colour(rng, (1, 0.8, 0.6), (1, 0.92, 0.8))
    gravel = rng.uniform(100, 170) * _colour(rng, (1, 0.93, 0.82), (1, 1, 0.95))
    soil_field = scene.field(soil, gravel, 48 * scene.scale)
    lush = rng.uniform(95, 150) * _colour(rng, (0.55, 1, 0.4), (0.8, 1, 0.65))
    dry = rng.uniform(115, 165) * _colour(rng, (0.95, 0.92, 0.55), (1.05, 1, 0.72))
    grass_field = scene.field(lush, dry, 64 * scene.scale)
    grass = smooth_noise(rng, scene.h, scene.w, 40 * scene.scale) > rng.uniform(0.35, 0.65)
    scene.labels[:] = np.where(grass, GRASS, BACKGROUND)
    scene.albedo[:] = np.where(grass[..., None], grass_field, soil_field)


def _water(scene: Scene) -> None:
    """One or two ponds or rivers; clear blue-green or muddy brown, smooth texture."""
    rng, s = scene.rng, scene.scale
    base = _colour(rng, (25, 50, 60), (70, 100, 120))
    if rng.random() < 0.4:  # flood water: brown like the soil, but flat
        base = _colour(rng, (95, 80, 55), (145, 125, 90))
    colour = scene.field(base, base * 1.12, 32 * s)
    for _ in range(rng.integers(1, 3)):
        cx, cy = rng.uniform(0, scene.w), rng.uniform(0, scene.h)
        if rng.random() < 0.35:
            angle, length = rng.uniform(0, math.pi), math.hypot(scene.h, scene.w)
            t = np.linspace(-length, length, 9)
            wobble = np.sin(t / length * rng.uniform(3, 7) + rng.uniform(0, 6)) * 12 * s
            points = np.stack([cx + t * math.cos(angle) - wobble * math.sin(angle),
                               cy + t * math.sin(angle) + wobble * math.cos(angle)], 1)  # fmt: skip
            scene.paint(scene.line(points, rng.uniform(8, 24) * s), WATER, colour)
        else:
            theta = np.linspace(0, 2 * math.pi, 24, endpoint=False)
            radius = rng.uniform(10, 40) * s * (1 + sum(
                rng.uniform(0, 0.2) * np.sin(k * theta + rng.uniform(0, 6)) for k in (1, 2, 3)
            ))  # fmt: skip
            points = np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)], 1)
            scene.paint(scene.polygon(points), WATER, colour)


def _roads(scene: Scene) -> list[Road]:
    """A gently curving main road across the scene plus connected branches."""
    rng, s = scene.rng, scene.scale
    diag = math.hypot(scene.h, scene.w)
    angle = rng.uniform(0, math.pi)
    u = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-u[1], u[0]])
    centre = np.array([scene.w, scene.h]) * rng.uniform(0.3, 0.7, 2)
    t = np.linspace(-diag, diag, 7)
    main = centre + t[:, None] * u + rng.uniform(-0.05, 0.05, (7, 1)) * diag * n
    width = max(3.0, rng.uniform(8, 15) * s)
    roads = [(main, width)]
    dense = np.concatenate([np.linspace(main[i], main[i + 1], 16) for i in range(len(main) - 1)])
    for _ in range(rng.integers(1, 4)):
        target = np.array([scene.w, scene.h]) * rng.uniform(0.15, 0.85, 2)
        junction = dense[np.argmin(((dense - target) ** 2).sum(1))]
        sides = (1, -1) if rng.random() < 0.4 else (rng.choice([1, -1]),)
        for side in sides:
            turn = angle + side * math.pi / 2 + rng.uniform(-0.3, 0.3)
            d = np.array([math.cos(turn), math.sin(turn)])
            bend = rng.uniform(-0.1, 0.1) * diag * np.array([-d[1], d[0]])
            branch = junction + np.stack([0 * d, d * diag * 0.5 + bend, d * diag * 1.2])
            roads.append((branch, max(3.0, width * rng.uniform(0.6, 0.9))))
    grey = rng.uniform(85, 150)
    tints = rng.uniform(0.95, 1.05, 3), rng.uniform(0.85, 1.0, 3)
    asphalt = scene.field(grey * tints[0], grey * tints[1], 24 * s)
    for points, road_width in roads:
        scene.paint(scene.line(points, road_width), ROAD, asphalt)
    if width >= 8:  # dashed centre line on the main road, painted but still "road"
        paint = np.full(3, rng.uniform(190, 240), np.float32)
        for a, b in zip(dense[0:-1:2], dense[1::2], strict=True):
            (cx, cy), (dx, dy) = (a + b) / 2, b - a
            half_length, angle = math.hypot(dx, dy) / 2, math.atan2(dy, dx)
            dash = scene.polygon(rect_points(cx, cy, half_length, max(0.5, s / 2), angle))
            scene.paint(dash, None, paint, allowed=[ROAD])
    return roads


def _on_road(scene: Scene, roads: list[Road]) -> tuple[np.ndarray, np.ndarray, float] | None:
    """A random point on a road centreline inside the scene, its direction and road width."""
    rng = scene.rng
    for _ in range(20):
        points, width = roads[rng.integers(len(roads))]
        i = rng.integers(len(points) - 1)
        a, b = points[i], points[i + 1]
        p = a + (b - a) * rng.random()
        if 0 <= p[0] < scene.w and 0 <= p[1] < scene.h:
            return p, (b - a) / (np.linalg.norm(b - a) + 1e-9), width
    return None


def _buildings(scene: Scene, roads: list[Road]) -> list[Building]:
    """Rotated rectangles facing the roads, with gable or flat roofs and shadows."""
    rng, s = scene.rng, scene.scale
    placed: list[Building] = []
    target = max(2, round(rng.uniform(6, 18) * scene.area))
    for _ in range(target * 8):
        if len(placed) >= target:
            break
        hx, hy = max(3.0, rng.uniform(5, 12) * s), max(2.5, rng.uniform(4, 9) * s)
        spot = _on_road(scene, roads) if rng.random() < 0.8 else None
        if spot is not None:
            p, d, width = spot
            normal = np.array([-d[1], d[0]]) * rng.choice([1, -1])
            centre = p + normal * (width / 2 + rng.uniform(3, 10) * s + hy)
            angle = math.atan2(d[1], d[0]) + rng.uniform(-0.12, 0.12)
        else:
            centre = np.array([rng.uniform(0, scene.w), rng.uniform(0, scene.h)])
            angle, normal = rng.uniform(0, math.pi), rng.normal(size=2)
        margin = scene.polygon(rect_points(*centre, hx + 2, hy + 2, angle))
        if margin is None or scene.any_of(margin, [ROAD, WATER, BUILDING, POOL]):
            continue
        corners = rect_points(*centre, hx, hy, angle)
        scene.cast(corners, rng.uniform(3, 7) * s)
        roof = _roof_colour(rng)
        if rng.random() < 0.65:  # gable roof: two halves lit differently
            scene.paint(scene.polygon(corners), BUILDING, roof * 1.12)
            half = rect_points(*(centre + rotate([0, hy / 2], angle)), hx, hy / 2, angle)
            scene.paint(scene.polygon(half), None, roof * 0.85, allowed=[BUILDING])
        else:  # flat roof with a parapet and a few rooftop units
            scene.paint(scene.polygon(corners), BUILDING, roof * 0.8)
            scene.paint(scene.polygon(rect_points(*centre, hx * 0.85, hy * 0.8, angle)), None, roof)
            for _ in range(rng.integers(0, 3)):
                spot_xy = centre + rotate(rng.uniform(-0.6, 0.6, 2) * (hx, hy), angle)
                scene.paint(scene.disc(*spot_xy, max(1.0, 1.5 * s)), None, roof * 1.3, [BUILDING])
        placed.append((centre, hx, hy, angle, normal / (np.linalg.norm(normal) + 1e-9)))
    return placed


def _roof_colour(rng: np.random.Generator) -> np.ndarray:
    families = [((95, 95, 95), (185, 185, 190)), ((150, 65, 45), (195, 105, 80)),
                ((95, 75, 55), (145, 110, 85)), ((185, 180, 170), (235, 230, 225)),
                ((45, 45, 50), (85, 85, 90))]  # fmt: skip
    low, high = families[rng.integers(len(families))]
    return _colour(rng, low, high)


def _pools(scene: Scene, buildings: list[Building]) -> None:
    """Small pools in the yard behind some buildings, with a light concrete rim."""
    rng, s = scene.rng, scene.scale
    placed = 0
    for index, (centre, hx, hy, angle, normal) in enumerate(buildings):
        last_chance = placed == 0 and index == len(buildings) - 1
        if rng.random() > 0.4 and not last_chance:
            continue
        px, py = max(2.5, rng.uniform(3, 6) * s), max(1.5, rng.uniform(2, 3.5) * s)
        pad = 1.5 * s + 1  # width of the concrete rim
        for _ in range(6):
            along = rotate([rng.uniform(-hx, hx) * 0.6, 0], angle)
            spot = centre + normal * (hy + py + pad + 1 + rng.uniform(0, 4) * s) + along
            rim = scene.polygon(rect_points(*spot, px + pad, py + pad, angle))
            if rim is None or scene.any_of(rim, [ROAD, WATER, BUILDING, TREE, VEHICLE, POOL]):
                continue
            scene.paint(rim, BACKGROUND, _colour(rng, (185, 180, 170), (230, 225, 215)))
            shape = rect_points(*spot, px, py, angle)
            if rng.random() < 0.3:  # a kidney-ish oval instead of a rectangle
                theta = np.linspace(0, 2 * math.pi, 16, endpoint=False)
                shape = spot + rotate(np.stack([px * np.cos(theta), py * np.sin(theta)], 1), angle)
            scene.paint(scene.polygon(shape), POOL, _colour(rng, (50, 150, 175), (120, 215, 240)))
            placed += 1
            break


def _trees(scene: Scene) -> None:
    """Clusters of round crowns, lit on the sunny side, casting shadows."""
    rng, s = scene.rng, scene.scale
    base = _colour(rng, (25, 55, 25), (75, 110, 60))
    toward_sun = -np.array([math.cos(scene.sun), math.sin(scene.sun)])
    for _ in range(max(2, round(rng.uniform(3, 9) * scene.area))):
        cx, cy, spread = rng.uniform(0, scene.w), rng.uniform(0, scene.h), rng.uniform(4, 16) * s
        for _ in range(rng.integers(2, 14)):
            x, y = cx + rng.normal() * spread, cy + rng.normal() * spread
            r = max(1.5, rng.uniform(3, 7) * s)
            crown = scene.disc(x, y, r)
            if crown is None or not scene.any_of(crown, [BACKGROUND, GRASS]):
                continue
            scene.shadow_draw.ellipse(
                (x - r + math.cos(scene.sun) * r, y - r + math.sin(scene.sun) * r,
                 x + r + math.cos(scene.sun) * r, y + r + math.sin(scene.sun) * r), fill=255
            )  # fmt: skip
            scene.paint(crown, TREE, base * rng.uniform(0.8, 1.2), allowed=[BACKGROUND, GRASS])
            lit = scene.disc(x + toward_sun[0] * r * 0.35, y + toward_sun[1] * r * 0.35, r * 0.5)
            scene.paint(lit, None, base * 1.35, allowed=[TREE])


def _vehicles(scene: Scene, roads: list[Road]) -> None:
    """Small cars on the roads, aligned with the lane, each with a dark windscreen."""
    rng, s = scene.rng, scene.scale
    target = max(2, round(rng.uniform(3, 12) * scene.area))
    placed = 0
    for _ in range(target * 6):
        if placed >= target:
            break
        spot = _on_road(scene, roads)
        if spot is None:
            return
        p, d, width = spot
        hx, hy = max(2.0, rng.uniform(3, 4.5) * s), max(1.0, rng.uniform(1.5, 2) * s)
        lane = np.array([-d[1], d[0]]) * rng.choice([1, -1]) * width / 4
        centre, angle = p + lane, math.atan2(d[1], d[0])
        body = scene.polygon(rect_points(*centre, hx, hy, angle))
        if body is None or (scene.labels_in(body) != ROAD).mean() > 0.2:
            continue
        colour = np.clip(np.array(CAR_COLOURS[rng.integers(len(CAR_COLOURS))])
                         * rng.uniform(0.85, 1.1), 0, 255)  # fmt: skip
        scene.cast(rect_points(*centre, hx, hy, angle), 1.5 * s)
        scene.paint(body, VEHICLE, colour, allowed=[ROAD])
        front = centre + d * hx * 0.35
        glass = scene.polygon(rect_points(*front, hx * 0.2, hy * 0.8, angle))
        scene.paint(glass, None, colour * 0.35, allowed=[VEHICLE])
        placed += 1


def _photograph(scene: Scene) -> np.ndarray:
    """Texture, shadows, illumination, sensor noise and blur applied to the albedo."""
    rng, h, w, labels = scene.rng, scene.h, scene.w, scene.labels
    fine = rng.standard_normal((h, w), dtype=np.float32)
    mid = smooth_noise(rng, h, w, 6)
    mid = (mid - mid.mean()) / (mid.std() + 1e-6)
    image = scene.albedo * (1 + FINE[labels] * fine + MID[labels] * mid)[..., None]
    shaded = (np.asarray(scene.shadow) > 0) & ~member(labels, [BUILDING, TREE])
    image[shaded] *= rng.uniform(0.45, 0.7)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    ramp = (xs * math.cos(a) + ys * math.sin(a)) / max(h, w)
    light = rng.uniform(0.75, 1.2) * (1 + rng.uniform(0, 0.2) * (ramp - ramp.mean()))
    image *= light[..., None] * rng.uniform(0.92, 1.08, 3).astype(np.float32)
    image += rng.standard_normal(image.shape, dtype=np.float32) * rng.uniform(2, 7)
    photo = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    return np.asarray(photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))).copy()


def render_scene(seed: int, size: int | tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Draw one aerial scene: ``(H x W x 3 uint8 image, H x W uint8 class ids)``.

    The same ``seed`` and ``size`` always give the same arrays; ``size`` is an int
    for a square or ``(height, width)``.
    """
    h, w = scene_size(size)
    scene = Scene(h, w, np.random.default_rng(seed))
    _ground(scene)
    _water(scene)
    roads = _roads(scene)
    buildings = _buildings(scene, roads)
    _pools(scene, buildings)
    _trees(scene)
    _vehicles(scene, roads)
    return _photograph(scene), scene.labels.copy()


# --------------------------------------------------------------------------- data set


class SyntheticSpec(Spec):
    """How a synthetic data set is generated; stored as ``generator:`` in dataset.yaml."""

    n: int = Field(ge=3, le=1_000_000)
    size: int = Field(ge=16, le=8192)
    seed: int = Field(ge=0)
    val_fraction: float = Field(default=0.2, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _every_split_gets_one(self) -> SyntheticSpec:
        sizes = self.split_sizes()
        if sizes["train"] < 1:
            raise ValueError(
                f"n={self.n} with val_fraction={self.val_fraction} and test_fraction="
                f"{self.test_fraction} leaves no training image; raise n or lower the fractions"
            )
        return self

    def split_sizes(self) -> dict[str, int]:
        """Images per split: val and test get their fraction (at least 1), train the rest."""
        val = max(1, round(self.n * self.val_fraction))
        test = max(1, round(self.n * self.test_fraction))
        return {"train": self.n - val - test, "val": val, "test": test}

    def generator_block(self) -> dict[str, Any]:
        return {**self.model_dump(), "version": GENERATOR_VERSION}


def scene_seed(seed: int, index: int) -> int:
    """The seed of scene ``index`` of a data set generated with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def write_synthetic_dataset(
    out: str | os.PathLike[str],
    *,
    n: int,
    size: int,
    seed: int,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write ``n`` scenes in the FloodNet layout under ``out`` and return ``out``.

    ``{train,val,test}/image/scene_*.png`` + ``{split}/mask/scene_*.png`` and a
    ``dataset.yaml`` (the SYNTHETIC_AERIAL descriptor plus a ``generator`` block).
    The tree is built in a temporary folder beside ``out`` and renamed into place. An
    existing ``out`` generated with the same parameters is reused; anything else there
    is an error, never overwritten. ``log`` receives one line saying what happened.
    """
    spec = parse_spec(
        SyntheticSpec,
        {"n": n, "size": size, "seed": seed, "val_fraction": val_fraction,
         "test_fraction": test_fraction},
        source="synthetic data set",
    )  # fmt: skip
    out, say = Path(os.path.abspath(out)), log or logger.info
    if _reusable(out, spec):
        say(f"reusing {out}: it already holds this data set (n={n}, size={size}, seed={seed})")
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. a path component is a file
        raise CompressError(
            f"cannot create {out.parent} ({error.strerror}); choose another --out"
        ) from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the published data set should not be
    try:
        _write_tree(tmp, spec)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        try:
            os.rename(tmp, out)
        except OSError:  # another process published first: reuse it if it matches
            if not _reusable(out, spec):
                raise
            say(f"reusing {out}: written concurrently with the same parameters")
            return out
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    sizes = spec.split_sizes()
    say(f"wrote {n} scenes of {size}x{size} to {out} "
        f"(train {sizes['train']}, val {sizes['val']}, test {sizes['test']})")  # fmt: skip
    return out


def _write_tree(root: Path, spec: SyntheticSpec) -> None:
    digits = max(5, len(str(spec.n - 1)))
    index = 0
    for split, count in spec.split_sizes().items():
        for sub in ("image", "mask"):
            (root / split / sub).mkdir(parents=True)
        for _ in range(count):
            image, mask = render_scene(scene_seed(spec.seed, index), spec.size)
            name = f"scene_{index:0{digits}d}.png"
            Image.fromarray(image).save(root / split / "image" / name, format="PNG")
            Image.fromarray(mask).save(root / split / "mask" / name, format="PNG")
            index += 1
    descriptor = {**SYNTHETIC_AERIAL.model_dump(mode="json"), "generator": spec.generator_block()}
    text = yaml.safe_dump(descriptor, sort_keys=False, default_flow_style=None)
    atomic.write_text(root / DESCRIPTOR, text)


def _reusable(out: Path, spec: SyntheticSpec) -> bool:
    """True if ``out`` holds exactly this data set; False if absent or empty; else an error."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise CompressError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return False
    refuse = "refusing to overwrite it; choose another --out or delete the folder"
    if not (out / DESCRIPTOR).is_file():
        raise CompressError(f"{out} already exists and holds no {DESCRIPTOR}; {refuse}")
    generator = read_descriptor(out / DESCRIPTOR).get("generator")
    if not isinstance(generator, dict):
        raise CompressError(
            f"{out / DESCRIPTOR} has no 'generator' block: not written by `compress data synth`; "
            f"{refuse}"
        )
    wanted = spec.generator_block()
    if generator != wanted:
        diffs = (
            ", ".join(
                f"{key}={generator.get(key)!r} (requested {value!r})"
                for key, value in wanted.items()
                if generator.get(key) != value
            )
            or f"unexpected keys {sorted(set(generator) - set(wanted))}"
        )
        raise CompressError(f"{out} holds a synthetic data set generated with {diffs}; {refuse}")
    for split, count in spec.split_sizes().items():
        for sub in ("image", "mask"):
            found = len(list((out / split / sub).glob("*.png")))
            if found != count:
                raise CompressError(
                    f"{out / split / sub} has {found} files but {DESCRIPTOR} promises {count}; "
                    "the folder was modified: delete it and generate again"
                )
    return True
