"""The pair graphs of DGAE §4.2: same-area P and easy-confusing Q."""

import numpy as np
import scipy.sparse as sp

from dgae.utils import (PairMask, QFloor, check_features, check_gps_rows, check_k, check_labels,
                        first_kept, get_xp, knn_search, neighbors_to_csr, progress, warn)

from ._anchor import locality_order, reduced_features, rerank, uses_reduced
from ._tables import _poi_groups, exact_q_table

Q_METHODS = ("exact", "anchor", "ann")
#: POIs smaller than this are batched into one brute-force block for P.
_P_GROUP = 256
#: Candidates a P row of a large group takes from the reduced search for the exact re-rank,
#: per pair: P's recall against the exact P 0.97 on the bench_scale replica's regions.
P_RERANK = 4
#: A large group's photos find their P pairs among at most this many random members: the
#: reduced search costs |group| x pool (the replica's 94,000-photo region: 8.8e9 pairs alone).
P_POOL = 10_000


def check_graph_inputs(X, poi_labels):
    """Validate features (n >= 2, finite) and POI labels of the same length."""
    X = check_features(X, "X", min_samples=2)
    labels = check_labels(poi_labels, X.shape[0], "poi_labels")
    return X, labels.astype(np.int64, copy=False)


def same_area_pairs(X, poi_labels, k1=20, *, device="auto", random_state=None, verbose=0):
    """Same-area graph P: each photo's ``k1`` visually nearest photos of its own POI.

    Row ``s`` holds the ``min(k1, |POI(s)| - 1)`` Euclidean-nearest other
    members of ``s``'s POI (never ``s`` itself; ties by lower index).  Exact:
    POIs are brute-forced one by one, small POIs batched together -- except
    a POI (or region) of 10,000 photos or more with wide features (more than
    256 columns, e.g. the 2,971-d Im2GPS descriptor): its photos are searched
    in 128 principal components for ``4 k1`` candidates among at most 10,000
    random members of the group, re-ranked by their exact distances (as
    fDGAE's member search).  A brute force inside a group costs its size
    squared: the largest region of a 664,720-photo replica gallery (94,000
    photos) took more than 5 minutes alone.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Low-level visual features (n >= 2).
    poi_labels : array-like of int, shape (n,)
        POI of each photo (e.g. ``POIMiner().fit(gps).labels_``).
    k1 : int, default=20
    device : {"auto", "cpu", "gpu"}, default="auto"
    random_state : int, RandomState or None, default=None
        The principal components' sample and solver, and the pools (large
        groups only).
    verbose : int, default=0

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n, n), float32
        ``P[s, t] = 1`` for the same-area pairs.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [5.0], [9.0]])
    >>> P = same_area_pairs(X, [0, 0, 0, 1], k1=1, device="cpu")
    >>> P.toarray().astype(int).tolist()
    [[0, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    """
    X, labels = check_graph_inputs(X, poi_labels)
    return _same_area_pairs(X, labels, check_k(k1, "k1"), device=device, verbose=verbose,
                            random_state=random_state)


def lazy_reduced(X, random_state):
    """A callable returning :func:`~dgae.graphs._anchor.reduced_features` of ``X``, computed on
    the first call only (P and the region pairs share it)."""
    from functools import lru_cache

    from sklearn.utils import check_random_state

    return lru_cache(maxsize=1)(lambda: reduced_features(X, check_random_state(random_state)))


def _same_area_pairs(X, labels, k1, *, device="auto", verbose=0, rows=None, reduced=None,
                     random_state=None):
    """:func:`same_area_pairs` on validated inputs (float32 X, int64 labels, k1 >= 1); with
    ``rows``, only those photos' rows are filled (the others are empty).  ``reduced``: a
    callable giving ``X`` in few dimensions (:func:`lazy_reduced`) for the large groups;
    ``random_state`` draws their pools."""
    from sklearn.utils import check_random_state

    xp = get_xp(device)
    n = X.shape[0]
    if rows is not None:
        return neighbors_to_csr(_same_area_rows(X, labels, k1, xp, rows), n, rows=rows)
    if reduced is None:
        reduced = lazy_reduced(X, random_state)
    rng = check_random_state(random_state)
    table = np.full((n, k1), -1, dtype=np.int64)
    groups = list(_poi_groups(labels, _P_GROUP))
    for g in progress(groups, verbose=verbose, desc="P (per POI)"):
        if uses_reduced(X, len(g)):     # brute force costs |g|^2 full-width distances
            table[g] = _large_group_rows(X, labels, g, k1, xp, reduced(), rng)
            continue
        mask = PairMask(labels[g], labels[g], "different", True, xp)
        _, local = knn_search(X[g], X[g], k1, xp, mask=mask)
        table[g] = np.where(local >= 0, g[np.maximum(local, 0)], -1)
    return neighbors_to_csr(table, n)


def _large_group_rows(X, labels, g, k1, xp, reduced, rng):
    """P rows of a large group ``g`` of photos: each photo's ``P_RERANK * k1`` nearest in
    ``reduced`` among at most ``P_POOL`` random members of the group (of its own POI, never
    itself), the ``k1`` nearest of those by exact distances on ``X``."""
    pool = g if len(g) <= P_POOL else np.sort(rng.choice(g, P_POOL, replace=False))
    other_poi = PairMask(labels[g], labels[pool], "different", False, xp)
    itself = PairMask(g, pool, "same", False, xp)   # labels are photo ids here

    def mask(q0, q1, x0, x1):
        return other_poi(q0, q1, x0, x1) | itself(q0, q1, x0, x1)

    _, local = knn_search(reduced[g], reduced[pool], min(P_RERANK * k1, len(pool)), xp, mask=mask)
    return rerank(X, g, np.where(local >= 0, pool[np.maximum(local, 0)], -1), k1, xp,
                  order=locality_order(reduced[g]))


def _same_area_rows(X, labels, k1, xp, rows):
    """The P table (len(rows), k1) of some photos, searched among all: the same pairs as the
    per-POI search gives those rows (the photo itself dropped from its k1 + 1 nearest)."""
    mask = PairMask(labels[rows], labels, "different", False, xp)
    _, idx = knn_search(X[rows], X, min(k1 + 1, X.shape[0]), xp, mask=mask)
    return first_kept(idx, (idx >= 0) & (idx != rows[:, None]), k1)


def warn_single_poi():
    """The one warning for a gallery whose photos all lie in one POI."""
    warn("all photos lie in one POI: the easy-confusing graph Q is empty", UserWarning)


def easy_confusing_pairs(X, poi_labels, k2=10, method="exact", k3=100, anchor_bandwidth=None,
                         device="auto", n_jobs=None, random_state=None, verbose=0, gps=None,
                         q_min_km=0.0):
    """Easy-confusing graph Q: each photo's ``k2`` visually nearest photos of *other* POIs.

    With ``q_min_km > 0`` only photos at least that far away (great circle)
    qualify: a distance floor, so that Q pushes apart look-alikes of distant
    places and not those of the next street (a deviation from the paper's
    §4.2, which only excludes the photo's own POI; ``q_min_km=0`` is the paper).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Low-level visual features (n >= 2).
    poi_labels : array-like of int, shape (n,)
    k2 : int, default=10
    method : {"exact", "anchor", "ann"}, default="exact"
        ``"exact"``: blocked GEMM brute force (NumPy or CuPy), exact.
        ``"anchor"``: the paper's fast solution (fDGAE, §4.2.1), see
        ``dgae.graphs._anchor.anchor_q_table``.  ``"ann"``: pynndescent
        approximate search, see ``dgae.graphs._ann.ann_q_table``.
    k3 : int, default=100
        Anchors searched per photo (``"anchor"`` only).  The paper's 50 covers 90 % of the
        exact Q with its anchors of about 20 photos; ours hold about 3 (the bandwidth from
        the data), and 50 covered 0.88 of the exact pairs at 100,000 bench_scale replica
        photos, 100 covers 0.94 (docs/graphs.md).
    anchor_bandwidth : float, optional
        Visual mean-shift bandwidth (``"anchor"`` only; chosen from the data
        when None).
    device : {"auto", "cpu", "gpu"}, default="auto"
    n_jobs : int, optional
        ``"exact"``: run the query-row blocks as joblib tasks on the CPU (in a
        ``joblib.parallel_config(backend="dask")`` context, on a Dask cluster;
        identical results).  ``"ann"``: pynndescent's threads.
    random_state : int, RandomState instance or None
        Seeds the anchor sampling and pynndescent.
    verbose : int, default=0
    gps : array-like of shape (n, 2), optional
        ``[lat, lon]`` degrees of the photos; needed when ``q_min_km > 0``.
    q_min_km : float, default=0
        Distance floor in km (0: the paper's rule).

    Returns
    -------
    Q : scipy.sparse.csr_matrix of shape (n, n), float32
        ``Q[s, t] = 1`` for the easy-confusing pairs; empty (with a
        warning) when all photos share one POI.  Rows with fewer than
        ``k2`` admissible photos hold what there is.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [5.0], [9.0]])
    >>> Q = easy_confusing_pairs(X, [0, 0, 1, 1], k2=1, device="cpu")
    >>> Q.indices.tolist()
    [2, 2, 1, 1]
    >>> gps = [[45.0, 15.0], [45.0, 15.0], [45.0, 15.1], [48.0, 15.0]]
    >>> Q = easy_confusing_pairs(X, [0, 0, 1, 1], k2=1, device="cpu", gps=gps, q_min_km=25)
    >>> [Q[s].indices.tolist() for s in range(4)]  # photo 2 has no photo 25 km away
    [[3], [3], [], [1]]
    """
    X, labels = check_graph_inputs(X, poi_labels)
    k2 = check_k(k2, "k2")
    if method not in Q_METHODS:
        raise ValueError(f"method must be one of {Q_METHODS}, got {method!r}")
    if q_min_km < 0:
        raise ValueError(f"q_min_km must be >= 0, got {q_min_km!r}")
    if q_min_km > 0:
        if gps is None:
            raise ValueError("q_min_km > 0 needs the photos' gps")
        gps = check_gps_rows(gps, X.shape[0], "gps")
    if np.unique(labels).size < 2:
        warn_single_poi()
    return _easy_confusing_pairs(X, labels, k2, method, k3=k3, anchor_bandwidth=anchor_bandwidth,
                                 device=device, n_jobs=n_jobs, random_state=random_state,
                                 verbose=verbose, gps=gps, q_min_km=q_min_km)


def _easy_confusing_pairs(X, labels, k2, method, *, k3=100, anchor_bandwidth=None, device="auto",
                          n_jobs=None, random_state=None, verbose=0, gps=None, q_min_km=0.0,
                          rows=None, reduced=None):
    """:func:`easy_confusing_pairs` on validated inputs; empty (silently) for a single POI.
    With ``rows``, only those photos' rows are searched (the others are empty); ``reduced``
    (:func:`lazy_reduced`, ``"anchor"`` only) shares the principal components with P."""
    n = X.shape[0]
    if np.unique(labels).size < 2:
        return sp.csr_matrix((n, n), dtype=np.float32)
    floor = QFloor(gps, gps, q_min_km) if q_min_km > 0 else None
    if method == "exact":
        table = exact_q_table(X, labels, k2, device=device, verbose=verbose, floor=floor,
                              n_jobs=n_jobs, rows=rows)
    elif method == "anchor":
        from ._anchor import anchor_q_table

        table = anchor_q_table(X, labels, k2, k3=check_k(k3, "k3"), bandwidth=anchor_bandwidth,
                               device=device, random_state=random_state, verbose=verbose,
                               floor=floor, rows=rows, reduced=reduced)
    else:
        from ._ann import ann_q_table

        table = ann_q_table(X, labels, k2, device=device, n_jobs=n_jobs,
                            random_state=random_state, verbose=verbose, floor=floor, rows=rows)
    return neighbors_to_csr(table, n, rows=rows)
