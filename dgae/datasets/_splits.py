"""The evaluation protocols of the shared multi-view collections (their README's splits)."""
import numpy as np


def heading_holdout_split(location_id, seed=0):
    """The team's *heading hold-out* split of a multi-view set.

    ``rng = numpy.random.default_rng(seed)``; for each ``location_id`` in
    sorted order, ``rng.choice`` of that place's row indices is the query.

    Parameters
    ----------
    location_id : array-like of shape (n,)
    seed : int, default=0

    Returns
    -------
    query, gallery : ndarray of int
        Row indices (the gallery sorted).

    Examples
    --------
    >>> q, g = heading_holdout_split([1, 1, 2, 2])
    >>> len(q), len(g)
    (2, 2)
    """
    location_id = np.asarray(location_id)
    rng = np.random.default_rng(seed)
    query = np.array([rng.choice(np.flatnonzero(location_id == loc)) for loc in np.unique(location_id)])
    gallery = np.setdiff1d(np.arange(location_id.size), query)
    return query, gallery


def place_holdout_split(location_id, test_size=0.2, seed=0):
    """The *place hold-out* split: every photo of a held-out place is a query.

    The shared data README's protocol: ``default_rng(seed).permutation`` of
    the sorted unique ``location_id``s, the first ``int(test_size * n_places)``
    (at least one) are held out.

    Parameters
    ----------
    location_id : array-like of shape (n,)
    test_size : float, default=0.2
        Fraction of places held out.
    seed : int, default=0

    Returns
    -------
    query, gallery : ndarray of int
        Row indices; no place appears in both.

    Examples
    --------
    >>> q, g = place_holdout_split([1, 1, 2, 2, 3, 3, 4, 4], test_size=0.25)
    >>> len(q), len(g)
    (2, 6)
    """
    location_id = np.asarray(location_id)
    places = np.unique(location_id)
    n_test = max(1, int(test_size * places.size))
    held = np.random.default_rng(seed).permutation(places)[:n_test]
    is_query = np.isin(location_id, held)
    return np.flatnonzero(is_query), np.flatnonzero(~is_query)


def region_holdout_split(gps, location_id, link_km=50.0, test_size=0.2, seed=0):
    """The *region hold-out* split: whole regions (cities, for a world-wide set) are queries.

    A region is a set of places linked by chains of photos at most ``link_km``
    apart (single linkage: connected components of the graph of photo pairs within
    ``link_km``, numbered in order of their first photo), so no query has a gallery photo
    within ``link_km``.  ``default_rng(seed).permutation`` of the regions; regions are
    held out in that order until ``int(test_size * n_places)`` places (at least one) are;
    at least one region stays.

    Parameters
    ----------
    gps : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    location_id : array-like of shape (n,)
    link_km : float, default=50
        The photos of world_streetview within ~50 km of each other form a city.
    test_size : float, default=0.2
        Fraction of places held out.
    seed : int, default=0

    Returns
    -------
    query, gallery : ndarray of int
        Row indices; every query is more than ``link_km`` from every gallery photo.

    Examples
    --------
    >>> gps = [[45.0, 15.0], [45.1, 15.0], [48.0, 2.0], [48.0, 2.1], [-33.9, 151.2]]
    >>> q, g = region_holdout_split(gps, [0, 1, 2, 3, 4], test_size=0.2, seed=0)
    >>> sorted(q.tolist()) in ([0, 1], [2, 3], [4])
    True
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import BallTree

    from dgae.utils import EARTH_RADIUS_KM

    rad = np.radians(np.asarray(gps, dtype=np.float64))
    location_id = np.asarray(location_id)
    near = BallTree(rad, metric="haversine").query_radius(rad, float(link_km) / EARTH_RADIUS_KM)
    rows = np.repeat(np.arange(len(rad)), [len(a) for a in near])
    graph = sp.csr_matrix((np.ones(rows.size), (rows, np.concatenate(near))), shape=(len(rad),) * 2)
    _, region = connected_components(graph, directed=False)
    n_regions = region.max() + 1
    want = max(1, int(test_size * np.unique(location_id).size))
    held, places = [], set()
    for r in np.random.default_rng(seed).permutation(n_regions)[:-1]:
        if len(places) >= want:
            break
        held.append(r)
        places |= set(location_id[region == r].tolist())
    if not held:
        raise ValueError(f"every photo is within a chain of {link_km:g} km links of every other: "
                         "one region, none to hold out; give a smaller link_km")
    is_query = np.isin(region, held)
    return np.flatnonzero(is_query), np.flatnonzero(~is_query)
