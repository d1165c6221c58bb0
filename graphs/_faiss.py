"""faiss as the gallery engine: exact, inverted-file, product-quantised and HNSW indexes.

faiss (Meta's similarity-search library, ``pip install faiss-cpu``: the ``faiss`` extra) is
what the field indexes galleries with (Img2Loc, G3).  :class:`FaissIndex` puts its four usual
settings behind one parameter, with the same ``fit`` / ``query`` contract as
:class:`IVFIndex`, so ``GeoKNN(index="faiss")`` or ``GeoKNN(index=FaissIndex(kind="ivfpq"))``
searches with it.  Distances are Euclidean (faiss returns squared ones).  The index pickles
through ``faiss.serialize_index``, so a fitted model holding one saves and loads with joblib.
"""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from dgae.utils import require

#: Optional packages the Examples need (tests/test_doctests.py skips them without).
DOCTEST_REQUIRES = ("faiss",)
#: The settings of ``FaissIndex(kind=...)``.
FAISS_KINDS = ("flat", "ivf", "ivfpq", "hnsw")


def _faiss():
    return require("faiss", "faiss", purpose="FaissIndex")


class FaissIndex(BaseEstimator):
    """A faiss k-NN index over the gallery (Euclidean), one parameter for its kind.

    Parameters
    ----------
    kind : {"flat", "ivf", "ivfpq", "hnsw"}, default="ivf"
        ``"flat"``: exact search; ``"ivf"``: inverted file over k-means cells, vectors kept
        whole (IVF-Flat); ``"ivfpq"``: the same with product-quantised vectors of
        ``pq_bytes`` bytes (a photo in 16-64 bytes); ``"hnsw"``: a navigable small-world graph.
    n_lists : int or "auto", default="auto"
        k-means cells of the IVF kinds; ``"auto"``: ``4 * sqrt(n)``, at most ``n / 39``.
    n_probe : int, default=16
        Cells scanned per query (IVF kinds).
    pq_bytes : int, default=32
        Bytes per photo of ``"ivfpq"`` (sub-quantisers of 8 bits, at most one per dimension).
        A width that is not a multiple of it is zero-padded to one inside the index (distances
        unchanged): DGAE's retrieval features are often of a prime or awkward width (2,971
        Im2GPS values; 3,099 beside a 128-d code), where the largest divisor would leave one
        to three sub-quantisers for thousands of dimensions.
    hnsw_m : int, default=32
        Links per node (``"hnsw"``).
    ef_search : int, default=128
        Search breadth (``"hnsw"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the training sample and faiss's k-means.

    Attributes
    ----------
    index_ : faiss.Index
    n_lists_ : int or None
    bytes_per_photo_ : float
        Size of the serialised index over the number of photos.

    Examples
    --------
    >>> import numpy as np
    >>> from dgae.graphs import FaissIndex
    >>> X = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
    >>> d, i = FaissIndex(kind="flat").fit(X).query(X[:2], k=3)
    >>> i[:, 0].tolist(), d.dtype.name
    ([0, 1], 'float32')
    """

    _parameter_constraints = {
        "kind": [StrOptions(set(FAISS_KINDS))],
        "n_lists": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_probe": [Interval(Integral, 1, None, closed="left")],
        "pq_bytes": [Interval(Integral, 1, None, closed="left")],
        "hnsw_m": [Interval(Integral, 2, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, kind="ivf", n_lists="auto", n_probe=16, pq_bytes=32, hnsw_m=32,
                 ef_search=128, random_state=None):
        self.kind = kind
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.pq_bytes = pq_bytes
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.random_state = random_state

    def fit(self, X, y=None):
        """Build the index over the rows of ``X`` (training the IVF / PQ kinds on a sample).

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : ignored

        Returns
        -------
        self : FaissIndex
        """
        self._validate_params()
        faiss = _faiss()
        X = np.ascontiguousarray(X, dtype=np.float32)
        n, d = X.shape
        rng = check_random_state(self.random_state)
        self.n_lists_ = None
        if self.kind == "flat":
            index = faiss.IndexFlatL2(d)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m)
            index.hnsw.efSearch = self.ef_search
        else:
            auto = int(min(4 * np.sqrt(n), max(1, n // 39)))
            self.n_lists_ = max(1, auto if self.n_lists == "auto" else min(int(self.n_lists), n))
            if self.kind == "ivf":
                index = ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, self.n_lists_)
            else:
                m = min(int(self.pq_bytes), d)
                width = -(-d // m) * m  # zero-padded to a multiple of the sub-quantisers
                ivf = faiss.IndexIVFPQ(faiss.IndexFlatL2(width), width, self.n_lists_, m, 8)
                index = ivf if width == d else faiss.IndexPreTransform(
                    faiss.RemapDimensionsTransform(d, width, False), ivf)
            ivf.cp.seed = int(rng.randint(2 ** 31))
            sample = X if n <= 256 * self.n_lists_ else X[rng.choice(n, 256 * self.n_lists_,
                                                                      replace=False)]
            index.train(sample)
            ivf.nprobe = min(self.n_probe, self.n_lists_)
        index.add(X)
        self.index_ = index
        self.n_features_in_ = d
        self.bytes_per_photo_ = float(faiss.serialize_index(index).nbytes) / max(n, 1)
        return self

    def query(self, Q, k):
        """The ``k`` nearest indexed rows of each query.

        Parameters
        ----------
        Q : array-like of shape (m, d)
        k : int

        Returns
        -------
        distances : ndarray of shape (m, k), float32
            Euclidean, ascending; ``inf`` where fewer than ``k`` rows were found.
        indices : ndarray of shape (m, k), int64
            ``-1`` where fewer than ``k`` rows were found.
        """
        check_is_fitted(self, "index_")
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        if Q.ndim != 2 or Q.shape[1] != self.n_features_in_:
            raise ValueError(f"Q must be (m, {self.n_features_in_}), got {Q.shape}")
        d2, idx = self.index_.search(Q, int(k))
        dist = np.sqrt(np.maximum(d2, 0)).astype(np.float32)
        dist[idx < 0] = np.inf
        return dist, idx.astype(np.int64)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        if "index_" in state:
            # bytes, not the uint8 array faiss gives: joblib would store an array apart and
            # hand __setstate__ a placeholder
            state["index_"] = _faiss().serialize_index(state["index_"]).tobytes()
        return state

    def __setstate__(self, state):
        if "index_" in state:
            state["index_"] = _faiss().deserialize_index(np.frombuffer(state["index_"], np.uint8))
        super().__setstate__(state)
