"""DatasetInfo validation, presets, dataset.yaml parsing and layout inference."""

from __future__ import annotations

import pytest
import yaml

from compress.core.errors import CompressError
from compress.data.info import (
    CAMVID,
    FLOODNET,
    SYNTHETIC_AERIAL,
    DatasetInfo,
    default_palette,
    load_dataset_info,
)


def test_presets_describe_the_study_classes() -> None:
    assert SYNTHETIC_AERIAL.num_classes == 8 and SYNTHETIC_AERIAL.ignore_index is None
    assert SYNTHETIC_AERIAL.class_names[5:] == ["vehicle", "pool", "grass"]
    assert FLOODNET.class_names == SYNTHETIC_AERIAL.class_names
    assert CAMVID.num_classes == 11 and CAMVID.ignore_index == 11
    assert CAMVID.class_names[0] == "sky" and CAMVID.class_names[-1] == "bicyclist"
    for info in (SYNTHETIC_AERIAL, CAMVID):
        assert len(set(info.colors())) == info.num_classes


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ignore_index": 1}, "is a class id"),
        ({"palette": [[0, 0, 0]]}, "one RGB colour per class"),
        ({"palette": [[0, 0, 0], [0, 0, 0]]}, "must all be different"),
        ({"palette": [[0, 0, 0], [0, 0, 300]]}, "outside 0..255"),
        ({"masks": "rgb"}, "needs a palette"),
        ({"ignore_color": [1, 2, 3]}, "needs an ignore_index"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_inconsistent_info_is_rejected(fields: dict, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        DatasetInfo(name="x", class_names=["a", "b"], **fields)


def test_default_palette_is_distinct_and_not_black() -> None:
    colours = default_palette(40)
    assert len(set(colours)) == 40 and (0, 0, 0) not in colours
    assert DatasetInfo(name="x", class_names=["a", "b"]).colors() == default_palette(2)


def test_descriptor_is_read_and_generator_block_ignored(tmp_path) -> None:
    data = {
        "name": "mine",
        "class_names": ["a", "b", "c"],
        "ignore_index": 255,
        "palette": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        "masks": "rgb",
        "generator": {"n": 3},
    }
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(data))
    info = load_dataset_info(tmp_path)
    assert info.name == "mine" and info.num_classes == 3 and info.ignore_index == 255
    assert info.palette == [(1, 2, 3), (4, 5, 6), (7, 8, 9)] and info.masks == "rgb"


def test_descriptor_round_trips_through_yaml(tmp_path) -> None:
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(CAMVID.model_dump(mode="json")))
    assert load_dataset_info(tmp_path) == CAMVID


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "holds list, expected a mapping"),
        ("name: x\nclass_names: [a]\nclases: 3\n", "field 'clases'"),
        ("name: x\nclass_names: []\n", "field 'class_names'"),
        ("name: x\nclass_names: [a]\nmasks: png\n", "field 'masks'"),
    ],
)
def test_bad_descriptor_names_the_file_and_field(tmp_path, text: str, message: str) -> None:
    (tmp_path / "dataset.yaml").write_text(text)
    with pytest.raises(CompressError, match=message) as caught:
        load_dataset_info(tmp_path)
    assert str(tmp_path / "dataset.yaml") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_layout_inference(write_split) -> None:
    assert load_dataset_info(write_split("camvid")) == CAMVID
    assert load_dataset_info(write_split("floodnet")) == FLOODNET


def test_unknown_layout_and_missing_folder_are_errors(tmp_path) -> None:
    (tmp_path / "train" / "pictures").mkdir(parents=True)
    with pytest.raises(CompressError, match="no dataset.yaml and no known layout"):
        load_dataset_info(tmp_path)
    with pytest.raises(CompressError, match="does not exist"):
        load_dataset_info(tmp_path / "missing")
