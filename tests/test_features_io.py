"""Robust loading: every good input works, every bad input fails clearly."""
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from dgae.features import Im2GPSDescriptor, ImageLoadError, load_image

RNG = np.random.default_rng(0)
COLOURS = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _exif_jpeg(path, arr, orientation):
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif, quality=95)


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    files = {}
    files["grey.png"] = COLOURS[..., 0]
    Image.fromarray(COLOURS[..., 0], "L").save(d / "grey.png")
    rgba = np.dstack([COLOURS, np.full(COLOURS.shape[:2], 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")
    cv2.imwrite(str(d / "deep16.png"), (COLOURS[..., ::-1].astype(np.uint16) * 257 + 100))
    Image.fromarray(COLOURS).convert("CMYK").save(d / "cmyk.jpg", quality=95)
    big = np.kron(RNG.integers(0, 256, (25, 25), dtype=np.uint8), np.ones((400, 400), np.uint8))
    cv2.imwrite(str(d / "huge.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 80])  # 10,000 x 10,000
    Image.fromarray(COLOURS[:1, :1]).save(d / "one.png")
    Image.fromarray(COLOURS[:1, :1]).save(d / "one.jpg")
    Image.fromarray(COLOURS[:, :20]).save(d / "tall.jpg", quality=95)
    return d


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    Image.fromarray(np.kron(COLOURS, np.ones((4, 4, 1), np.uint8))).save(d / "whole.jpg", quality=95)
    data = (d / "whole.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("this is not a photo\n")
    return {"missing": (d / "missing.jpg", "file not found"),
            "empty": (d / "empty.jpg", "empty file"),
            "truncated": (d / "truncated.jpg", "truncated"),
            "text": (d / "text.jpg", "not a recognised image")}


def test_grey_png_becomes_three_equal_channels(good_files):
    rgb = load_image(good_files / "grey.png")
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], COLOURS[..., 0])


def test_rgba_png_drops_alpha(good_files):
    np.testing.assert_array_equal(load_image(good_files / "rgba.png"), COLOURS)


def test_16_bit_png_keeps_the_high_byte(good_files):
    ref = ((COLOURS.astype(np.uint16) * 257 + 100) >> 8).astype(np.uint8)
    np.testing.assert_array_equal(load_image(good_files / "deep16.png"), ref)


def test_cmyk_jpeg_matches_pillow_conversion(good_files):
    ref = np.asarray(Image.open(good_files / "cmyk.jpg").convert("RGB")).astype(int)
    assert np.abs(load_image(good_files / "cmyk.jpg").astype(int) - ref).mean() < 3


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("scale", [1, 12])  # 12: large enough for a reduced decode
def test_exif_orientation_is_applied_like_pillow(tmp_path, orientation, scale):
    arr = np.kron(COLOURS[:6, :8], np.ones((8 * scale, 8 * scale, 1), np.uint8))
    path = tmp_path / f"o{orientation}.jpg"
    _exif_jpeg(path, arr, orientation)
    ref = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    got = load_image(path, min_side=64)
    assert got.shape[0] * ref.shape[1] == got.shape[1] * ref.shape[0]  # same aspect (upright)
    ref = cv2.resize(ref, got.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(got.astype(int) - ref.astype(int)).mean() < 6


def test_huge_jpeg_is_decoded_under_the_pixel_limit(good_files):
    assert load_image(good_files / "huge.jpg").shape == (5000, 5000, 3)  # 100 Mpx > ~89 Mpx
    assert load_image(good_files / "huge.jpg", min_side=1000).shape == (1250, 1250, 3)


@pytest.mark.parametrize("name,shape", [("one.png", (1, 1, 3)), ("one.jpg", (1, 1, 3)),
                                        ("tall.jpg", (48, 20, 3))])
def test_tiny_and_non_square_files(good_files, name, shape):
    assert load_image(good_files / name).shape == shape


def test_every_good_input_gets_a_finite_descriptor(good_files):
    names = ["grey.png", "rgba.png", "deep16.png", "cmyk.jpg", "huge.jpg", "one.png", "one.jpg", "tall.jpg"]
    arrays = [COLOURS, COLOURS[..., 0], COLOURS[:1, :1], np.zeros((3, 500, 3), np.uint8)]
    images = [good_files / n for n in names] + arrays
    X = Im2GPSDescriptor(n_textons=8, random_state=0).fit_transform(images)
    assert X.shape == (len(images), 2467) and np.isfinite(X).all()


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "text"])
def test_bad_file_raises_naming_file_and_reason(bad_files, kind):
    path, reason = bad_files[kind]
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and reason in str(info.value)
    with pytest.raises(ValueError, match=reason) as info:
        Im2GPSDescriptor(descriptors=("tiny5",)).fit([COLOURS, path])
    assert str(path) in str(info.value)


def test_skip_gives_nan_rows_errors_and_one_warning(bad_files):
    bad = [bad_files[k][0] for k in ("missing", "empty", "truncated", "text")]
    good = [COLOURS, COLOURS[::-1], COLOURS[:, ::-1]]
    images = [good[0], bad[0], bad[1], good[1], bad[2], bad[3], good[2]]
    d = Im2GPSDescriptor(descriptors=("tiny5", "lab_hist"), on_error="skip").fit(good)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = d.transform(images)
    assert len([w for w in caught if "could not be read" in str(w.message)]) == 1
    assert "4 of 7" in str(caught[0].message)
    bad_rows = [1, 2, 4, 5]
    errors = d.errors_
    assert [(i, p) for i, p, _ in errors] == [(i, str(images[i])) for i in bad_rows]
    assert [r.split(" (")[0] for _, _, r in errors] == [
        "file not found", "empty file", "cannot decode", "not a recognised image format"]
    assert np.isnan(X[bad_rows]).all()
    np.testing.assert_array_equal(X[[0, 3, 6]], d.transform(good))  # nothing else lost
    assert d.errors_ == []


@pytest.mark.parametrize("arr,match", [(np.zeros((4, 4, 5), np.uint8), "shape"),
                                       (np.zeros((0, 4), np.uint8), "empty"),
                                       (np.zeros((4, 4), np.complex64), "dtype"),
                                       (np.full((4, 4), np.nan), "NaN")])
def test_bad_arrays(arr, match):
    with pytest.raises(ValueError, match=match):
        load_image(arr)


def test_float_and_bool_arrays():
    np.testing.assert_array_equal(load_image(np.full((2, 2), 1.0))[..., 0], 255)
    np.testing.assert_array_equal(load_image(np.eye(2, dtype=bool))[..., 1], np.eye(2) * 255)
