import numpy as np
import pytest

from dgae.geo import (
    EARTH_RADIUS_KM,
    check_gps,
    deg_to_chord,
    from_unit_vectors,
    great_circle_km,
    km_to_chord,
    spherical_mean,
    to_unit_vectors,
    wrap_longitude,
)


def _reference_km(a, b):
    """Independent formula: angle between unit vectors, atan2(|u x v|, u.v), in extended precision."""
    def unit(p):
        lat, lon = np.radians(np.asarray(p, dtype=np.longdouble)).T
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)

    u, v = unit(a), unit(b)
    cross = np.sqrt(np.sum(np.cross(u, v) ** 2, axis=1))
    dot = np.sum(u * v, axis=1)
    return np.float64(EARTH_RADIUS_KM) * np.arctan2(cross, dot).astype(np.float64)


def _random_points(rng, n):
    return np.column_stack([np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)])


@pytest.mark.parametrize("kind", ["random", "submetre", "antipodal", "meridian", "poles"])
def test_great_circle_matches_independent_formula(kind):
    rng = np.random.default_rng(0)
    a = _random_points(rng, 3000)
    if kind == "random":
        b = _random_points(rng, 3000)
    elif kind == "submetre":
        b = a + rng.normal(scale=3e-6, size=a.shape)  # ~0.3 m
        b[:, 0] = np.clip(b[:, 0], -90, 90)
    elif kind == "antipodal":
        b = np.column_stack([-a[:, 0], wrap_longitude(a[:, 1] + 180)]) + rng.normal(scale=1e-5, size=a.shape)
        b[:, 0] = np.clip(b[:, 0], -90, 90)
    elif kind == "meridian":
        a = np.column_stack([a[:, 0], 180 - rng.uniform(0, 1e-3, 3000)])
        b = np.column_stack([a[:, 0] + rng.normal(scale=1e-4, size=3000), -180 + rng.uniform(0, 1e-3, 3000)])
        b[:, 0] = np.clip(b[:, 0], -90, 90)
    else:
        a = np.column_stack([89.9999 + rng.uniform(0, 1e-4, 3000), a[:, 1]])
        b = np.column_stack([89.9999 + rng.uniform(0, 1e-4, 3000), rng.uniform(-180, 180, 3000)])
    got = great_circle_km(a, b)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _reference_km(a, b), rtol=0, atol=1e-6)


def test_great_circle_exact_cases():
    assert great_circle_km([12.3, 45.6], [12.3, 45.6]) == 0.0
    assert great_circle_km([0, 0], [0, 180]) == pytest.approx(np.pi * EARTH_RADIUS_KM, abs=1e-9)
    assert great_circle_km([90, 0], [-90, 0]) == pytest.approx(np.pi * EARTH_RADIUS_KM, abs=1e-9)
    # across the antimeridian: 0.0002 degrees of longitude on the equator
    assert great_circle_km([0, 179.9999], [0, -179.9999]) == pytest.approx(
        np.radians(2e-4) * EARTH_RADIUS_KM, rel=1e-9)
    # a metre apart: the law of cosines would return 0 or ~1.6 m noise
    d = great_circle_km([45.0, 15.0], [45.0 + 1e-3 / 111.19508, 15.0])
    assert d == pytest.approx(1e-3, rel=1e-5)


def test_great_circle_broadcasts_and_radius():
    a = np.zeros((4, 1, 2))
    b = np.array([[0, 1], [0, 2], [0, 3]])
    out = great_circle_km(a, b, radius_km=1.0)
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out[0], np.radians([1, 2, 3]))


def test_great_circle_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        great_circle_km([1, 2, 3], [1, 2])


def test_unit_vector_round_trip():
    rng = np.random.default_rng(1)
    gps = _random_points(rng, 500)
    xyz = to_unit_vectors(gps)
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 1.0)
    back = from_unit_vectors(xyz * rng.uniform(0.5, 3, (500, 1)))
    np.testing.assert_allclose(great_circle_km(gps, back), 0.0, atol=1e-9)
    assert np.all((back[:, 1] >= -180) & (back[:, 1] < 180))


def test_chord_conversions_match_unit_vectors():
    a, b = np.array([[10.0, 20.0]]), np.array([[11.0, 21.5]])
    chord = np.linalg.norm(to_unit_vectors(a) - to_unit_vectors(b))
    assert km_to_chord(great_circle_km(a, b)[0]) == pytest.approx(chord, rel=1e-12)
    assert deg_to_chord(np.degrees(great_circle_km(a, b)[0] / EARTH_RADIUS_KM)) == pytest.approx(chord, rel=1e-12)


def test_spherical_mean_across_meridian():
    c = spherical_mean([[10, 179.5], [10, -179.5]])
    lat = np.degrees(np.arctan2(np.sin(np.radians(10)), np.cos(np.radians(10)) * np.cos(np.radians(0.5))))
    assert c[0] == pytest.approx(lat, abs=1e-12) and abs(abs(c[1]) - 180) < 1e-9
    w = spherical_mean([[0, 0], [0, 10]], weights=[3, 1])
    assert w[1] == pytest.approx(np.degrees(np.arctan2(np.sin(np.radians(10)), 3 + np.cos(np.radians(10)))))


def test_check_gps_wraps_and_copies():
    raw = np.array([[10.0, 180.0], [-10.0, -190.0], [0.0, 15.5]])
    out = check_gps(raw)
    assert out.tolist() == [[10.0, -180.0], [-10.0, 170.0], [0.0, 15.5]]
    assert raw[0, 1] == 180.0


@pytest.mark.parametrize(
    "gps, match",
    [
        ([1.0, 2.0], r"shape \(n, 2\)"),
        ([[1, 2, 3]], r"shape \(n, 2\)"),
        ([[0, 0], [0, np.nan]], "row 1 is not finite"),
        ([[0, 0], [0, 0], [np.inf, 0]], "row 2 is not finite"),
        ([[0, 0], [90.5, 0]], "row 1 has latitude 90.5"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_check_gps_errors(gps, match):
    with pytest.raises(ValueError, match=match):
        check_gps(gps)
