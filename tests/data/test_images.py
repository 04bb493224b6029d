"""Image and mask IO: decoding, label checks, palettes; errors name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compress.core.errors import CompressError
from compress.data.images import labels_to_rgb, read_image, read_mask, write_png
from compress.data.info import CAMVID, SYNTHETIC_AERIAL, DatasetInfo

RGB_INFO = DatasetInfo(
    name="rgb",
    class_names=["a", "b", "c"],
    ignore_index=9,
    palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)],
    ignore_color=(0, 0, 0),
    masks="rgb",
)


def test_read_image_converts_grey_and_rgba_to_rgb(tmp_path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(np.zeros((3, 4, 4), np.uint8)).save(tmp_path / "a.png")
    image = read_image(tmp_path / "g.png")
    assert image.shape == (3, 4, 3) and image.dtype == np.uint8
    assert (image[..., 2] == grey).all()
    assert read_image(tmp_path / "a.png").shape == (3, 4, 3)


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"])
def test_corrupt_image_names_the_file(tmp_path, content: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(CompressError, match="broken.jpg cannot be read"):
        read_image(path)


def test_truncated_png_names_the_file(tmp_path) -> None:
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CompressError, match="cut.png"):
        read_image(path)


def test_index_masks_in_several_encodings(tmp_path) -> None:
    ids = np.array([[0, 1, 2], [3, 11, 10]], dtype=np.uint8)
    Image.fromarray(ids).save(tmp_path / "l.png")
    Image.fromarray(ids.astype(np.uint16)).save(tmp_path / "i16.png")
    palette_image = Image.fromarray(ids, mode=None).convert("P")
    palette_image.putpalette([v for i in range(256) for v in (i, 0, 0)])
    palette_image.save(tmp_path / "p.png")
    Image.fromarray(np.repeat(ids[..., None], 3, 2)).save(tmp_path / "rgb.png")
    for name in ("l.png", "i16.png", "p.png", "rgb.png"):
        mask = read_mask(tmp_path / name, CAMVID)
        assert mask.dtype == np.int64 and (mask == ids).all(), name


def test_label_out_of_range_reports_value_and_valid_range(tmp_path) -> None:
    Image.fromarray(np.array([[0, 8, 8], [200, 1, 2]], np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(CompressError) as caught:
        read_mask(tmp_path / "m.png", SYNTHETIC_AERIAL)
    message = str(caught.value)
    assert "m.png" in message and "8 (2 px)" in message and "200 (1 px)" in message
    assert "0..7" in message


def test_ignore_index_is_accepted_but_only_it(tmp_path) -> None:
    Image.fromarray(np.array([[11, 0]], np.uint8)).save(tmp_path / "ok.png")
    assert read_mask(tmp_path / "ok.png", CAMVID).tolist() == [[11, 0]]
    Image.fromarray(np.array([[12, 0]], np.uint8)).save(tmp_path / "bad.png")
    with pytest.raises(CompressError, match=r"bad.png has label\(s\) 12 .*ignore index 11"):
        read_mask(tmp_path / "bad.png", CAMVID)


def test_colour_index_mask_is_rejected(tmp_path) -> None:
    colours = np.zeros((2, 2, 3), np.uint8)
    colours[0, 0] = (10, 20, 30)
    Image.fromarray(colours).save(tmp_path / "c.png")
    with pytest.raises(CompressError, match="c.png is a colour image.*masks: rgb"):
        read_mask(tmp_path / "c.png", CAMVID)


def test_rgb_masks_decode_through_the_palette(tmp_path) -> None:
    ids = np.array([[0, 1], [2, 9]])
    write_png(tmp_path / "m.png", labels_to_rgb(ids, RGB_INFO.colors()))
    assert read_mask(tmp_path / "m.png", RGB_INFO).tolist() == ids.tolist()


def test_rgb_mask_colour_outside_palette_is_reported(tmp_path) -> None:
    colours = np.zeros((2, 2, 3), np.uint8)
    colours[1, 1] = (1, 2, 3)
    Image.fromarray(colours).save(tmp_path / "odd.png")
    with pytest.raises(CompressError, match=r"odd.png has colour\(s\) \(1, 2, 3\) \(1 px\)"):
        read_mask(tmp_path / "odd.png", RGB_INFO)


def test_labels_to_rgb_and_write_png(tmp_path) -> None:
    palette = [(1, 1, 1), (2, 2, 2)]
    coloured = labels_to_rgb(np.array([[0, 1, 255]]), palette, ignore_color=(9, 9, 9))
    assert coloured.tolist() == [[[1, 1, 1], [2, 2, 2], [9, 9, 9]]]
    write_png(tmp_path / "x.png", coloured)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), coloured)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        write_png(tmp_path / "f.png", np.zeros((2, 2), np.float32))


def test_sixteen_bit_greyscale_keeps_its_values(tmp_path: Path) -> None:
    """PIL's own RGB conversion clips 16-bit grey to white; the ramp must survive."""
    from compress.data.images import read_image

    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    image = read_image(tmp_path / "grey16.png")
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    expected = np.round(ramp * (255 / 65535)).astype(np.uint8)
    assert np.array_equal(image[..., 0], expected) and np.array_equal(image[..., 2], expected)
    assert image.min() == 0 and image.max() == 255 and len(np.unique(image)) == 256


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "1", "CMYK", "I;16", "I"])
def test_every_readable_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    from compress.data.images import read_image

    picture = Image.new("RGB", (8, 6), (200, 100, 50)).convert(mode)
    suffix = ".tif" if mode in ("CMYK", "I") else ".png"
    picture.save(tmp_path / f"x{suffix}")
    image = read_image(tmp_path / f"x{suffix}")
    assert image.shape == (6, 8, 3)
    if mode in ("L", "I"):  # the grey level survives
        assert abs(int(image[0, 0, 0]) - int(np.asarray(picture)[0, 0])) <= 1


def test_a_floating_point_image_is_refused_by_mode(tmp_path: Path) -> None:
    from compress.core.errors import CompressError
    from compress.data.images import read_image

    Image.new("F", (8, 6), 0.5).save(tmp_path / "float.tif")
    with pytest.raises(CompressError, match="float.tif has image mode 'F'"):
        read_image(tmp_path / "float.tif")
