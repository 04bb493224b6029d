"""Drawing one synthetic aerial scene with the study's 8 classes, deterministic from a seed.

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

import math

import numpy as np
from PIL import Image, ImageFilter

from compress.data.canvas import (
    BACKGROUND,
    BUILDING,
    CAR_COLOURS,
    FINE,
    GRASS,
    MID,
    POOL,
    ROAD,
    TREE,
    VEHICLE,
    WATER,
    Building,
    Colour,
    Road,
    Scene,
    member,
    rect_points,
    rotate,
    scene_size,
    smooth_noise,
)

GENERATOR_VERSION = 1  # bump when a change to the drawing alters the scenes of a seed


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
            points = np.stack(
                [
                    cx + t * math.cos(angle) - wobble * math.sin(angle),
                    cy + t * math.sin(angle) + wobble * math.cos(angle),
                ],
                1,
            )
            scene.paint(scene.line(points, rng.uniform(8, 24) * s), WATER, colour)
        else:
            theta = np.linspace(0, 2 * math.pi, 24, endpoint=False)
            radius = (
                rng.uniform(10, 40)
                * s
                * (
                    1
                    + sum(
                        rng.uniform(0, 0.2) * np.sin(k * theta + rng.uniform(0, 6))
                        for k in (1, 2, 3)
                    )
                )
            )
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
    families = [
        ((95, 95, 95), (185, 185, 190)),
        ((150, 65, 45), (195, 105, 80)),
        ((95, 75, 55), (145, 110, 85)),
        ((185, 180, 170), (235, 230, 225)),
        ((45, 45, 50), (85, 85, 90)),
    ]
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
                (
                    x - r + math.cos(scene.sun) * r,
                    y - r + math.sin(scene.sun) * r,
                    x + r + math.cos(scene.sun) * r,
                    y + r + math.sin(scene.sun) * r,
                ),
                fill=255,
            )
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
        colour = np.clip(
            np.array(CAR_COLOURS[rng.integers(len(CAR_COLOURS))]) * rng.uniform(0.85, 1.1), 0, 255
        )
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
