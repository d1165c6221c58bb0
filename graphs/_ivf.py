"""Approximate k-NN by an inverted file (IVF): k-means lists, a few probed per query.

Why our own: pynndescent (``index="ann"``) stops at recall@10 0.93 on
clustered million-vector galleries (its k-NN graph falls into islands the
search cannot leave; ``benchmarks/bench_ann.py``), faiss is not a dependency,
and scikit-learn has no inverted file.  The coarse quantizer is
scikit-learn's k-means; the lists are scanned with one GEMM per list for all
the queries that probe it, in float32 (NumPy, CPU).
"""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state

from dgae.utils import check_features, knn_search, progress


#: k-means is trained on at most this many photos per list (faiss uses up to 256; 32
#: left lists 2x more unequal and slower on the benchmark; 128 builds 1 M in about a minute).
TRAIN_PER_LIST = 128
#: Lloyd iterations of the coarse k-means.
KMEANS_ITER = 20
#: A query short of ``k`` rows in its probed cells probes this many times more cells ...
WIDEN = 4
#: ... at most this many times, then searches the whole gallery exactly.
WIDEN_ROUNDS = 2


def auto_n_lists(n):
    """``round(sqrt(n))`` lists: the coarse and the fine scan cost alike.

    Examples
    --------
    >>> auto_n_lists(1_000_000), auto_n_lists(800), auto_n_lists(1)
    (1000, 28, 1)
    """
    return max(1, int(round(np.sqrt(n))))


class IVFIndex(BaseEstimator):
    """Inverted-file index for Euclidean k-NN search over float32 vectors.

    The gallery is split into ``n_lists`` k-means cells; a query scans the
    photos of its ``n_probe`` nearest cells exactly.  Queries whose probed
    cells hold fewer than ``k`` photos (or fewer that ``exclude`` allows) probe
    more cells (:data:`WIDEN`), and at last the whole gallery.

    Parameters
    ----------
    n_lists : int or "auto", default="auto"
        k-means cells; ``"auto"``: :func:`auto_n_lists` (``sqrt(n)``).
    n_probe : int, default=8
        Cells scanned per query (recall against speed; see
        ``benchmarks/bench_ann.py``).
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means (its training subsample and initial centres).
    verbose : int, default=0

    Attributes
    ----------
    centroids_ : ndarray of shape (n_lists_, d), float32
    n_lists_ : int
    list_starts_ : ndarray of shape (n_lists_ + 1,), int64
        Cell ``c`` holds sorted rows ``list_starts_[c]:list_starts_[c + 1]``.
    order_ : ndarray of shape (n,), int64
        Gallery row of each sorted row.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
    >>> index = IVFIndex(n_lists=10, n_probe=10, random_state=0).fit(X)
    >>> d, i = index.query(X[:3], k=2)
    >>> i[:, 0].tolist(), np.round(d[:, 0], 2).tolist()
    ([0, 1, 2], [0.0, 0.0, 0.0])
    """

    def __init__(self, n_lists="auto", n_probe=8, random_state=None, verbose=0):
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X):
        """Train the coarse k-means and file every row under its nearest centre.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Finite; searched in float32.

        Returns
        -------
        self : IVFIndex
        """
        X = np.ascontiguousarray(check_features(X, "X"))
        n_lists = auto_n_lists(len(X)) if self.n_lists == "auto" else self.n_lists
        if not isinstance(n_lists, Integral) or n_lists < 1:
            raise ValueError(f"n_lists must be a positive integer or 'auto', got {self.n_lists!r}")
        if not isinstance(self.n_probe, Integral) or self.n_probe < 1:
            raise ValueError(f"n_probe must be a positive integer, got {self.n_probe!r}")
        self.n_lists_ = min(int(n_lists), len(X))
        rng = check_random_state(self.random_state)
        train = X
        if len(X) > TRAIN_PER_LIST * self.n_lists_:
            train = X[np.sort(rng.choice(len(X), TRAIN_PER_LIST * self.n_lists_, replace=False))]
        km = KMeans(self.n_lists_, init="random", n_init=1, max_iter=KMEANS_ITER,
                    random_state=rng).fit(train)
        self.centroids_ = km.cluster_centers_.astype(np.float32)
        _, cell = knn_search(X, self.centroids_, 1, np, verbose=self.verbose)
        self.order_ = np.argsort(cell[:, 0], kind="stable")
        self.list_starts_ = np.r_[0, np.cumsum(np.bincount(cell[:, 0], minlength=self.n_lists_))]
        self.mean_ = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        self._data = X[self.order_] - self.mean_     # centred: less float32 cancellation
        self._centres = self.centroids_ - self.mean_
        self._sq = np.einsum("ij,ij->i", self._data, self._data)
        return self

    def query(self, Q, k, exclude=None):
        """Approximate ``k`` nearest gallery rows of each query.

        A query whose probed cells hold fewer than ``k`` (allowed) rows probes
        ``WIDEN`` times more cells, up to ``WIDEN_ROUNDS`` times, then searches
        the whole gallery exactly.

        Parameters
        ----------
        Q : array-like of shape (m, d)
            Finite, as many features as the index.
        k : int
            At most the gallery size.
        exclude : callable or None, default=None
            ``exclude(query_rows, gallery_rows) -> bool ndarray (len(query_rows),
            len(gallery_rows))``: pairs never returned (applied exactly, inside every
            probed cell).

        Returns
        -------
        distances : ndarray of shape (m, k), float32
            Euclidean, ascending (``inf`` where fewer than ``k`` rows are allowed).
        indices : ndarray of shape (m, k), int64
            Gallery rows (``-1`` where fewer than ``k`` rows are allowed).
        """
        Q = check_features(Q, "queries", min_samples=0)
        if Q.shape[1] != self._data.shape[1]:
            raise ValueError(f"queries have {Q.shape[1]} features but the index has "
                             f"{self._data.shape[1]}")
        Q = Q - self.mean_
        k = min(int(k), len(self._data))
        if len(Q) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        best_d = np.full((len(Q), k), np.inf, dtype=np.float32)   # squared until the end
        best_i = np.full((len(Q), k), -1, dtype=np.int64)
        q_sq = np.einsum("ij,ij->i", Q, Q)
        pending, done = np.arange(len(Q)), 0
        width = min(int(self.n_probe), self.n_lists_)
        for _ in range(WIDEN_ROUNDS + 1):
            _, probes = knn_search(Q[pending], self._centres, width, np)
            self._scan_cells(Q, q_sq, pending, probes[:, done:], best_d, best_i, exclude)
            pending = pending[(best_i[pending] < 0).any(axis=1)]     # still short of k rows
            if pending.size == 0 or width == self.n_lists_:
                break
            done, width = width, min(width * WIDEN, self.n_lists_)
        if pending.size and width < self.n_lists_:     # the whole gallery, exactly
            mask = None if exclude is None else (
                lambda q0, q1, x0, x1: exclude(pending[q0:q1], self.order_[x0:x1]))
            d, i = knn_search(Q[pending], self._data, k, np, mask=mask)
            best_d[pending], best_i[pending] = np.square(d), i
        best_d = np.sqrt(np.maximum(best_d, 0.0))
        idx = np.where(best_i >= 0, self.order_[np.maximum(best_i, 0)], -1)
        order = np.lexsort((idx, best_d), axis=1)      # ascending distance, ties by gallery row
        return np.take_along_axis(best_d, order, axis=1), np.take_along_axis(idx, order, axis=1)

    def _scan_cells(self, Q, q_sq, rows, probes, best_d, best_i, exclude):
        """Merge the cells ``probes[i]`` into the running top-k of query ``rows[i]``: every
        (query, cell) pair grouped by cell, one GEMM per cell for its queries."""
        cells, rows = probes.ravel(), np.repeat(rows, probes.shape[1])
        by_cell = np.argsort(cells, kind="stable")
        cells, rows = cells[by_cell], rows[by_cell]
        bounds = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1], True])
        for b0, b1 in progress(list(zip(bounds[:-1], bounds[1:])), verbose=self.verbose,
                               desc="IVF lists"):
            self._scan(Q, q_sq, rows[b0:b1], int(cells[b0]), best_d, best_i, exclude)

    def _scan(self, Q, q_sq, rows, cell, best_d, best_i, exclude=None):
        """Merge cell ``cell``'s rows into the running top-k (squared distances) of ``rows``;
        excluded pairs never enter (their distance is ``inf``, their row ``-1``)."""
        s0, s1 = self.list_starts_[cell], self.list_starts_[cell + 1]
        if s1 == s0:
            return
        d2 = Q[rows] @ self._data[s0:s1].T
        d2 *= -2.0
        d2 += q_sq[rows, None]
        d2 += self._sq[None, s0:s1]
        if exclude is not None:
            d2[exclude(rows, self.order_[s0:s1])] = np.inf
        # only queries this cell improves (below their current k-th best) are merged
        better = (d2 < best_d[rows].max(axis=1)[:, None]).any(axis=1)
        rows, d2 = rows[better], d2[better]
        if rows.size == 0:
            return
        k = best_d.shape[1]
        if d2.shape[1] > k:
            idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
            d2 = np.take_along_axis(d2, idx, axis=1)
        else:
            idx = np.broadcast_to(np.arange(d2.shape[1]), d2.shape)
        cand_d = np.concatenate([best_d[rows], d2], axis=1)
        cand_i = np.concatenate([best_i[rows], idx + s0], axis=1)
        part = np.argpartition(cand_d, k - 1, axis=1)[:, :k]
        best_d[rows] = np.take_along_axis(cand_d, part, axis=1)
        best_i[rows] = np.where(np.isfinite(best_d[rows]), np.take_along_axis(cand_i, part, axis=1),
                                -1)
