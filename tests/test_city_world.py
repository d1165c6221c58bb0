"""Tests of the synthetic 35-area replica (dgae.datasets._city_world.make_city_world)."""
import csv

import numpy as np
import pytest
from PIL import Image

from dgae.datasets._city_world import SCENES, load_areas, make_city_world, proportional_counts
from dgae.utils import great_circle_km


@pytest.fixture(scope="module")
def world():
    return make_city_world(n_images=700, image_size=48, render_size=32, random_state=3)


def test_table_is_the_papers_table_1():
    t = load_areas()
    assert len(t.name) == 35 and t.n_images.sum() == 664_720
    assert dict(zip(t.name, t.n_images))["Tokyo"] == 94_003
    assert dict(zip(t.name, t.n_images))["Ahmedabad"] == 1_230


def test_table_agrees_with_shared_copy(shared_data):
    with open(shared_data / "cities35.csv", newline="") as f:
        rows = {r["area"]: r for r in csv.DictReader(f)}
    t = load_areas()
    for name, centre, n in zip(t.name, t.centre, t.n_images):
        assert int(rows[name]["n_images"]) == n
        ref = [float(rows[name]["lat"]), float(rows[name]["lon"])]
        assert great_circle_km(centre, ref) < 50


@pytest.mark.parametrize("weights,total", [([1, 1, 2], 5), ([5, 3, 1, 1], 7), ([1230, 94003], 10)])
def test_proportional_counts(weights, total):
    c = proportional_counts(weights, total)
    exact = total * np.asarray(weights) / np.sum(weights)
    assert c.sum() == total and np.all(np.abs(c - exact) < 1)


def test_shapes_and_ground_truth(world):
    n = 700
    assert world.images.shape == (n, 48, 48, 3) and world.images.dtype == np.uint8
    assert world.gps.shape == (n, 2) and world.gps.dtype == np.float64
    assert world.area.shape == world.poi.shape == world.scene.shape == (n,)
    assert set(world.scene) <= set(SCENES)
    assert world.poi.max() < len(world.poi_area)
    # each POI's photos lie in that POI's area
    has = world.poi >= 0
    assert np.all(world.poi_area[world.poi[has]] == world.area_id[has])
    assert 0.05 < np.mean(~has) < 0.3  # scattered photos


def test_counts_proportional_to_table(world):
    t = load_areas()
    counts = np.bincount(world.area_id, minlength=35)
    exact = 700 * t.n_images / t.n_images.sum()
    assert np.all(np.abs(counts - exact) < 1)


def test_gps_inside_areas(world):
    t = load_areas()
    d = great_circle_km(world.gps, t.centre[world.area_id])
    assert np.all(d <= t.radius_km[world.area_id] * 1.01)
    # POI photos cluster: median distance to their POI centre well under 3 km
    has = world.poi >= 0
    d_poi = great_circle_km(world.gps[has], world.poi_gps[world.poi[has]])
    assert np.median(d_poi) < 3.0


def test_deterministic_for_a_random_state():
    a = make_city_world(60, image_size=32, render_size=16, random_state=7)
    b = make_city_world(60, image_size=32, render_size=16, random_state=7)
    c = make_city_world(60, image_size=32, render_size=16, random_state=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.gps, b.gps)
    np.testing.assert_array_equal(a.poi, b.poi)
    assert not np.array_equal(a.images, c.images)


def test_threads_do_not_change_the_result():
    kw = dict(n_images=90, image_size=24, render_size=16, batch_size=16, random_state=5)
    np.testing.assert_array_equal(make_city_world(**kw).images,
                                  make_city_world(n_jobs=2, **kw).images)


def _mean_pair_distance(X, pairs):
    return np.mean(np.linalg.norm(X[pairs[:, 0]] - X[pairs[:, 1]], axis=1))


def _pairs(same_key, rng, n=3000):
    """Random pairs, and all pairs sharing ``same_key`` (ignoring -1)."""
    rand = rng.integers(0, len(same_key), size=(n, 2))
    rand = rand[rand[:, 0] != rand[:, 1]]
    a, b = np.triu_indices(len(same_key), 1)
    keep = (same_key[a] == same_key[b]) & (same_key[a] >= 0)
    return np.stack([a[keep], b[keep]], 1), rand


@pytest.mark.parametrize("key,ratio", [("poi", 0.95), ("area_id", 0.98)])
def test_location_signal_in_pixels(world, key, ratio):
    """Photos of one POI (one area) are closer in pixel space than random pairs."""
    X = world.images.reshape(len(world.images), -1).astype(np.float32)
    same, rand = _pairs(getattr(world, key), np.random.default_rng(0))
    assert len(same) >= 10
    assert _mean_pair_distance(X, same) < ratio * _mean_pair_distance(X, rand)


def test_same_poi_photos_differ(world):
    """Same-area inconsistency: photos of one POI are not copies of each other."""
    X = world.images.reshape(len(world.images), -1).astype(np.float32)
    same, _ = _pairs(world.poi, np.random.default_rng(0))
    assert np.all(np.linalg.norm(X[same[:, 0]] - X[same[:, 1]], axis=1) > 0)


def test_out_dir_writes_jpegs(tmp_path):
    d = make_city_world(12, image_size=32, render_size=16, random_state=0, out_dir=tmp_path)
    assert len(d.images) == 12
    with open(tmp_path / "photos.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == [f"images/{i:06d}.jpg" for i in range(12)]
    np.testing.assert_allclose([[float(r["lat"]), float(r["lon"])] for r in rows], d.gps)
    with Image.open(d.images[0]) as im:
        assert im.format == "JPEG" and im.size == (32, 32)


def test_area_subset_and_csv(tmp_path):
    d = make_city_world(30, image_size=16, render_size=16, areas=["Tokyo", "Rome"], random_state=0)
    assert set(d.area) <= {"Tokyo", "Rome"}
    p = tmp_path / "areas.csv"
    p.write_text("area,lat,lon,n_images\nA,10,20,1\nB,-30,40,3\n")
    d = make_city_world(40, image_size=16, render_size=16, areas=p, random_state=0)
    assert np.bincount(d.area_id).tolist() == [10, 30]


@pytest.mark.parametrize("kwargs,match", [
    ({"n_images": 0}, "n_images"), ({"n_images": 2.5}, "n_images"),
    ({"areas": ["Atlantis"]}, "Atlantis"), ({"image_size": 4}, "image_size"),
    ({"scatter_fraction": 2}, "scatter_fraction"),
])
def test_bad_input(kwargs, match):
    kw = {"n_images": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_city_world(**kw)
