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
