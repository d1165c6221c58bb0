"""Time and albums (the mesh paper's M2 / M3) against hand computations and direct references."""
import datetime as dt
import importlib
import sys

import numpy as np
import pytest
from PIL import Image

from dgae import AlbumRefiner, CellClassifier, TimeRefiner
from dgae._album_refiner import album_chunks
from dgae._context import context_features, time_tuple
from dgae.cells import LatLonCells
from dgae.datasets import load_geotagged, make_city_world, read_exif_datetime


@pytest.mark.parametrize("stamp, hour, weekday, month", [
    ("2023-01-01T00:30:00", 0, 1, 1),      # a Sunday in January
    ("2023-01-08T13:05:00", 13, 1, 1),     # the next Sunday
    ("2023-12-30T23:59:59", 23, 7, 12),    # a Saturday in December
    ("2024-02-29T12:00:00", 12, 5, 2),     # a leap-day Thursday
])
def test_time_tuple_by_hand(stamp, hour, weekday, month):
    got = time_tuple(np.array([stamp], dtype="datetime64[s]"))[0]
    np.testing.assert_allclose(got, [(hour - 11.5) / 24, (weekday - 3.5) / 7, (month - 6.5) / 12])
    # and the weekday against Python's calendar (Monday = 0 there)
    assert (dt.datetime.fromisoformat(stamp).weekday() + 1) % 7 + 1 == weekday


def test_time_tuple_refuses_missing_times():
    with pytest.raises(ValueError, match="NaT"):
        time_tuple(np.array(["2023-01-01", "NaT"], dtype="datetime64[s]"))


def test_context_features_keep_the_top_ten_renormalised():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(15), size=4)
    F = context_features(P)
    for p, f in zip(P, F):
        top = np.sort(p)[-10:]
        expected = np.where(p >= top[0], p, 0) / top.sum()
        np.testing.assert_allclose(f[:15], expected, rtol=1e-6)
        assert f[15] == pytest.approx(top.sum(), rel=1e-6)
    assert context_features(P, np.full(4, np.datetime64("2020-01-01", "s"))).shape == (4, 19)


def _cities(n=400, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[45.0, 16.0], [35.0, 139.0], [-33.9, 151.2]])
    city = rng.integers(0, 3, n)
    gps = centres[city] + rng.normal(0, 0.02, (n, 2))
    X = np.eye(3)[city] + rng.normal(0, 1.0, (n, 3))
    return X, gps, city, rng


def test_album_averaging_is_the_mean_of_the_base_probabilities():
    X, gps, city, rng = _cities()
    album = city * 10 + rng.integers(0, 3, len(city))        # albums of ~40: cut at 24
    time = np.datetime64("2020-01-01", "s") + rng.integers(0, 10**6, len(city)).astype(
        "timedelta64[s]")
    base = CellClassifier(partition=LatLonCells(max_per_cell=60))
    model = AlbumRefiner(base=base).fit(X, gps, album=album, time=time)
    P = CellClassifier(partition=LatLonCells(max_per_cell=60)).fit(X, gps).predict_proba(X)
    out = model.predict_proba(X, album=album, time=time)
    for a in np.unique(album):
        rows = np.flatnonzero(album == a)
        rows = rows[np.argsort(time[rows], kind="stable")]
        for s in range(0, len(rows), 24):
            run = rows[s:s + 24]
            np.testing.assert_allclose(out[run], np.tile(P[run].mean(axis=0), (len(run), 1)))
    singles = np.arange(len(X))                               # every album one photo
    np.testing.assert_allclose(model.predict_proba(X, album=singles), P)


def test_album_chunks_order_by_time_and_cut():
    album = np.array(["a", "a", "b", "a", "a"])
    time = np.array(["2020-01-04", "2020-01-01", "2020-01-02", "2020-01-03", "2020-01-02"],
                    dtype="datetime64[s]")
    assert album_chunks(album, time, size=3) == [[1, 4, 3], [0], [2]]


def test_time_refiner_needs_time_and_follows_the_base_cells():
    X, gps, _, rng = _cities(600)
    time = np.datetime64("2020-06-01", "s") + (rng.uniform(0, 86400, 600)).astype("timedelta64[s]")
    with pytest.raises(ValueError, match="needs time"):
        TimeRefiner().fit(X, gps)
    model = TimeRefiner(random_state=0).fit(X, gps, time=time)
    proba = model.predict_proba(X[:5], time=time[:5])
    assert proba.shape == (5, len(model.base_.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model.predict(X[:5], time=time[:5]),
                               model.base_.locations_[proba.argmax(axis=1)])
    with pytest.raises(ValueError, match="shape"):
        model.predict(X[:5], time=time[:4])


def _write_jpeg(path, stamp=None, offset=None, tag=36867):
    exif = Image.Exif()
    if stamp is not None:
        exif.get_ifd(0x8769)[tag] = stamp
        if offset is not None:
            exif.get_ifd(0x8769)[36881] = offset
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    return path


@pytest.mark.parametrize("stamp, offset, expected", [
    ("2021:07:04 18:30:00", "+02:00", dt.datetime(2021, 7, 4, 16, 30, tzinfo=dt.timezone.utc)),
    ("2021:12:31 23:30:00", "-05:00", dt.datetime(2022, 1, 1, 4, 30, tzinfo=dt.timezone.utc)),
    ("2021:07:04 18:30:00", None, dt.datetime(2021, 7, 4, 18, 30)),      # naive local time
    ("2021:07:04 18:30:00", "garbage", dt.datetime(2021, 7, 4, 18, 30)),
    ("not a date", None, None),
    (None, None, None),
])
def test_read_exif_datetime(tmp_path, stamp, offset, expected):
    path = _write_jpeg(tmp_path / "a.jpg", stamp, offset)
    assert read_exif_datetime(path) == expected


def test_read_exif_datetime_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_exif_datetime(tmp_path / "missing.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        read_exif_datetime(tmp_path / "bad.jpg")


def test_load_geotagged_reads_time_user_album(tmp_path):
    _write_jpeg(tmp_path / "a.jpg", "2021:07:04 18:30:00", "+02:00")
    _write_jpeg(tmp_path / "b.jpg")
    (tmp_path / "p.csv").write_text("path,lat,lon,time,user,album\n"
                                    "a.jpg,45,15,2021-07-04T18:30:00+02:00,u1,x\n"
                                    "b.jpg,46,16,,u2,y\n")
    data = load_geotagged(tmp_path, "p.csv")
    assert [str(t) for t in data.time] == ["2021-07-04T16:30:00", "NaT"]
    assert data.user.tolist() == ["u1", "u2"] and data.album.tolist() == ["x", "y"]
    assert "user" in data.frame
    (tmp_path / "q.csv").write_text("path,lat,lon\na.jpg,45,15\nb.jpg,46,16\n")
    data = load_geotagged(tmp_path, "q.csv")                  # time from EXIF
    assert [str(t) for t in data.time] == ["2021-07-04T16:30:00", "NaT"]
    assert data.user is None and data.album is None
    (tmp_path / "r.csv").write_text("path,lat,lon,time\na.jpg,45,15,yesterday\n")
    with pytest.raises(ValueError, match="r.csv row 0"):
        load_geotagged(tmp_path, "r.csv")


def test_replica_context_is_consistent_and_leaves_the_photos_alone():
    plain = make_city_world(n_images=300, image_size=32, random_state=3)
    world = make_city_world(n_images=300, image_size=32, random_state=3, context=True)
    for key in plain:
        if key != "DESCR":
            np.testing.assert_array_equal(plain[key], world[key])
    local = (world.time.astype(np.int64) % 86400 / 3600 + np.round(world.gps[:, 1] / 15)) % 24
    night = world.scene == "night_street"
    assert night.any() and ((local[night] >= 21) | (local[night] < 5)).all()
    for a in np.unique(world.album):
        rows = world.album == a
        assert rows.sum() <= 24 and len(np.unique(world.area[rows])) == 1
        assert len(np.unique(world.user[rows])) == 1


def test_lstm_refiner_trains_and_singletons_keep_the_base(monkeypatch):
    pytest.importorskip("torch")
    X, gps, city, rng = _cities(600)
    album = city * 50 + rng.integers(0, 25, 600)
    time = np.datetime64("2020-06-01", "s") + rng.integers(0, 86400, 600).astype("timedelta64[s]")
    model = AlbumRefiner(method="lstm", max_epochs=5, hidden_size=16, random_state=0)
    model.fit(X, gps, album=album, time=time)
    assert model.lstm_.loss_curve_[-1] < model.lstm_.loss_curve_[0]
    proba = model.predict_proba(X, album=album, time=time)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    singles = np.arange(600)
    np.testing.assert_allclose(model.predict_proba(X, album=singles, time=time),
                               model.base_.predict_proba(X))
    with pytest.raises(ValueError, match="needs time"):
        AlbumRefiner(method="lstm").fit(X, gps, album=album)


def test_lstm_without_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "dgae._album_lstm", raising=False)
    with pytest.raises(ImportError, match=r"dgae\[cnn\]"):
        importlib.import_module("dgae._album_lstm")


def test_product_combination_against_a_direct_computation():
    from sklearn.linear_model import LogisticRegression

    from dgae._cell_classifier import class_positions
    from dgae._context import cyclic_time

    X, gps, city, rng = _cities(600)
    time = np.datetime64("2020-06-01", "s") + (rng.uniform(0, 86400, 600)).astype("timedelta64[s]")
    model = TimeRefiner(time_C=0.5).fit(X, gps, time=time)
    p1 = model.base_.predict_proba(X[:9])
    labels = class_positions(model.base_, gps)
    tm = LogisticRegression(C=0.5, max_iter=500).fit(cyclic_time(time[labels >= 0]),
                                                     labels[labels >= 0])
    prior = np.bincount(labels[labels >= 0], minlength=p1.shape[1]) + 1.0
    expected = p1 * tm.predict_proba(cyclic_time(time[:9])) / (prior / prior.sum())
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(X[:9], time=time[:9]), expected, rtol=1e-6)
    users = city * 10 + rng.integers(0, 10, 600)
    paper = TimeRefiner(combine="mlp", random_state=0).fit(X, gps, time=time, groups=users)
    assert paper.mlp_ is not None and paper.time_model_ is None
