import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from dgae.datasets import (
    heading_holdout_split,
    load_croatia_streetview,
    load_geotagged,
    load_shared,
    place_holdout_split,
    read_exif_gps,
)


def _jpeg(path, gps=None):
    exif = Image.Exif()
    if gps is not None:
        (lat_ref, lat), (lon_ref, lon) = gps
        ifd = exif.get_ifd(0x8825)
        ifd[1], ifd[3] = lat_ref, lon_ref
        ifd[2] = tuple(TiffImagePlugin.IFDRational(*v) for v in lat)
        ifd[4] = tuple(TiffImagePlugin.IFDRational(*v) for v in lon)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path, exif=exif)
    return path


@pytest.mark.parametrize(
    "gps, expected",
    [
        ((("N", [(45, 1), (48, 1), (5436, 100)]), ("E", [(15, 1), (58, 1), (3, 1)])),
         (45 + 48 / 60 + 54.36 / 3600, 15 + 58 / 60 + 3 / 3600)),
        ((("S", [(33, 1), (52, 1), (0, 1)]), ("W", [(151, 1), (12, 1), (30, 1)])),
         (-(33 + 52 / 60), -(151 + 12 / 60 + 30 / 3600))),
        ((("N", [(123, 2), (0, 1), (0, 1)]), ("W", [(0, 1), (30, 1), (0, 1)])), (61.5, -0.5)),
    ],
)
def test_read_exif_gps_dms_and_refs(tmp_path, gps, expected):
    lat, lon = read_exif_gps(_jpeg(tmp_path / "a.jpg", gps))
    assert lat == pytest.approx(expected[0], abs=1e-12)
    assert lon == pytest.approx(expected[1], abs=1e-12)


def test_read_exif_gps_none_and_errors(tmp_path):
    assert read_exif_gps(_jpeg(tmp_path / "a.jpg")) is None
    with pytest.raises(ValueError, match="not found"):
        read_exif_gps(tmp_path / "missing.jpg")
    (tmp_path / "t.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        read_exif_gps(tmp_path / "t.jpg")


def test_load_from_exif_warns_and_skips(tmp_path):
    _jpeg(tmp_path / "a.jpg", (("N", [(10, 1), (0, 1), (0, 1)]), ("E", [(20, 1), (0, 1), (0, 1)])))
    (tmp_path / "sub").mkdir()
    _jpeg(tmp_path / "sub" / "b.jpg", (("S", [(5, 1), (30, 1), (0, 1)]), ("W", [(1, 1), (0, 1), (0, 1)])))
    _jpeg(tmp_path / "c.jpg")
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.warns(UserWarning, match=r"1 photo\(s\) without EXIF GPS.*c\.jpg"):
        data = load_geotagged(tmp_path)
    assert [p.split("/")[-1] for p in data.paths] == ["a.jpg", "b.jpg"]
    np.testing.assert_allclose(data.gps, [[10, 20], [-5.5, -1]])


def _csv(tmp_path, text):
    p = tmp_path / "photos.csv"
    p.write_text(text)
    return p


def test_load_csv_with_extra_columns(tmp_path):
    _jpeg(tmp_path / "a.jpg")
    _jpeg(tmp_path / "b.jpg")
    _csv(tmp_path, "path,lat,lon,area,location_id\na.jpg,45.5,190,zagreb,7\nb.jpg,-1,2,split,8\n")
    data = load_geotagged(tmp_path, "photos.csv")
    assert data.paths == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    assert data.gps.dtype == np.float64
    np.testing.assert_array_equal(data.gps, [[45.5, -170.0], [-1.0, 2.0]])
    assert data.frame["area"].tolist() == ["zagreb", "split"]
    assert data.frame["location_id"].tolist() == [7.0, 8.0]


@pytest.mark.parametrize(
    "text, match",
    [
        ("path,lat\na.jpg,1\n", r"missing column\(s\) \['lon'\]"),
        ("path,lat,lon\na.jpg,1,2\nmissing.jpg,1,2\n", r"row 3: file not found: .*missing\.jpg"),
        ("path,lat,lon\na.jpg,1,2\nt.jpg,1,2\n", r"row 3: not a readable image: .*t\.jpg"),
        ("path,lat,lon\na.jpg,x,2\n", r"row 2: bad lat/lon 'x'"),
        ("path,lat,lon\na.jpg,1,2\na.jpg,95,2\n", r"row 1 has latitude 95"),
    ],
)
def test_load_csv_errors_name_file_and_row(tmp_path, text, match):
    _jpeg(tmp_path / "a.jpg")
    (tmp_path / "t.jpg").write_text("text, not a JPEG")
    _csv(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        load_geotagged(tmp_path, "photos.csv")


def test_load_errors_on_missing_folder_or_csv(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        load_geotagged(tmp_path / "nope")
    with pytest.raises(ValueError, match="CSV file not found"):
        load_geotagged(tmp_path, "nope.csv")


def test_heading_holdout_split_follows_protocol():
    loc = np.array(["b", "a", "b", "a", "c", "b", "a", "c"])
    q, g = heading_holdout_split(loc)
    rng = np.random.default_rng(0)
    expected = [rng.choice(np.flatnonzero(loc == p)) for p in ["a", "b", "c"]]
    assert q.tolist() == expected
    assert sorted(q.tolist() + g.tolist()) == list(range(8))


def test_place_holdout_split_separates_places():
    loc = np.repeat(np.arange(20), 4)
    q, g = place_holdout_split(loc, test_size=0.25, seed=3)
    assert len(np.unique(loc[q])) == 5 and len(q) == 20
    assert not set(loc[q]) & set(loc[g])


@pytest.mark.shared
def test_croatia_streetview(shared_data):
    data = load_croatia_streetview()
    assert len(data.paths) == 800 and data.gps.shape == (800, 2)
    assert len(np.unique(data.frame["location_id"])) == 200
    assert set(data.frame["heading"].tolist()) == {0.0, 90.0, 180.0, 270.0}
    assert np.all((data.gps[:, 0] > 42) & (data.gps[:, 0] < 47))


@pytest.mark.shared
def test_load_shared_coordinates(shared_data):
    mp16 = load_shared("gps/mp16_coordinates_100k")
    assert mp16.gps.shape == (100_000, 2)
    cells = load_shared("gps/cells_50_1000")
    assert cells.gps.shape[0] == len(cells.frame["class_label"])
    with pytest.raises(FileNotFoundError):
        load_shared("no_such_set")


def test_place_holdout_split_is_the_readme_protocol():
    """``default_rng(0).permutation`` of the sorted unique places, the first 20 % held out."""
    rng = np.random.default_rng(5)
    loc = rng.choice([f"loc{i:03d}" for i in range(57)], size=400)
    q, g = place_holdout_split(loc, test_size=0.2, seed=0)
    places = np.unique(loc)
    held = np.random.default_rng(0).permutation(places)[: int(0.2 * places.size)]
    np.testing.assert_array_equal(q, np.flatnonzero(np.isin(loc, held)))
    np.testing.assert_array_equal(g, np.flatnonzero(~np.isin(loc, held)))
