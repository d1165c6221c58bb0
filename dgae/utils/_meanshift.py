"""Flat-kernel mean-shift with scikit-learn's semantics, all seeds iterated together.

:class:`sklearn.cluster.MeanShift` moves one seed at a time in Python (one
radius query per seed per iteration), which takes ~110 s for 10,000 photo
coordinates.  This module reproduces its algorithm step for step

- seeds: ``get_bin_seeds`` (points rounded to a grid of spacing
  ``bandwidth``, bins with >= ``min_bin_freq`` points, float32; the points
  themselves when every point has its own bin),
- iteration: the mean of the points within ``bandwidth`` (inclusive); stop
  when the shift is <= 1e-3 * bandwidth or after ``max_iter`` iterations; the
  seed's intensity is the number of points in its last neighbourhood,
- de-duplication: centres sorted by (intensity, coordinates) descending,
  each kept centre suppresses the later ones within ``bandwidth``,
- labels: the nearest kept centre (``cluster_all=True``),

but moves *all* active seeds per iteration with one batched neighbour query
(a KD-tree dual traversal in low dimension, GEMM tiles in high dimension).
The neighbour backends are the only difference between POI mining on GPS
and the visual anchors of fDGAE.
"""
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ._backend import to_device, to_host

from ._search import PairMask, knn_search, small_gemm_context

#: Coordinates used to break intensity ties when ranking centres (see select_centers).
_TIE_COORDS = 8


def bin_seeds(X, bin_size, min_bin_freq=1):
    """Vectorised :func:`sklearn.cluster.get_bin_seeds` (same seeds, same dtype).

    Examples
    --------
    >>> bin_seeds(np.array([[0.1, 0.0], [0.2, 0.1], [2.0, 2.0]]), 1.0).tolist()
    [[0.0, 0.0], [2.0, 2.0]]
    """
    binned, counts = np.unique(np.round(X / bin_size), axis=0, return_counts=True)
    seeds = binned[counts >= min_bin_freq].astype(np.float32)
    if len(seeds) == len(X):
        return X
    return seeds * float(bin_size)


def shift_seeds(seeds, bandwidth, stats, max_iter=300):
    """Iterate all seeds to convergence.

    Parameters
    ----------
    seeds : ndarray of shape (s, d)
    bandwidth : float
    stats : callable
        ``stats(means, active) -> (sums (a, d), counts (a,))`` over the points
        within ``bandwidth`` of each active mean (``active``: seed indices).
    max_iter : int

    Returns
    -------
    means : ndarray of shape (s, d), float64
    intensity : ndarray of shape (s,)
        Points in the last neighbourhood (0: the seed saw no point).
    n_iter : int
    """
    means = np.array(seeds, dtype=np.float64)
    intensity = np.zeros(len(means), dtype=np.float64)
    active = np.arange(len(means))
    stop = 1e-3 * bandwidth
    it = 0
    while active.size:
        sums, counts = stats(means[active], active)
        intensity[active] = counts
        has = counts > 0
        new = sums[has] / counts[has, None]
        moved = active[has]
        shift = np.sqrt(((new - means[moved]) ** 2).sum(axis=1))
        means[moved] = new
        going = np.zeros(active.size, dtype=bool)
        going[has] = (shift > stop) & (it < max_iter)
        active = active[going]
        it += 1
    return means, intensity, it


def select_centers(means, intensity, pairs_within, groups=None):
    """scikit-learn's duplicate removal: returns indices of the kept centres, in rank order.

    ``pairs_within(C, groups) -> (i, j)`` lists the pairs of rows of ``C`` at
    most a bandwidth apart; ``groups`` (optional) keeps centres of different
    groups from suppressing each other.  scikit-learn ranks centres by
    ``(intensity, tuple(centre))`` descending; ties in intensity are broken
    here by the first ``_TIE_COORDS`` coordinates, which differs only for
    centres equal in all of them (in practice identical centres, which
    suppress each other whichever comes first).
    """
    ok = np.flatnonzero(intensity > 0)
    keys = [means[ok, c] for c in range(min(means.shape[1], _TIE_COORDS) - 1, -1, -1)]
    order = ok[np.lexsort(keys + [intensity[ok]])[::-1]]
    C = means[order]
    i, j = pairs_within(C, None if groups is None else groups[order])
    adj = sp.csr_matrix((np.ones(i.size, dtype=bool), (i, j)), shape=(len(C), len(C)))
    unique = np.ones(len(C), dtype=bool)
    # the greedy pass is inherently sequential; only centres with neighbours need a look
    for r in np.flatnonzero(np.diff(adj.indptr)):
        if unique[r]:
            unique[adj.indices[adj.indptr[r]:adj.indptr[r + 1]]] = False
            unique[r] = True
    return order[unique]


class TreeNeighbors:
    """Low-dimensional backend (GPS unit vectors): KD-trees, duplicate points weighted.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64
    bandwidth : float
    workers : int
        Threads for the nearest-centre query.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 0.0], [0.5, 0.0], [9.0, 9.0]])
    >>> mean_shift(TreeNeighbors(X, 1.0), X, 1.0)[1].tolist()   # labels: two clusters
    [0, 0, 0, 1]
    """

    def __init__(self, X, bandwidth, workers=1):
        self.points, self.weights = np.unique(X, axis=0, return_counts=True)
        self.tree = cKDTree(self.points)
        self.X, self.bandwidth, self.workers = X, bandwidth, workers

    def stats(self, means, active=None):
        pairs = cKDTree(means).sparse_distance_matrix(self.tree, self.bandwidth,
                                                      output_type="ndarray")
        i, j = pairs["i"], pairs["j"]
        w = self.weights[j].astype(np.float64)
        n = len(means)
        counts = np.bincount(i, weights=w, minlength=n)
        sums = np.stack([np.bincount(i, weights=w * self.points[j, c], minlength=n)
                         for c in range(self.points.shape[1])], axis=1)
        return sums, counts

    def pairs_within(self, C, groups=None):
        p = cKDTree(C).query_pairs(self.bandwidth, output_type="ndarray")
        return np.concatenate([p[:, 0], p[:, 1]]), np.concatenate([p[:, 1], p[:, 0]])

    def nearest(self, C, groups=None):
        dist, idx = cKDTree(C).query(self.X, k=1, workers=self.workers)
        return idx.astype(np.int64), dist


class DenseNeighbors:
    """High-dimensional backend (visual features): GEMM tiles, optional label blocks.

    Points only see seeds / centres of their own group (POI) when ``groups``
    is given, so many POIs are clustered in one batch.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32
    bandwidth : float
    xp : module
        numpy or cupy.
    groups : ndarray of shape (n,), optional
    seed_groups : ndarray of shape (s,), optional
        Group of each seed (indexed by ``active`` in :meth:`stats`).

    Examples
    --------
    >>> X = np.array([[0.0], [0.2], [5.0], [0.1]], np.float32)
    >>> groups = np.array([0, 0, 0, 1])        # the last point sees only its own group
    >>> centres, labels, _, cgroups = mean_shift(DenseNeighbors(X, 1.0, np, groups, groups), X,
    ...                                          1.0, seed_groups=groups)
    >>> labels.tolist(), cgroups.tolist()
    ([0, 0, 1, 2], [0, 0, 1])
    """

    def __init__(self, X, bandwidth, xp, groups=None, seed_groups=None):
        self.X, self.bandwidth, self.xp = X, bandwidth, xp
        self.Xd = to_device(X, xp, np.float32)
        self.xn = (self.Xd * self.Xd).sum(axis=1)
        self.groups, self.seed_groups = groups, seed_groups

    def _mask(self, a_groups, b_groups):
        if a_groups is None:
            return None
        return PairMask(a_groups, b_groups, "different", False, self.xp)(
            0, len(a_groups), 0, len(b_groups))

    def stats(self, means, active):
        xp = self.xp
        M = to_device(means, xp, np.float32)
        with small_gemm_context(M.shape[0] * self.Xd.shape[0] * self.Xd.shape[1], xp):
            d2 = (M * M).sum(axis=1)[:, None] - 2.0 * (M @ self.Xd.T) + self.xn[None, :]
        within = d2 <= self.bandwidth ** 2
        sg = None if self.seed_groups is None else self.seed_groups[active]
        m = self._mask(sg, self.groups)
        if m is not None:
            within &= ~m
        w = within.astype(np.float32)
        with small_gemm_context(M.shape[0] * self.Xd.shape[0] * self.Xd.shape[1], xp):
            sums = to_host(w @ self.Xd).astype(np.float64)
        return sums, to_host(w.sum(axis=1)).astype(np.float64)

    def pairs_within(self, C, groups=None):
        sq = (C * C).sum(axis=1)
        with small_gemm_context(C.shape[0] ** 2 * C.shape[1], np):
            d2 = sq[:, None] - 2.0 * C @ C.T + sq[None, :]
        ok = d2 <= self.bandwidth ** 2
        if groups is not None:
            ok &= groups[:, None] == groups[None, :]
        np.fill_diagonal(ok, False)
        i, j = np.nonzero(ok)
        return i, j

    def nearest(self, C, groups=None):
        mask = None
        if groups is not None:
            mask = PairMask(self.groups, groups, "different", False, self.xp)
        dist, idx = knn_search(self.X, C.astype(np.float32), 1, self.xp, mask=mask)
        return idx[:, 0], dist[:, 0]


def mean_shift(backend, seeds, bandwidth, max_iter=300, seed_groups=None):
    """Mean-shift on ``backend``'s points from ``seeds``.

    Returns ``(centres, labels, n_iter, centre_groups)``: ``labels`` index the
    returned centres (each point's nearest centre of its own group when the
    backend has groups; ``centre_groups`` is None otherwise).

    Examples
    --------
    >>> X = np.array([[0.0], [0.4], [10.0]])
    >>> centres, labels, n_iter, _ = mean_shift(TreeNeighbors(X, 1.0), X, 1.0)
    >>> centres.ravel().tolist(), labels.tolist()
    ([0.2, 10.0], [0, 0, 1])
    """
    means, intensity, n_iter = shift_seeds(seeds, bandwidth, backend.stats, max_iter)
    keep = select_centers(means, intensity, backend.pairs_within, seed_groups)
    centers = means[keep]
    cgroups = None if seed_groups is None else seed_groups[keep]
    labels, _ = backend.nearest(centers, cgroups)
    return centers, labels, n_iter, cgroups


def batched_mean_shift(points, bandwidth, max_iter=300):
    """Mean-shift of many small, independent point sets at once (the same algorithm as
    :func:`mean_shift`, every point a seed): the sets are stacked as one ``(sets, k, d)``
    array and each step is a batched GEMM.  The Mean-Shift head clusters each query's
    neighbours this way; :func:`mean_shift` would need the sets kept apart by an offset
    coordinate, a KD-tree query over all of them and a Python loop over the centres (2-3x
    slower for 2,500 queries of 120 neighbours).

    Parameters
    ----------
    points : ndarray of shape (s, k, d)
        ``s`` sets of ``k`` points.
    bandwidth : float
    max_iter : int

    Returns
    -------
    centers : ndarray of shape (s, k, d), float64
        Each set's seeds' converged means, in rank order (intensity, then coordinates,
        descending); only those of ``kept`` are centres.
    kept : ndarray of bool, shape (s, k)
    labels : ndarray of int, shape (s, k)
        Each point's nearest kept centre (its position in ``centers``).

    Examples
    --------
    >>> P = np.array([[[0.0], [0.4], [10.0]], [[5.0], [9.0], [9.5]]])
    >>> centers, kept, labels = batched_mean_shift(P, 1.0)
    >>> labels.tolist(), centers[kept].ravel().tolist()   # the 2nd seed of set 0 came to 0.2 too
    ([[0, 0, 2], [2, 0, 0]], [0.2, 10.0, 9.25, 5.0])
    """
    P = np.asarray(points, dtype=np.float64)
    s, k, _ = P.shape
    bw2 = float(bandwidth) ** 2
    means = P.copy()
    intensity = np.zeros((s, k))
    active = np.ones((s, k), dtype=bool)
    it = 0
    while active.any():
        rows = np.flatnonzero(active.any(axis=1))  # the sets with a moving seed
        M, go = means[rows], active[rows]
        within = (_sq_dist(M, P[rows]) <= bw2).astype(np.float64)  # (sets, seeds, points)
        counts = within.sum(axis=2)
        new = (within @ P[rows]) / np.maximum(counts, 1.0)[..., None]
        moved = go & (counts > 0)
        shift = np.sqrt(((new - M) ** 2).sum(axis=2))
        intensity[rows] = np.where(go, counts, intensity[rows])
        means[rows] = np.where(moved[..., None], new, M)
        active[rows] = moved & (shift > 1e-3 * bandwidth) & (it < max_iter)
        it += 1
    # rank: intensity, then the coordinates, descending (select_centers' order)
    keys = [-means[..., c] for c in range(min(P.shape[2], _TIE_COORDS) - 1, -1, -1)]
    order = np.lexsort(keys + [-intensity], axis=-1)
    centers = np.take_along_axis(means, order[..., None], axis=1)
    kept = np.take_along_axis(intensity, order, axis=1) > 0
    near = _sq_dist(centers, centers) <= bw2
    for r in range(k):  # greedy: each kept centre suppresses the later ones within bandwidth
        hit = near[:, r, r + 1:] & kept[:, r, None]
        kept[:, r + 1:] &= ~hit
    d2 = np.where(kept[:, None, :], _sq_dist(P, centers), np.inf)
    return centers, kept, np.argmin(d2, axis=2)


def _sq_dist(A, B):
    """Squared distances between the rows of each set pair: (s, a, d), (s, b, d) -> (s, a, b)."""
    d2 = (A * A).sum(axis=2)[:, :, None] + (B * B).sum(axis=2)[:, None, :]
    d2 -= 2.0 * (A @ B.transpose(0, 2, 1))
    return np.maximum(d2, 0.0)
