"""Place names (offline GeoNames) and maps (offline coastlines) against independent references."""
import numpy as np
import pytest

from dgae.geo import great_circle_km, nearest_places


def test_nearest_place_is_the_brute_force_great_circle_nearest():
    from dgae._places import _gazetteer

    rng = np.random.default_rng(0)
    gps = np.c_[rng.uniform(-60, 70, 25), rng.uniform(-180, 180, 25)]
    got = nearest_places(gps, min_population=200000)
    tree = _gazetteer(200000)[0]
    # the reference: great-circle distance to every place of that size, by brute force
    from dgae.geo import from_unit_vectors

    places = from_unit_vectors(tree.data)
    for g, name, km in zip(gps, got.name, got.distance_km):
        d = great_circle_km(np.broadcast_to(g, places.shape), places)
        assert km == pytest.approx(d.min(), abs=1e-6)
        assert name == _gazetteer(200000)[1][np.argmin(d)]


def test_nearest_place_across_the_antimeridian():
    # Suva (Fiji, 178.44 E) is the nearest large place to a point just west of 180 W:
    # a search Euclidean in degrees would look 360 degrees away
    p = nearest_places([[-18.1, -179.9]], min_population=50000)
    assert p.country_code[0] == "FJ" and p.distance_km[0] < 250


@pytest.mark.parametrize("where, city", [
    ((37.7955, -122.3937), "San Francisco"),  # the waterfront: its nearest place is "Chinatown"
    ((37.8044, -122.2712), "Oakland"),        # 13 km across the bay: its own city
    ((48.8606, 2.3376), "Paris"),             # the Louvre
    ((51.4995, -0.1248), "London"),           # Westminster
    ((40.7580, -73.9855), "New York City"),   # Times Square
    ((34.0195, -118.4912), "Santa Monica"),   # beside Los Angeles, not in it
    ((35.6580, 139.7016), "Tokyo"),           # Shibuya
    ((43.5081, 16.4402), "Split"),
    ((44.9000, 15.3000), "Otočac"),           # the countryside: the nearest town
])
def test_the_named_place_is_the_city_a_person_names(where, city):
    from dgae.geo import city_places, place_labels

    assert city_places([where]).name[0] == city
    assert place_labels([where])[0].split(", ")[0] == city


def test_the_named_city_covers_the_position_and_is_the_most_populous_that_does():
    """Against a brute force over the whole gazetteer."""
    from dgae._places import _gazetteer
    from dgae.geo import city_places, covered_km, from_unit_vectors

    tree, names, _, _, population, _ = _gazetteer(0)
    places = from_unit_vectors(tree.data)
    rng = np.random.default_rng(1)
    gps = np.r_[np.c_[rng.normal(51.5, 0.2, 6), rng.normal(-0.1, 0.3, 6)],   # around London
                np.c_[rng.uniform(-50, 60, 6), rng.uniform(-180, 180, 6)]]
    got = city_places(gps)
    for g, name, pop in zip(gps, got.name, got.population):
        d = great_circle_km(np.broadcast_to(g, places.shape), places)
        cover = d <= covered_km(population)
        best = population[cover].max() if cover.any() else None
        assert pop == (best if best is not None and best > population[np.argmin(d)]
                       else population[np.argmin(d)]), name


@pytest.mark.parametrize("bad", [[[91.0, 0.0]], [[np.nan, 0.0]], [[1.0, 2.0, 3.0]]])
def test_nearest_places_rejects_bad_positions(bad):
    with pytest.raises(ValueError):
        nearest_places(bad)


@pytest.mark.parametrize("points, span_km", [
    ([[45.80, 15.95], [45.83, 16.00]], (3, 10)),           # a city: kilometres, not degrees
    ([[42.5, 13.8], [46.4, 19.3]], (400, 1000)),          # a country
])
def test_map_view_scales_with_the_data(points, span_km):
    from dgae.plotting import map_view

    x0, x1, y0, y1 = map_view(points)
    width = great_circle_km([(y0 + y1) / 2, x0], [(y0 + y1) / 2, x1])
    assert span_km[0] < width < span_km[1]
    g = np.asarray(points)
    assert x0 < g[:, 1].min() and x1 > g[:, 1].max() and y0 < g[:, 0].min() and y1 > g[:, 0].max()


def test_coastline_of_the_adriatic_separates_land_from_sea():
    from matplotlib.path import Path

    from dgae import _coastlines

    polys, levels = _coastlines.boundaries("coast", (13.0, 19.5, 42.0, 46.6), "l")
    land = [Path(p) for p, lv in zip(polys, levels) if lv == 1]
    split, zagreb, adriatic = (43.508, 16.440), (45.815, 15.982), (43.0, 15.5)
    on_land = [any(path.contains_point((lon, lat)) for path in land)
               for lat, lon in (split, zagreb, adriatic)]
    assert on_land == [True, True, False]
