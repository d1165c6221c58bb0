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


@pytest.mark.parametrize("resolution", ["i", "h", "f"])
def test_a_clipped_coast_keeps_land_and_sea_where_they_are(resolution):
    """A city view clips the continent's polygon to the view: San Francisco's downtown stays on
    land and its bay stays water (against the unclipped polygon's own answer)."""
    from matplotlib.path import Path

    from dgae import _coastlines

    if resolution not in _coastlines.available_resolutions():
        pytest.skip(f"GSHHS '{resolution}' needs the maps extra")
    polys, levels = _coastlines.boundaries("coast", (-122.54, -122.28, 37.72, 37.88), resolution)
    land = [Path(p) for p, lv in zip(polys, levels) if lv == 1]
    assert max(len(p) for p in polys) < 20_000  # clipped: not the continent's 10^5-10^6 points
    downtown, bay = (37.790, -122.410), (37.795, -122.340)
    on_land = [any(path.contains_point((lon, lat)) for path in land) for lat, lon in (downtown, bay)]
    assert on_land == [True, False]


def test_a_city_view_asks_for_the_finest_coast_and_says_when_it_is_not_installed(monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    from dgae import _coastlines
    from dgae.plotting import draw_basemap

    matplotlib.use("Agg")
    assert _coastlines.wanted_resolution(0.1) == "f" and _coastlines.wanted_resolution(100) == "c"
    monkeypatch.setattr(_coastlines, "available_resolutions", lambda: ("c", "l", "i"))
    assert _coastlines.resolution_for(0.1) == "i"
    ax = plt.subplots()[1]
    draw_basemap(ax, (-122.5, -122.35, 37.72, 37.82))
    assert any('dgae[maps]' in t.get_text() for t in ax.texts)
    plt.close("all")


def _city_and_world():
    rng = np.random.default_rng(0)
    city = np.c_[37.78 + rng.normal(0, 0.01, 200), -122.42 + rng.normal(0, 0.01, 200)]
    world = np.c_[rng.uniform(-50, 60, 1000), rng.uniform(-170, 170, 1000)]
    shift = lambda g, s: g + rng.normal(0, s, g.shape)  # noqa: E731
    return {"city": (city, shift(city, 0.01)), "world": (world, np.roll(world, 1, axis=0))}


@pytest.mark.parametrize("scale", ["city", "world"])
def test_maps_read_at_a_glance(scale):
    """The reported faults: longitude labels that run together at city scale, a colour bar
    taller than the map, one colour for every line, truth points under the lines."""
    import matplotlib
    import matplotlib.pyplot as plt

    from dgae.plotting import plot_prediction_map, thresholds_for

    matplotlib.use("Agg")
    truth, pred = _city_and_world()[scale]
    ax = plot_prediction_map(truth, pred)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 2
    assert all(a.x1 < b.x0 for a, b in zip(labels, labels[1:]))  # no two labels touch
    (bar,) = ax.child_axes  # the colour bar, inset beside the map
    assert bar.get_window_extent().height <= ax.get_window_extent().height + 1
    thresholds = thresholds_for(truth)
    assert [float(t) for t in bar.get_yticks()] == list(thresholds)  # the bands' edges
    coloured = ax.collections[-1]
    assert coloured.get_array().max() <= thresholds[-1]  # the missed ones are grey beneath
    points = [c for c in ax.collections if c.get_offsets().shape[0] == len(truth)]
    assert all(p.get_zorder() > c.get_zorder() for p in points for c in ax.collections
               if c not in points)
    plt.close(fig)


@pytest.mark.parametrize("marks, span", [((0.1, 0.25, 0.5, 1, 5), (0.01, 20)),
                                         ((1, 5, 25, 200, 750, 2500), (0.1, 10_000))])
def test_the_error_axis_spans_the_thresholds(marks, span):
    import matplotlib
    import matplotlib.pyplot as plt

    from dgae.plotting import plot_error_curves

    matplotlib.use("Agg")
    ax = plot_error_curves({"m": [0.05, 0.3, 2.0, 40.0]}, marks_km=marks)
    assert ax.get_xlim() == pytest.approx(span)
    plt.close(ax.figure)
