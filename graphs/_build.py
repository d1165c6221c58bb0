"""One call from (features, GPS) to the estimator's inputs ``(P, Q, poi_labels)``."""

import numpy as np
import scipy.sparse as sp

from dgae._geo import check_gps
from dgae._progress import warn

from ._search import _check_k
from ._pairs import Q_METHODS, _easy_confusing_pairs, _same_area_pairs, check_graph_inputs
from ._poi import POIMiner


#: Share of a photo's same-area pull on its region pairs (multi-scale P; the rest on its POI pairs).
REGION_WEIGHT = 0.25


def build_geo_graphs(X, gps, areas=None, k1=20, k2=10, method="exact", poi_bandwidth=0.005,
                     q_min_km=0.0, device="auto", random_state=None, n_jobs=None, verbose=0,
                     region_bandwidth=None, region_weight=REGION_WEIGHT, **q_kwargs):
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
    poi_bandwidth : float, default=0.005
        POI mean-shift bandwidth in degrees of arc.
    q_min_km : float, default=0
        Distance floor of Q in km (see :func:`easy_confusing_pairs`; 0 is the paper).
    device : {"auto", "cpu", "gpu"}, default="auto"
    random_state : int, RandomState instance or None
    n_jobs : int, optional
    verbose : int, default=0
    region_bandwidth : float, optional
        Multi-scale P: also each photo's ``k1`` nearest photos of its region
        (POIs mined again at this coarser bandwidth, degrees); each scale's
        pairs of a photo then sum to 1, the region's weighted ``region_weight``.
    region_weight : float, default=0.25
    **q_kwargs
        Passed to :func:`easy_confusing_pairs` (``k3``, ``anchor_bandwidth``).

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n, n), float32
    Q : scipy.sparse.csr_matrix of shape (n, n), float32
    poi_labels : ndarray of shape (n,), int64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [0.2], [5.0]])
    >>> gps = [[10.0, 20.0], [10.0, 20.001], [30.0, 40.0], [30.0, 40.001]]
    >>> P, Q, poi = build_geo_graphs(X, gps, k1=1, k2=1, device="cpu")
    >>> poi.tolist(), P.indices.tolist(), Q.indices.tolist()
    ([0, 0, 1, 1], [1, 0, 3, 2], [2, 2, 0, 1])
    """
    X, _ = check_graph_inputs(X, [0] * len(X))
    gps = check_gps(gps)
    if len(gps) != len(X):
        raise ValueError(f"X has {len(X)} rows but gps has {len(gps)}")
    k1, k2 = _check_k(k1, "k1"), _check_k(k2, "k2")
    if method not in Q_METHODS:
        raise ValueError(f"method must be one of {Q_METHODS}, got {method!r}")
    if q_min_km < 0:
        raise ValueError(f"q_min_km must be >= 0, got {q_min_km!r}")
    if region_bandwidth is not None and not region_bandwidth > 0:
        raise ValueError(f"region_bandwidth must be > 0 degrees, got {region_bandwidth!r}")
    if not 0 <= region_weight <= 1:
        raise ValueError(f"region_weight must be in [0, 1], got {region_weight!r}")
    P, Q, miner = geo_graphs(X, gps, areas=areas, k1=k1, k2=k2, method=method,
                             poi_bandwidth=poi_bandwidth, q_min_km=q_min_km, device=device,
                             random_state=random_state, n_jobs=n_jobs, verbose=verbose,
                             region_bandwidth=region_bandwidth, region_weight=region_weight,
                             **q_kwargs)
    if miner.n_clusters_ < 2:
        warn("all photos lie in one POI: the easy-confusing graph Q is empty", UserWarning)
    return P, Q, miner.labels_


def geo_graphs(X, gps, *, areas=None, k1=20, k2=10, method="exact", poi_bandwidth=0.005,
               q_min_km=0.0, device="auto", random_state=None, n_jobs=None, verbose=0,
               pairs=True, region_bandwidth=None, region_weight=REGION_WEIGHT, **q_kwargs):
    """:func:`build_geo_graphs` on validated inputs, returning the fitted ``POIMiner``.

    The one path from (features, GPS) to the graphs, used by
    :func:`build_geo_graphs` and by ``DGAE.fit`` (which validated its input
    once, at its own entry).  With ``pairs=False`` only the POIs are mined
    (P and Q empty).  With ``region_bandwidth`` (degrees), P also holds each
    photo's ``k1`` nearest photos of its *region*: the POI of a second mining
    at that coarser bandwidth (multi-scale same-area pairs).  Each scale's
    rows are then normalised to sum to 1 and weighted ``1 - region_weight``
    (POI) and ``region_weight`` (region).

    Returns
    -------
    P, Q : scipy.sparse.csr_matrix of shape (n, n), float32
    miner : POIMiner

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [0.2], [5.0]], np.float32)
    >>> gps = np.array([[10.0, 20.0], [10.0, 20.001], [30.0, 40.0], [30.0, 40.001]])
    >>> P, Q, miner = geo_graphs(X, gps, k1=1, k2=1, device="cpu")
    >>> miner.labels_.tolist(), P.nnz, Q.nnz
    ([0, 0, 1, 1], 4, 4)
    """
    miner = POIMiner(bandwidth=poi_bandwidth, n_jobs=n_jobs).fit(gps, areas=areas)
    labels = miner.labels_.astype(np.int64, copy=False)
    n = len(X)
    if not pairs:
        empty = sp.csr_matrix((n, n), dtype=np.float32)
        return empty, empty.copy(), miner
    P = _same_area_pairs(X, labels, k1, device=device, verbose=verbose)
    if region_bandwidth is not None:
        from sklearn.preprocessing import normalize

        region = POIMiner(bandwidth=region_bandwidth, n_jobs=n_jobs).fit(gps, areas=areas).labels_
        R = _same_area_pairs(X, region.astype(np.int64, copy=False), k1, device=device,
                             verbose=verbose)
        # l1 row normalisation of non-negative rows: each scale's pairs of a photo sum to 1
        P = ((1.0 - region_weight) * normalize(P, norm="l1")
             + region_weight * normalize(R, norm="l1")).astype(np.float32).tocsr()
    Q = _easy_confusing_pairs(X, labels, k2, method, device=device, n_jobs=n_jobs,
                              random_state=random_state, verbose=verbose, gps=gps,
                              min_km=q_min_km, **q_kwargs)
    return P, Q, miner
