"""One call from (features, GPS) to the estimator's inputs ``(P, Q, poi_labels)``, and one to
grow them by new photos."""

import numpy as np
import scipy.sparse as sp

from dgae.utils import check_gps, check_k, check_labels

from ._pairs import (Q_METHODS, _easy_confusing_pairs, _same_area_pairs, check_graph_inputs,
                     lazy_reduced, warn_single_poi)
from ._poi import POIMiner


#: Share of a photo's same-area pull on its region pairs (multi-scale P; the rest on its POI pairs).
REGION_WEIGHT = 0.25


def build_geo_graphs(X, gps, areas=None, k1=20, k2=10, method="exact", poi_bandwidth_km=None,
                     q_min_km=0.0, device="auto", random_state=None, n_jobs=None, verbose=0,
                     region_bandwidth_km=None, region_weight=REGION_WEIGHT, pairs=True,
                     return_miners=False, check_input=True, **q_kwargs):
    """POIs, same-area graph P and easy-confusing graph Q in one call (DGAE §4.2).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Low-level visual features (n >= 2, finite).
    gps : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    areas : array-like of shape (n,), optional
        Area of each photo; POIs are mined per area (as in the paper).
    k1, k2 : int, default=20, 10
        Same-area and easy-confusing neighbours per photo.
    method : {"exact", "anchor", "ann"}, default="exact"
        How Q is built (see :func:`easy_confusing_pairs`).
    poi_bandwidth_km : float, optional
        POI mean-shift bandwidth in km of arc (default: the paper's 0.005°, 0.556 km).
    q_min_km : float, default=0
        Distance floor of Q in km (see :func:`easy_confusing_pairs`; 0 is the paper).
    device : {"auto", "cpu", "gpu"}, default="auto"
    random_state : int, RandomState instance or None
    n_jobs : int, optional
    verbose : int, default=0
    region_bandwidth_km : float, optional
        Multi-scale P: also each photo's ``k1`` nearest photos of its region
        (POIs mined again at this coarser bandwidth, km); each scale's
        pairs of a photo then sum to 1, the region's weighted ``region_weight``.
    region_weight : float, default=0.25
    pairs : bool, default=True
        False: only the POIs are mined (P and Q empty).
    return_miners : bool, default=False
        Return the fitted :class:`POIMiner` of the POIs and that of the regions
        (None without ``region_bandwidth_km``) instead of the POI labels: what
        :func:`extend_geo_graphs` needs to place new photos.
    check_input : bool, default=True
        False: ``X`` (float32), ``gps`` and the parameters are taken as
        validated (an estimator that checked them at its own entry).
    **q_kwargs
        Passed to :func:`easy_confusing_pairs` (``k3``, ``anchor_bandwidth``).

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n, n), float32
    Q : scipy.sparse.csr_matrix of shape (n, n), float32
    poi_labels : ndarray of shape (n,), int64
        Or, with ``return_miners``, ``poi_miner, region_miner``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [0.2], [5.0]])
    >>> gps = [[10.0, 20.0], [10.0, 20.001], [30.0, 40.0], [30.0, 40.001]]
    >>> P, Q, poi = build_geo_graphs(X, gps, k1=1, k2=1, device="cpu")
    >>> poi.tolist(), P.indices.tolist(), Q.indices.tolist()
    ([0, 0, 1, 1], [1, 0, 3, 2], [2, 2, 0, 1])
    """
    if check_input:
        X, gps = _check_graph_parameters(X, gps, k1, k2, method, q_min_km, region_weight)
        if region_bandwidth_km is not None and not region_bandwidth_km > 0:
            raise ValueError(f"region_bandwidth_km must be > 0, got {region_bandwidth_km!r}")
    miner = POIMiner(bandwidth_km=poi_bandwidth_km, n_jobs=n_jobs).fit(gps, areas=areas)
    labels = miner.labels_.astype(np.int64, copy=False)
    n = len(X)
    region = None
    if not pairs:
        P, Q = sp.csr_matrix((n, n), dtype=np.float32), sp.csr_matrix((n, n), dtype=np.float32)
    else:
        if region_bandwidth_km is not None:
            region = POIMiner(bandwidth_km=region_bandwidth_km, n_jobs=n_jobs).fit(gps, areas=areas)
        P, Q = _pairs_of(X, gps, labels, None if region is None else region.labels_, k1, k2,
                         method, q_min_km, region_weight, device, random_state, n_jobs, verbose,
                         None, q_kwargs)
        if miner.n_clusters_ < 2:
            warn_single_poi()
    return (P, Q, miner, region) if return_miners else (P, Q, miner.labels_)


def extend_geo_graphs(P, Q, X, gps, poi_labels, n_new, *, region_labels=None, k1=20, k2=10,
                      method="exact", q_min_km=0.0, region_weight=REGION_WEIGHT, device="auto",
                      random_state=None, n_jobs=None, verbose=0, check_input=True, **q_kwargs):
    """P and Q of a gallery grown by ``n_new`` photos (DGAE §4.6): the new photos' rows.

    The new photos are the last ``n_new`` rows of ``X``; their P row (and
    region row) and Q row follow the rules of :func:`build_geo_graphs`, Q by
    its ``method`` (the anchor method mines its anchors from the grown
    gallery), searched among old and new photos.  The old photos' rows are kept
    as they were: they gain no pairs to the new photos (the paper re-mines
    after each period).

    Parameters
    ----------
    P, Q : sparse matrix of shape (n_old, n_old)
    X : array-like of shape (n_old + n_new, d)
    gps : array-like of shape (n_old + n_new, 2)
    poi_labels : array-like of int, shape (n_old + n_new,)
        POI of every photo (a new photo joins an old POI or a new one:
        :meth:`POIMiner.predict`).
    n_new : int
    region_labels : array-like of int, shape (n_old + n_new,), optional
        Region of every photo, for multi-scale P (as ``region_bandwidth_km``).
    k1, k2, method, q_min_km, region_weight, device, random_state, n_jobs, verbose, **q_kwargs
        As :func:`build_geo_graphs`.
    check_input : bool, default=True

    Returns
    -------
    P, Q : scipy.sparse.csr_matrix of shape (n_old + n_new, n_old + n_new), float32

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [5.0], [9.0], [0.8]])
    >>> gps = [[10.0, 20.0], [10.0, 20.0], [30.0, 40.0], [30.0, 40.0], [10.0, 20.0]]
    >>> P, Q, poi = build_geo_graphs(X[:4], gps[:4], k1=1, k2=1, device="cpu")
    >>> P2, Q2 = extend_geo_graphs(P, Q, X, gps, [0, 0, 1, 1, 0], 1, k1=1, k2=1, device="cpu")
    >>> P2.shape, P2[4].indices.tolist(), Q2[4].indices.tolist()
    ((5, 5), [1], [2])
    """
    if check_input:
        X, gps = _check_graph_parameters(X, gps, k1, k2, method, q_min_km, region_weight)
        poi_labels = check_labels(poi_labels, len(X), "poi_labels").astype(np.int64)
        if region_labels is not None:
            region_labels = check_labels(region_labels, len(X), "region_labels").astype(np.int64)
        n_new = check_k(n_new, "n_new")
        if P.shape != (len(X) - n_new,) * 2 or Q.shape != P.shape:
            raise ValueError(f"P and Q must be ({len(X) - n_new}, {len(X) - n_new}): the old "
                             f"gallery of {len(X)} photos less {n_new} new ones")
    n = len(X)
    rows = np.arange(n - n_new, n)
    P_new, Q_new = _pairs_of(X, gps, poi_labels, region_labels, k1, k2, method, q_min_km,
                             region_weight, device, random_state, n_jobs, verbose, rows, q_kwargs)
    return (_grown(P, n) + P_new).tocsr(), (_grown(Q, n) + Q_new).tocsr()


def _check_graph_parameters(X, gps, k1, k2, method, q_min_km, region_weight):
    """The one check of :func:`build_geo_graphs`' and :func:`extend_geo_graphs`' inputs."""
    X, _ = check_graph_inputs(X, [0] * len(X))
    gps = check_gps(gps)
    if len(gps) != len(X):
        raise ValueError(f"X has {len(X)} rows but gps has {len(gps)}")
    check_k(k1, "k1"), check_k(k2, "k2")
    if method not in Q_METHODS:
        raise ValueError(f"method must be one of {Q_METHODS}, got {method!r}")
    if q_min_km < 0:
        raise ValueError(f"q_min_km must be >= 0, got {q_min_km!r}")
    if not 0 <= region_weight <= 1:
        raise ValueError(f"region_weight must be in [0, 1], got {region_weight!r}")
    return X, gps


def _pairs_of(X, gps, labels, region_labels, k1, k2, method, q_min_km, region_weight, device,
              random_state, n_jobs, verbose, rows, q_kwargs):
    """P (multi-scale with ``region_labels``) and Q, of every photo or of ``rows``."""
    k1, k2 = int(k1), int(k2)
    reduced = lazy_reduced(X, random_state)
    P = _same_area_pairs(X, labels, k1, device=device, verbose=verbose, rows=rows, reduced=reduced,
                         random_state=random_state)
    if region_labels is not None:
        from sklearn.preprocessing import normalize

        R = _same_area_pairs(X, np.asarray(region_labels, dtype=np.int64), k1, device=device,
                             verbose=verbose, rows=rows, reduced=reduced, random_state=random_state)
        # l1 row normalisation of non-negative rows: each scale's pairs of a photo sum to 1
        P = ((1.0 - region_weight) * normalize(P, norm="l1")
             + region_weight * normalize(R, norm="l1")).astype(np.float32).tocsr()
    Q = _easy_confusing_pairs(X, labels, k2, method, device=device, n_jobs=n_jobs,
                              random_state=random_state, verbose=verbose, gps=gps,
                              q_min_km=q_min_km, rows=rows, reduced=reduced, **q_kwargs)
    return P, Q


def _grown(A, n):
    """``A`` (m, m) as an (n, n) matrix, the new rows and columns empty."""
    A = sp.csr_matrix(A, dtype=np.float32)
    indptr = np.r_[A.indptr, np.full(n - A.shape[0], A.indptr[-1])]
    return sp.csr_matrix((A.data, A.indices, indptr), shape=(n, n))
