"""Exact k-nearest neighbours by blocked GEMM distances, on NumPy or CuPy.

One primitive serves every exact search in the package (P, exact Q, the
anchor search, GeoKNN with ``index="exact"``).  Distances are computed tile
by tile as ``||q||^2 - 2 q.x + ||x||^2`` (clipped at 0), so no n x n matrix is
ever held; a running top-k is merged across index tiles.

Why hand-written rather than :class:`sklearn.neighbors.NearestNeighbors`:
scikit-learn has no masked (label-excluding) search, no deterministic
tie-breaking by index, and no GPU path.

Tie-breaking: each candidate is encoded as one int64 key
``(float32 bits of d^2) << 32 | index``.  Non-negative float32 values order
like their bit patterns, so sorting / partitioning the keys orders by
distance and then by lower index, exactly, with one ``partition`` call.
"""
import contextlib
import functools

import numpy as np

from ._backend import get_xp, to_device, to_host
from ._geo import EARTH_RADIUS_KM, to_unit_vectors
from ._progress import progress
from ._validation import check_features, check_gps_rows, check_k, check_labels

EXCLUDE_MODES = (None, "same", "different")
#: Entries of one (query block x index block) distance tile.
_TILE_ELEMENTS = {"cpu": 1 << 23, "gpu": 1 << 28}
_DEFAULT_QUERY_BLOCK = {"cpu": 512, "gpu": 8192}
_INF_BITS = int(np.float32(np.inf).view(np.int32))
_LOW32 = (1 << 32) - 1
#: The key of "no candidate": inf distance, index all ones (sorts after every real key).
_NO_CANDIDATE = (_INF_BITS << 32) | _LOW32
#: Products below this many multiply-adds run on one BLAS thread.
_SMALL_GEMM = 1 << 26


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def small_gemm_context(work, xp):
    """One BLAS thread for a small product on the CPU, else a no-op context.

    OpenBLAS's thread hand-off dominates small products and collapses when the
    cores are oversubscribed (measured: a 32 x 330 x 2971 product took 130 ms
    on 2 threads vs 1.6 ms on 1 thread on a loaded 2-core machine).
    """
    if xp is not np or work >= _SMALL_GEMM:
        return contextlib.nullcontext()
    return _blas_controller().limit(limits=1, user_api="blas")


def nearest_neighbors(queries, index, k, *, query_labels=None, index_labels=None,
                      exclude=None, exclude_self=False, query_gps=None, index_gps=None,
                      q_min_km=0.0, device="auto", batch_size=None, verbose=0):
    """Exact Euclidean k nearest neighbours of ``queries`` among ``index``.

    Blocked brute force: GEMM-based distances tile by tile (NumPy or CuPy),
    a running top-k merged across index tiles; memory stays bounded by the
    tile size whatever ``n``.

    Parameters
    ----------
    queries : array-like of shape (n_queries, d)
    index : array-like of shape (n_index, d)
    k : int
        Neighbours per query (>= 1).  Rows with fewer than ``k`` admissible
        candidates are padded with index ``-1`` and distance ``inf``.
    query_labels, index_labels : array-like of int, shape (n_queries,) and (n_index,)
        Labels used by ``exclude``.
    exclude : {None, "same", "different"}, default=None
        ``"same"`` drops index points whose label equals the query's label
        (easy-confusing search); ``"different"`` keeps only same-label points
        (same-area search).
    exclude_self : bool, default=False
        ``queries`` and ``index`` are the same set: query ``i`` never returns
        index ``i``.
    query_gps, index_gps : array-like of shape (n_queries, 2) and (n_index, 2)
        ``[lat, lon]`` degrees, used by ``q_min_km``.
    q_min_km : float, default=0
        Drop index points closer than this great-circle distance to the
        query (the easy-confusing graph's distance floor).
    device : {"auto", "cpu", "gpu"}, default="auto"
    batch_size : int, optional
        Queries per block (default 512 on CPU, 8192 on GPU).
    verbose : int, default=0
        Show a progress bar over query blocks.

    Returns
    -------
    distances : ndarray of shape (n_queries, k), float32
        Euclidean distances, ascending per row.
    indices : ndarray of shape (n_queries, k), int64
        Index rows; equal (float32) distances are ordered by lower index.

    Notes
    -----
    Distances are computed in float32 after centring both sets on the index
    mean rounded to integers; "ties" are ties of these float32 values (exact
    for small integer-valued features).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> d, i = nearest_neighbors(X, X, 2, exclude_self=True, device="cpu")
    >>> i.tolist()
    [[1, 2], [0, 2], [3, 1], [2, 1]]
    >>> d, i = nearest_neighbors(X, X, 2, query_labels=[0, 0, 1, 1],
    ...                          index_labels=[0, 0, 1, 1], exclude="same", device="cpu")
    >>> i.tolist(), d[0].tolist()
    ([[2, 3], [2, 3], [1, 0], [1, 0]], [3.0, 4.0])
    >>> gps = [[45.0, 15.0], [45.0, 15.01], [46.0, 15.0], [47.0, 15.0]]
    >>> nearest_neighbors(X, X, 1, exclude_self=True, query_gps=gps, index_gps=gps,
    ...                   q_min_km=5.0, device="cpu")[1].ravel().tolist()
    [2, 2, 3, 2]
    """
    Q = check_features(queries, "queries")
    X = Q if index is queries else check_features(index, "index")
    if Q.shape[1] != X.shape[1]:
        raise ValueError(f"queries have {Q.shape[1]} features but index has {X.shape[1]}")
    k = check_k(k, "k")
    if exclude not in EXCLUDE_MODES:
        raise ValueError(f"exclude must be one of {EXCLUDE_MODES}, got {exclude!r}")
    ql = xl = None
    if exclude is not None:
        if query_labels is None or index_labels is None:
            raise ValueError(f"exclude={exclude!r} needs query_labels and index_labels")
        ql = check_labels(query_labels, Q.shape[0], "query_labels")
        xl = check_labels(index_labels, X.shape[0], "index_labels")
    if exclude_self and Q.shape[0] != X.shape[0]:
        raise ValueError(f"exclude_self needs queries and index of equal length, got "
                         f"{Q.shape[0]} and {X.shape[0]}")
    floor = None
    if q_min_km:
        if query_gps is None or index_gps is None:
            raise ValueError("q_min_km needs query_gps and index_gps")
        floor = QFloor(check_gps_rows(query_gps, Q.shape[0], "query_gps"),
                       check_gps_rows(index_gps, X.shape[0], "index_gps"), q_min_km)
    xp = get_xp(device)
    mask = PairMask(ql, xl, exclude, exclude_self, xp, floor=floor)
    return knn_search(Q, X, k, xp, mask=mask, batch_size=batch_size, verbose=verbose)


class QFloor:
    """Pairs of points closer than ``q_min_km`` on the earth (great circle).

    ``near(q0, q1, x0, x1, xp)`` is the boolean tile of query rows ``q0:q1``
    against index rows ``x0:x1`` that lie within the floor.  The test is on
    float64 unit vectors, ``u_q . u_x > cos(q_min_km / R)``: exact to well
    under a metre, also for floors of a few metres.

    Parameters
    ----------
    query_gps, index_gps : ndarray of shape (n, 2)
        Validated ``[lat, lon]`` degrees.
    q_min_km : float
        Floor (> 0).

    Examples
    --------
    >>> f = QFloor(np.array([[0.0, 0.0]]), np.array([[0.0, 0.001], [0.0, 1.0]]), 1.0)
    >>> f.near(0, 1, 0, 2, np).tolist()
    [[True, False]]
    """

    def __init__(self, query_gps, index_gps, q_min_km):
        self.uq, self.ux = to_unit_vectors(query_gps), to_unit_vectors(index_gps)
        self._cos_floor = float(np.cos(min(float(q_min_km) / EARTH_RADIUS_KM, np.pi)))
        self._device = {}

    def subset(self, query_rows=None, index_rows=None):
        """The floor between subsets of the queries and of the index."""
        return self.against(self.ux if index_rows is None else self.ux[index_rows],
                            self.uq if query_rows is None else self.uq[query_rows])

    def against(self, index_unit_vectors, query_unit_vectors=None):
        """The same floor from these queries to other points (unit vectors, (m, 3))."""
        out = QFloor.__new__(QFloor)
        out.uq = self.uq if query_unit_vectors is None else query_unit_vectors
        out.ux = np.asarray(index_unit_vectors, dtype=np.float64)
        out._cos_floor, out._device = self._cos_floor, {}
        return out

    def near_pairs(self, query_rows, index_rows):
        """Whether ``index_rows[i, j]`` lies within the floor of ``query_rows[i]`` (NumPy)."""
        dot = np.einsum("ic,ijc->ij", self.uq[query_rows], self.ux[index_rows])
        return dot > self._cos_floor

    def near_outer(self, query_rows, index_rows):
        """Whether ``index_rows[j]`` lies within the floor of ``query_rows[i]``: (m, c) (NumPy)."""
        return self.uq[query_rows] @ self.ux[index_rows].T > self._cos_floor

    def near(self, q0, q1, x0, x1, xp):
        if xp not in self._device:
            self._device[xp] = (to_device(self.uq, xp, np.float64), to_device(self.ux, xp, np.float64))
        uq, ux = self._device[xp]
        return (uq[q0:q1] @ ux[x0:x1].T) > self._cos_floor


class PairMask:
    """Which (query, index) pairs of a tile are excluded; ``None`` when nothing is.

    Called as ``mask(q0, q1, x0, x1)`` with the tile's row ranges.  Three rules,
    each optional: by label (``exclude``: ``"same"`` or ``"different"``), the row
    itself (``exclude_self``: query ``i`` is index ``i``), and a distance floor
    (``floor``, a :class:`QFloor`: pairs closer than ``q_min_km``).

    Examples
    --------
    >>> PairMask(np.array([0, 1]), np.array([0, 0, 1]), "same", False, np)(0, 2, 0, 3).tolist()
    [[True, True, False], [False, False, True]]
    """

    def __init__(self, query_labels, index_labels, exclude, exclude_self, xp, floor=None):
        self.exclude, self.exclude_self, self.xp, self.floor = exclude, exclude_self, xp, floor
        if exclude is not None:
            self.ql = to_device(query_labels, xp, np.int64)
            self.xl = to_device(index_labels, xp, np.int64)

    def __call__(self, q0, q1, x0, x1):
        xp, m = self.xp, None
        if self.exclude is not None:
            a, b = self.ql[q0:q1, None], self.xl[None, x0:x1]
            m = (a == b) if self.exclude == "same" else (a != b)
        if self.exclude_self and q0 < x1 and x0 < q1:
            eye = xp.arange(q0, q1)[:, None] == xp.arange(x0, x1)[None, :]
            m = eye if m is None else (m | eye)
        if self.floor is not None:
            near = self.floor.near(q0, q1, x0, x1, xp)
            m = near if m is None else (m | near)
        return m

    def pairs(self, query_rows, index_rows):
        """The same rules for any query rows against any index rows (NumPy): a boolean
        ``(len(query_rows), len(index_rows))`` array, all False when no rule is set.

        Examples
        --------
        >>> m = PairMask(np.array([0, 1]), np.array([0, 0, 1]), "same", True, np)
        >>> m.pairs(np.array([1, 0]), np.array([2, 0])).tolist()
        [[True, False], [False, True]]
        """
        q, x = np.asarray(query_rows)[:, None], np.asarray(index_rows)[None, :]
        m = np.zeros((q.shape[0], x.shape[1]), dtype=bool)
        if self.exclude is not None:
            a, b = self.ql[q], self.xl[x]
            m |= (a == b) if self.exclude == "same" else (a != b)
        if self.exclude_self:
            m |= q == x
        if self.floor is not None:
            m |= self.floor.near_outer(query_rows, index_rows)
        return m


def knn_search(Q, X, k, xp, *, mask=None, batch_size=None, verbose=0, center=True):
    """Blocked exact k-NN on validated float arrays (the engine of :func:`nearest_neighbors`).

    ``mask(q0, q1, x0, x1)`` returns a boolean tile of excluded pairs, or None.
    Returns host arrays ``(distances float32, indices int64)`` padded with
    ``inf`` / ``-1``.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0]], np.float32)
    >>> mask = PairMask(None, None, None, True, np)          # never the row itself
    >>> d, i = knn_search(X, X, 2, np, mask=mask)
    >>> i.tolist(), d[:, 0].tolist()
    ([[1, 2], [0, 2], [1, 0]], [1.0, 1.0, 2.0])
    """
    kind = "cpu" if xp is np else "gpu"
    nq, nx = Q.shape[0], X.shape[0]
    same = Q is X  # one device copy when the queries are the index
    Xd = to_device(X, xp, np.float32)
    Qd = Xd if same else to_device(Q, xp, np.float32)
    # block by block (_rows): a centred copy of X would double the memory at scale
    mu = search_centre(Xd, xp) if center and nx else None
    xn = _sq_norms(Xd, mu, xp)
    qn = xn if same else _sq_norms(Qd, mu, xp)
    bq = int(batch_size or _DEFAULT_QUERY_BLOCK[kind])
    bq = max(1, min(bq, nq))
    bx = max(min(nx, _TILE_ELEMENTS[kind] // bq), min(nx, 4 * k), 1)
    keys = xp.empty((nq, k), dtype=np.int64)
    for q0 in progress(range(0, nq, bq), verbose=verbose, desc="k-NN blocks",
                       total=-(-nq // bq)):
        q1 = min(q0 + bq, nq)
        best = None
        qb = _rows(Qd, q0, q1, mu)
        for x0 in range(0, nx, bx):
            x1 = min(x0 + bx, nx)
            with small_gemm_context((q1 - q0) * (x1 - x0) * Xd.shape[1], xp):
                d2 = qb @ _rows(Xd, x0, x1, mu).T
            d2 *= -2.0
            d2 += qn[q0:q1, None]
            d2 += xn[None, x0:x1]
            tile_mask = mask(q0, q1, x0, x1) if mask is not None else None
            if best is not None and best.shape[1] == k:   # only what beats each row's k-th
                best = _merge(best, _tile_keys_below(d2, x0, tile_mask, best.max(axis=1) >> 32,
                                                     xp), k, xp)
            else:
                best = _merge(best, _tile_keys(d2, x0, tile_mask, xp), k, xp)
        keys[q0:q1] = _pad(best, k, xp, q1 - q0)
    return _decode(xp.sort(keys, axis=1), xp)


def search_centre(X, xp):
    """The vector :func:`knn_search` centres its rows on: their mean rounded to integers.

    Centring cuts the cancellation in ``||q||^2 - 2 q.x + ||x||^2`` for data far
    from 0 and keeps integer data exact.  None when the rounded mean is 0
    everywhere (non-negative descriptors such as Im2GPS's): centring would then
    copy every block for nothing.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    xp : module

    Returns
    -------
    centre : ndarray of shape (d,), float32, or None

    Examples
    --------
    >>> search_centre(np.array([[10.0, 0.2], [12.0, 0.4]], np.float32), np).tolist()
    [11.0, 0.0]
    >>> search_centre(np.array([[0.0, 0.2], [0.6, 0.4]], np.float32), np) is None
    True
    """
    mu = xp.rint(X.mean(axis=0, dtype=np.float64)).astype(np.float32)
    return mu if bool(mu.any()) else None


def _rows(A, r0, r1, mu):
    """Rows ``r0:r1`` of ``A``, centred on ``mu`` when given (a copy of that block only)."""
    return A[r0:r1] if mu is None else A[r0:r1] - mu


def _sq_norms(A, mu, xp):
    """Squared norms of the (centred) rows of ``A``, about 2^20 elements at a time."""
    out = xp.empty(A.shape[0], dtype=np.float32)
    block = max(1, (1 << 20) // max(A.shape[1], 1))
    for r0 in range(0, A.shape[0], block):
        b = _rows(A, r0, r0 + block, mu)
        out[r0:r0 + block] = xp.einsum("ij,ij->i", b, b)   # no squared copy: 2x (b * b).sum
    return out


def _tile_bits(d2, tile_mask, xp):
    """The sortable int32 bits of a tile's squared distances (clamped at 0, masked ones inf)."""
    xp.maximum(d2, 0.0, out=d2)
    if tile_mask is not None:
        d2[tile_mask] = np.inf
    return d2.view(np.int32) & 0x7FFFFFFF  # also maps -0.0 to +0.0


def _tile_keys(d2, x0, tile_mask, xp):
    """int64 keys ``bits(d^2) << 32 | index`` of a tile (masked entries get inf)."""
    bits = _tile_bits(d2, tile_mask, xp)
    keys = bits.astype(np.int64)
    keys <<= 32
    keys |= xp.arange(x0, x0 + d2.shape[1], dtype=np.int64)[None, :]
    return keys


def _tile_keys_below(d2, x0, tile_mask, kth_bits, xp):
    """The keys of a tile's entries whose distance bits are below ``kth_bits`` (each row's
    running k-th best), packed left per row and padded with the no-candidate key; None when
    no entry qualifies.

    Exact: an entry of this tile ties the k-th best only at a higher index (tiles come in
    index order), so it could never displace it.  Most of a wide search's entries lose to the
    first tiles' best; without this filter every one of them was keyed and partitioned (the
    fDGAE photo -> anchor search at 664,720 photos: 1.8 s per 512 photos, most of it there).
    """
    bits = _tile_bits(d2, tile_mask, xp)
    keep = bits < kth_bits[:, None]
    counts = keep.sum(axis=1)
    width = int(counts.max()) if counts.size else 0
    if width == 0:
        return None
    rows, cols = xp.nonzero(keep)                  # row-major: each row's entries in order
    starts = xp.cumsum(counts) - counts
    slot = xp.arange(rows.size) - xp.repeat(starts, counts)
    out = xp.full((d2.shape[0], width), _NO_CANDIDATE, dtype=np.int64)
    out[rows, slot] = (bits[rows, cols].astype(np.int64) << 32) | (cols + x0)
    return out


def _merge(best, keys, k, xp):
    """Smallest ``k`` keys per row of ``best`` and ``keys`` together (unsorted)."""
    if keys is None:
        return best
    if best is not None:
        keys = xp.concatenate([best, keys], axis=1)
    if keys.shape[1] > k:
        keys = xp.partition(keys, k - 1, axis=1)[:, :k]
    return keys


def _pad(best, k, xp, n_rows):
    """Pad rows to ``k`` keys with the 'no candidate' key (inf distance, index all ones)."""
    if best is None:
        best = xp.empty((n_rows, 0), dtype=np.int64)
    if best.shape[1] == k:
        return best
    fill = xp.full((best.shape[0], k - best.shape[1]), _NO_CANDIDATE, dtype=np.int64)
    return xp.concatenate([best, fill], axis=1)


def _decode(keys, xp):
    """Sorted keys -> host ``(distances float32, indices int64)``; inf entries -> -1."""
    idx = keys & _LOW32
    bits = (keys >> 32).astype(np.int32)
    d2 = bits.view(np.float32)
    dist = xp.sqrt(d2)
    idx = xp.where(bits == _INF_BITS, -1, idx)
    return to_host(dist).astype(np.float32, copy=False), to_host(idx).astype(np.int64, copy=False)


def first_kept(indices, keep, k):
    """The first ``k`` kept entries of each row, in row order, ``-1`` padded.

    The step after an over-fetched search: ``indices`` ranked per row, ``keep`` which of
    them qualify (another POI, beyond the floor, not the row itself, not a repeat).

    Parameters
    ----------
    indices : ndarray of shape (m, c), int
    keep : ndarray of bool, shape (m, c)
    k : int

    Returns
    -------
    table : ndarray of shape (m, k), int64

    Examples
    --------
    >>> first_kept(np.array([[4, 7, 2, 9], [1, 3, 5, 6]]),
    ...            np.array([[False, True, True, True], [False, False, False, True]]), 2).tolist()
    [[7, 2], [6, -1]]
    """
    first = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    kept = np.where(np.take_along_axis(keep, first, axis=1),
                    np.take_along_axis(indices, first, axis=1), -1).astype(np.int64)
    return np.pad(kept, ((0, 0), (0, k - kept.shape[1])), constant_values=-1)


def neighbors_to_csr(indices, n_cols, rows=None):
    """Sparse 0/1 graph from a padded neighbour table.

    Parameters
    ----------
    indices : ndarray of shape (m, k), int
        Column indices, ``-1`` for padding.
    n_cols : int
        Number of columns (and rows when ``rows`` is None).
    rows : ndarray of shape (m,), optional
        Row of each line of ``indices`` (default ``0..m-1``).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_cols, n_cols), float32 ones

    Examples
    --------
    >>> neighbors_to_csr(np.array([[1, -1], [0, 2]]), 3, rows=[0, 2]).toarray().tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]
    """
    import scipy.sparse as sp

    indices = np.asarray(indices, dtype=np.int64)
    if rows is None:
        rows = np.arange(indices.shape[0])
    valid = indices >= 0
    r = np.repeat(np.asarray(rows, dtype=np.int64), valid.sum(axis=1))
    c = indices[valid]
    g = sp.csr_matrix((np.ones(c.size, dtype=np.float32), (r, c)), shape=(n_cols, n_cols))
    g.sort_indices()
    return g
