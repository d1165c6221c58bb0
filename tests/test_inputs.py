"""Input that used to be accepted silently: a BOM, float images in 0-255, conflicting GPS tags."""
import numpy as np
import pytest

from dgae.cli import main
from dgae.datasets import load_geotagged
from dgae.features import Im2GPSDescriptor


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    text = "path,lat,lon\na.jpg,45.5,15.5\n"
    (tmp_path / "plain.csv").write_text(text, encoding="utf-8")
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8-sig")  # as spreadsheets write it
    a = load_geotagged(tmp_path, "plain.csv", check_images=False)
    b = load_geotagged(tmp_path, "bom.csv", check_images=False)
    assert a.paths == b.paths and a.gps.tolist() == b.gps.tolist() == [[45.5, 15.5]]


@pytest.mark.parametrize("scale, ok", [(1.0, True), (255.0, False)])
def test_float_images_must_lie_in_zero_one(scale, ok):
    rng = np.random.default_rng(0)
    photo = rng.random((32, 32, 3))
    d = Im2GPSDescriptor(descriptors=("tiny5",)).fit([(photo * 255).astype(np.uint8)])
    if ok:  # the same descriptor as the uint8 photo, up to rounding to 8 bits
        np.testing.assert_allclose(d.transform([photo * scale]),
                                   d.transform([np.rint(photo * 255).astype(np.uint8)]))
    else:
        with pytest.raises(ValueError, match=r"float image must lie in \[0, 1\]"):
            d.transform([photo * scale])


def test_a_path_listed_twice_with_two_gps_tags_is_named(tmp_path):
    (tmp_path / "p.csv").write_text("path,lat,lon\na.jpg,45,15\nb.jpg,46,16\na.jpg,44,14\n")
    with pytest.warns(UserWarning, match=r"'a\.jpg' on lines 2, 4"):
        load_geotagged(tmp_path, "p.csv", check_images=False)


def test_evaluate_names_conflicting_truth_rows(tmp_path, capsys):
    (tmp_path / "truth.csv").write_text("path,lat,lon\na.jpg,45,15\na.jpg,10,10\n")
    (tmp_path / "p.csv").write_text("path,pred_lat,pred_lon\na.jpg,45,15\na.jpg,10,10\n")
    assert main(["evaluate", str(tmp_path / "p.csv"), "--truth", str(tmp_path / "truth.csv"),
                 "--no-map"]) == 0
    err = capsys.readouterr().err
    assert "'a.jpg' on lines 2, 3" in err and err.startswith("dgae: warning: ")


@pytest.mark.parametrize("values", [4, 6, 1 << 24])  # rows per block: 1, 2, all
@pytest.mark.parametrize("bad_rows", [[0], [7], [3, 8], []])
def test_check_features_names_the_first_bad_row_whatever_the_blocks(values, bad_rows, monkeypatch):
    from dgae.utils import _validation

    monkeypatch.setattr(_validation, "FINITE_CHECK_VALUES", values)
    X = np.ones((9, 3))
    for i, r in enumerate(bad_rows):
        X[r, i % 3] = (np.nan, np.inf)[i % 2]
    if not bad_rows:
        assert _validation.check_features(X).dtype == np.float32
        return
    with pytest.raises(ValueError, match=f"X row {min(bad_rows)} contains"):
        _validation.check_features(X)
