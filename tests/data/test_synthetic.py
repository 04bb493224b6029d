"""The synthetic aerial-scene generator and the data set writer."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image

from compress.core.errors import CompressError
from compress.data.folder import find_pairs
from compress.data.info import SYNTHETIC_AERIAL, load_dataset_info
from compress.data.synthetic import SyntheticSpec, render_scene, write_synthetic_dataset


def test_same_seed_same_scene_different_seed_different_scene() -> None:
    image, mask = render_scene(7, 96)
    again_image, again_mask = render_scene(7, 96)
    assert np.array_equal(image, again_image) and np.array_equal(mask, again_mask)
    other_image, other_mask = render_scene(8, 96)
    assert not np.array_equal(image, other_image) and not np.array_equal(mask, other_mask)


def test_shapes_dtypes_and_rectangular_sizes() -> None:
    image, mask = render_scene(1, (48, 80))
    assert image.shape == (48, 80, 3) and image.dtype == np.uint8
    assert mask.shape == (48, 80) and mask.dtype == np.uint8
    assert mask.max() < SYNTHETIC_AERIAL.num_classes


@pytest.mark.parametrize("size", [8, (32,), (32, 20000), 32.5])
def test_invalid_sizes_are_user_errors(size) -> None:
    with pytest.raises(CompressError, match="scene size"):
        render_scene(0, size)


def test_every_class_appears_across_a_handful_of_scenes() -> None:
    seen = np.zeros(SYNTHETIC_AERIAL.num_classes, bool)
    for seed in range(6):
        seen |= np.bincount(render_scene(seed, 128)[1].ravel(), minlength=8) > 0
    missing = [SYNTHETIC_AERIAL.class_names[i] for i in np.flatnonzero(~seen)]
    assert not missing, f"classes never drawn: {missing}"


def test_classes_are_not_separable_by_colour_alone() -> None:
    """Per-scene palettes make class colour ranges overlap across scenes."""
    means = {c: [] for c in (0, 2, 7)}  # background, road, grass
    for seed in range(8):
        image, mask = render_scene(seed, 64)
        for c in means:
            if (mask == c).any():
                means[c].append(image[mask == c].mean())
    spans = {c: (min(v), max(v)) for c, v in means.items()}
    road, ground = spans[2], spans[0]
    assert road[0] < ground[1] and ground[0] < road[1], spans


def test_writes_floodnet_layout_with_descriptor(tmp_path) -> None:
    out = write_synthetic_dataset(tmp_path / "ds", n=5, size=32, seed=3)
    assert out == tmp_path / "ds"
    sizes = {split: len(find_pairs(out, split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 3, "val": 1, "test": 1}
    image_path, mask_path = find_pairs(out, "val")[0]
    assert image_path.suffix == ".png" and mask_path.parent.name == "mask"
    assert np.asarray(Image.open(image_path)).shape == (32, 32, 3)
    descriptor = yaml.safe_load((out / "dataset.yaml").read_text())
    assert descriptor["generator"]["n"] == 5 and descriptor["generator"]["seed"] == 3
    assert load_dataset_info(out) == SYNTHETIC_AERIAL
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temporary folder left


def test_scenes_are_rendered_from_derived_seeds(tmp_path) -> None:
    out = write_synthetic_dataset(tmp_path / "ds", n=3, size=32, seed=0)
    again = write_synthetic_dataset(tmp_path / "copy", n=3, size=32, seed=0)
    for split in ("train", "val", "test"):
        for (a, _), (b, _) in zip(find_pairs(out, split), find_pairs(again, split), strict=True):
            assert a.read_bytes() == b.read_bytes()


def test_same_parameters_reuse_the_folder(tmp_path) -> None:
    messages: list[str] = []
    out = write_synthetic_dataset(tmp_path / "ds", n=3, size=32, seed=1, log=messages.append)
    stamp = (out / "train" / "image").stat().st_mtime_ns
    write_synthetic_dataset(out, n=3, size=32, seed=1, log=messages.append)
    assert messages[0].startswith("wrote 3 scenes") and messages[1].startswith("reusing")
    assert (out / "train" / "image").stat().st_mtime_ns == stamp


def test_different_parameters_or_foreign_content_are_never_overwritten(tmp_path) -> None:
    out = write_synthetic_dataset(tmp_path / "ds", n=3, size=32, seed=1)
    with pytest.raises(CompressError, match=r"seed=1 \(requested 2\)"):
        write_synthetic_dataset(out, n=3, size=32, seed=2)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(CompressError, match="holds no dataset.yaml; refusing to overwrite"):
        write_synthetic_dataset(foreign, n=3, size=32, seed=1)
    assert (foreign / "notes.txt").read_text() == "mine"
    sorted((out / "train" / "image").iterdir())[0].unlink()
    with pytest.raises(CompressError, match="was modified"):
        write_synthetic_dataset(out, n=3, size=32, seed=1)


def test_an_empty_existing_folder_is_filled(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    out = write_synthetic_dataset(tmp_path / "empty", n=3, size=32, seed=0)
    assert (out / "dataset.yaml").is_file()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": 2}, "field 'n'"),
        ({"n": 4, "val_fraction": 0.5, "test_fraction": 0.4}, "leaves no training image"),
        ({"n": 5, "val_fraction": 0.0}, "field 'val_fraction'"),
        ({"n": 5, "seed": -1}, "field 'seed'"),
    ],
)
def test_invalid_parameters_are_user_errors(tmp_path, options: dict, message: str) -> None:
    with pytest.raises(CompressError, match=message):
        write_synthetic_dataset(tmp_path / "ds", **{"size": 32, "seed": 0, **options})
    assert not (tmp_path / "ds").exists()


def test_split_sizes_give_every_split_an_image() -> None:
    assert SyntheticSpec(n=3, size=32, seed=0).split_sizes() == {"train": 1, "val": 1, "test": 1}
    sizes = SyntheticSpec(n=100, size=32, seed=0, val_fraction=0.1).split_sizes()
    assert sizes == {"train": 70, "val": 10, "test": 20}
