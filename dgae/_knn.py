"""GeoKNN: photo geolocation by nearest-neighbour retrieval on any features."""
import contextlib
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from dgae.graphs import FaissIndex, IVFIndex, ShardedIndex

from .base import RUN_CONSTRAINTS, GeoRegressorMixin
from .utils import resolve_device, warn
from ._heads import HEADS, apply_head, resolve_k

#: ``predict_details``' confidence without calibration: the share of the nearest gallery
#: photos that lie within this distance of the prediction.
CONFIDENCE_RADIUS_KM = 25.0

#: Neighbours a pynndescent query asks for at least (``index="ann"``; see GeoKNN._neighbors).
ANN_MIN_K = 10

#: Parameters of the heads, shared by GeoKNN and DGAE.
HEAD_CONSTRAINTS = {
    "head": [StrOptions(set(HEADS))],
    "n_neighbors": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "meanshift_bandwidth_km": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
    "min_votes": [Interval(Integral, 1, None, closed="left")],
    "kde_sigma_km": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
    "kde_power": [Interval(Real, 0, None, closed="left")],
}


class GeoEstimatorMixin(GeoRegressorMixin):
    """``predict`` by a head, ``predict_topk`` and ``predict_details``, shared by :class:`GeoKNN`
    and :class:`DGAE`.

    Subclasses provide ``_neighbors(X, k) -> (distances, indices)`` on the
    gallery and ``gallery_gps_``.
    """

    def predict(self, X):
        """Estimated ``[lat, lon]`` of each query, from the ``head``.

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        gps : ndarray of shape (n, 2), float64
        """
        check_is_fitted(self)
        dist, idx = self._neighbors(X, self.n_neighbors_)
        return apply_head(self.head_, self.gallery_gps_[idx], dist, **self.head_params_)

    def set_head(self, head):
        """Locate queries with another head from now on, without fitting again.

        The head's widths are the model's own (``_head_widths``: the
        parameters as they were at ``fit`` -- ``fit_params_`` --, or for
        :class:`DGAE` the gallery's scales where they are ``"auto"``), and so is
        its neighbour count; a parameter set after ``fit`` takes effect at the
        next ``fit``, which chooses the head again.

        Parameters
        ----------
        head : {"1nn", "meanshift", "kde"}

        Returns
        -------
        self

        Examples
        --------
        >>> X = np.array([[0.0], [0.1], [0.2], [5.0]])
        >>> gps = [[45.0, 15.0], [45.0, 15.1], [10.0, 10.0], [10.0, 10.1]]
        >>> knn = GeoKNN().fit(X, gps)
        >>> knn.predict([[0.12]]).tolist(), knn.set_head("kde").head_
        ([[45.0, 15.1]], 'kde')
        """
        check_is_fitted(self)
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        with self._as_fitted():
            self._set_head(head)
        return self

    @contextlib.contextmanager
    def _as_fitted(self):
        """The parameters as they were at ``fit`` (``fit_params_``) while the block runs: what
        runs after fit (``set_head``, ``partial_fit``) reads no parameter set since."""
        now = self.get_params(deep=False)
        self.set_params(**getattr(self, "fit_params_", now))
        try:
            yield
        finally:
            self.set_params(**now)

    def _set_head(self, head, params=None, n_neighbors=None):
        """``head_``, ``head_params_`` (every keyword :func:`~dgae._heads.apply_head` gets: the
        model's widths, ``params`` over them) and ``n_neighbors_`` (from ``n_neighbors``,
        default the parameter): what prediction reads."""
        self.head_, self.head_params_ = head, {**self._head_widths(head), **(params or {})}
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        self.n_neighbors_ = resolve_k(head, k, len(self.gallery_gps_))

    def _head_widths(self, head):
        """The keyword parameters of :func:`~dgae._heads.apply_head` for ``head``; a width
        ``"auto"`` is the gallery's (:func:`dgae.metrics.gallery_scales`: the Mean-Shift scale,
        the finest KDE width)."""
        widths = {"meanshift_bandwidth_km": self.meanshift_bandwidth_km,
                  "kde_sigma_km": self.kde_sigma_km}
        if "auto" in widths.values():
            from ._scale import gallery_scales

            scales = gallery_scales(self.gallery_gps_)
            gallery = {"meanshift_bandwidth_km": scales["meanshift_km"],
                       "kde_sigma_km": scales["kde_sigmas_km"][0]}
            widths = {k: gallery[k] if v == "auto" else v for k, v in widths.items()}
        return dict(meanshift_bandwidth_km=float(widths["meanshift_bandwidth_km"]),
                    min_votes=int(self.min_votes), kde_sigma_km=float(widths["kde_sigma_km"]),
                    kde_power=float(self.kde_power))

    def _confidence(self, features):
        """Confidence from :func:`~dgae._selection.confidence_features`: the vote share."""
        return features[:, 0]

    def _confidence_seen(self, features):
        """The confidence if the query is a view of a known place: the vote share too."""
        return features[:, 0]

    def _confidence_km(self):
        return CONFIDENCE_RADIUS_KM

    def predict_details(self, X, top_k=0, verbose=0, batch_size=1024):
        """``predict`` with what a person reading the result wants to know.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        top_k : int, default=0
            Also return the locations of the ``top_k`` nearest gallery photos.
        verbose : int, default=0
            Progress bar over batches of ``batch_size`` queries.
        batch_size : int, default=1024

        Returns
        -------
        details : sklearn.utils.Bunch
            ``gps`` (n, 2): exactly :meth:`predict`; ``match_distance`` (n,):
            distance to the nearest gallery photo in the retrieval space
            (features or codes; smaller = a closer match); ``confidence``
            (n,): for a fitted :class:`DGAE`, the calibrated probability that
            the error is at most ``confidence_km``, learned on the photos held
            out in ``fit`` for the stated query mix (unstated: new ground, a
            place the gallery has never seen); otherwise the share of the 10
            nearest gallery photos within ``confidence_km`` (25 km) of the
            prediction; ``confidence_seen`` (n,): the same probability if the
            query is another view of a place in the gallery (DGAE: learned on
            the held-out views, NaN where none was held out; otherwise the
            vote share again); ``confidence_km``: that radius; ``topk`` (n, top_k, 2):
            the ``top_k`` nearest *distinct* gallery locations (several photos of
            one place count once; NaN when the neighbours hold fewer).

        Examples
        --------
        >>> X = np.array([[0.0], [0.1], [5.0]]); gps = [[45, 15], [45, 15.01], [10, 10]]
        >>> d = GeoKNN().fit(X, gps).predict_details([[0.05], [4.0]], top_k=1)
        >>> d.confidence.round(2).tolist(), d.topk.shape
        ([0.67, 0.33], (2, 1, 2))
        """
        from sklearn.utils import Bunch

        from .utils import progress
        from ._selection import CONFIDENCE_POOL, confidence_features

        check_is_fitted(self)
        if not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}")
        n_gallery = len(self.gallery_gps_)
        head, params, k_head = self.head_, self.head_params_, self.n_neighbors_
        k = min(max(k_head, CONFIDENCE_POOL, int(top_k)), n_gallery)
        X = self._check_X(X, reset=False)
        parts = []
        for s in progress(range(0, len(X), batch_size), verbose=verbose, desc="predict",
                          unit="batch"):
            dist, idx = self._neighbors(X[s:s + batch_size], k)
            gps = self.gallery_gps_[idx]
            pred = apply_head(head, gps[:, :k_head], dist[:, :k_head], **params)
            feats = confidence_features(gps, dist, pred, self._confidence_km(),
                                        params.get("kde_power", 10.0))
            parts.append((pred, dist[:, 0], self._confidence(feats), self._confidence_seen(feats),
                          distinct_locations(gps, int(top_k))))
        cols = [np.concatenate(c) for c in zip(*parts)]
        return Bunch(gps=cols[0], match_distance=cols[1], confidence=cols[2],
                     confidence_seen=cols[3], topk=cols[4], confidence_km=self._confidence_km())

    def predict_topk(self, X, k=5):
        """Locations of the ``k`` nearest gallery photos (the paper's Table 5 oracle).

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        k : int, default=5

        Returns
        -------
        gps : ndarray of shape (n, k, 2)
            Nearest first; ``k`` is capped at the gallery size (with a
            ``UserWarning``).
        """
        check_is_fitted(self)
        n_gallery = len(self.gallery_gps_)
        if int(k) > n_gallery:
            warn(f"predict_topk: k={int(k)} exceeds the gallery's {n_gallery} photos; "
                 f"returning {n_gallery} candidates per query", UserWarning)
        _, idx = self._neighbors(X, resolve_k(self.head_, int(k), n_gallery))
        return self.gallery_gps_[idx]


def build_index(index, X, random_state=None, verbose=0):
    """The approximate index ``GeoKNN(index=...)`` searches (``None`` for exact search).

    Parameters
    ----------
    index : {"exact", "ann", "ivf", "faiss"}, IVFIndex or FaissIndex
    X : ndarray of shape (n, d), float32
    random_state : int, RandomState instance or None
    verbose : int

    Returns
    -------
    pynndescent.NNDescent, IVFIndex, FaissIndex or None

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    >>> build_index("exact", X) is None, type(build_index("ivf", X, 0)).__name__
    (True, 'IVFIndex')
    """
    if isinstance(index, (IVFIndex, FaissIndex, ShardedIndex)):
        return clone(index).fit(X)
    if index == "faiss":
        return FaissIndex(random_state=random_state).fit(X)
    if index == "ivf":
        return IVFIndex(random_state=random_state, verbose=verbose).fit(X)
    if index == "ann":
        import pynndescent

        return pynndescent.NNDescent(X, metric="euclidean", random_state=random_state,
                                     verbose=bool(verbose))
    return None


class GeoKNN(GeoEstimatorMixin, BaseEstimator):
    """Geolocation by k-NN retrieval on any features, with a location head.

    The paper's LF baseline is ``GeoKNN`` on the low-level features; the CNN
    baseline is ``GeoKNN`` on CNN features.  :class:`dgae.DGAE` uses it on
    its codes.

    Parameters
    ----------
    head : {"1nn", "meanshift", "kde", "auto"}, default="1nn"
        How neighbours' locations become one estimate (see
        :func:`dgae._heads.apply_head`): nearest neighbour, Im2GPS mean-shift
        voting, or Vo et al.'s kernel density.  ``"auto"``: chosen in ``fit``
        as :class:`DGAE` chooses its own (docs/estimator.md, "New places"):
        ``validation_fraction`` of the gallery held out (a third each whole
        regions, whole places -- ``groups``, else the POIs mined on the GPS
        --, and single views; :func:`~dgae._selection.gallery_held_out`),
        the candidate heads at the gallery's widths scored on them, then a
        match-ratio gate; the gallery is then indexed whole.
    n_neighbors : int or "auto", default="auto"
        Neighbours the head sees; ``"auto"``: 1 for ``"1nn"``, 120 for
        ``"meanshift"`` (paper §5), 100 for ``"kde"`` (Vo et al.).
    index : {"exact", "ann", "ivf", "faiss"}, IVFIndex or FaissIndex, default="exact"
        ``"exact"``: blocked GEMM search (:func:`dgae.graphs.nearest_neighbors`,
        NumPy or CuPy). ``"ann"``: pynndescent (approximate, CPU).
        ``"ivf"``: :class:`dgae.graphs.IVFIndex` with its defaults
        (approximate, CPU; recall@10 >= 0.95 at 1 M photos where pynndescent
        stops at 0.93, ``benchmarks/bench_ann.py``); an unfitted
        ``IVFIndex`` sets its cells and probes. ``"faiss"``:
        :class:`dgae.graphs.FaissIndex` (the ``faiss`` extra), IVF-Flat by
        default; an unfitted ``FaissIndex(kind="flat" | "ivf" | "ivfpq" |
        "hnsw", ...)`` chooses the faiss index.
    meanshift_bandwidth_km : float or "auto", default=500
        ``"auto"``: the gallery's scale (750 km world-wide; :func:`dgae.metrics.gallery_scales`).
    min_votes : int, default=4
        Smallest mean-shift cluster that counts.
    kde_sigma_km : float or "auto", default=50
        Kernel width of the ``"kde"`` head (Vo et al. vary it; not given by the DGAE paper);
        ``"auto"``: the gallery's finest (25 km world-wide).
    kde_power : float, default=10
        ``m`` of the ``"kde"`` weights ``(1 / distance)^m``.
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where the exact search runs.
    random_state : int, RandomState instance or None, default=None
        Seeds pynndescent (``index="ann"``), the IVF k-means (``index="ivf"``) and
        the held-out split of ``head="auto"``.
    verbose : int, default=0
    validation_fraction : float, default=0.1
        Share of the gallery ``head="auto"`` holds out to choose on (at most
        5,000 photos).
    new_place_share : float in [0, 1] or None, default=None
        The share of queries expected on ground the gallery does not hold (new
        places and new regions, half each).  ``head="auto"`` weighs its
        held-out photos to that mix (:func:`~dgae._selection.mix_weights`):
        ``1.0`` for a user whose photos are all of new ground, ``0.0`` for
        other views of places in the gallery.  ``None``: 2/3 (a third each of
        views, new places and new regions).

    Attributes
    ----------
    features_ : ndarray of shape (n_gallery, n_features), float32
    gallery_gps_ : ndarray of shape (n_gallery, 2), float64
    index_ : pynndescent.NNDescent, IVFIndex or None
        ``None`` for exact search.
    head_ : str
        The head ``predict`` uses (``head``, or :meth:`set_head`'s).
    head_params_ : dict
        Its parameters (widths, ``min_votes``, ``kde_power``).
    n_neighbors_ : int
        Neighbours it votes over (``n_neighbors`` resolved, at most the gallery).
    fit_params_ : dict
        The parameters at ``fit``; ``set_head`` reads them, not the current ones.
    device_ : {"cpu", "gpu"}
        Where the exact search runs (``device`` resolved in ``fit``).
    head_label_, head_scores_, gate_scores_ : str, dict, dict
        ``head="auto"`` only: the choice and the held-out scores behind it.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    >>> gps = np.array([[45.0, 15.0], [45.01, 15.0], [10.0, 10.0]])
    >>> knn = GeoKNN().fit(X, gps)
    >>> knn.predict([[4.9, 5.0]]).tolist()
    [[10.0, 10.0]]
    >>> knn.predict_topk([[0.02, 0.0]], k=2).shape
    (1, 2, 2)
    """

    _parameter_constraints = {
        **HEAD_CONSTRAINTS,
        **RUN_CONSTRAINTS,
        "index": [StrOptions({"exact", "ann", "ivf", "faiss"}), IVFIndex, FaissIndex,
                  ShardedIndex],
        "random_state": ["random_state"],
        "head": [StrOptions({"auto", *HEADS})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "new_place_share": [Interval(Real, 0, 1, closed="both"), None],
    }

    def __init__(self, head="1nn", n_neighbors="auto", index="exact", meanshift_bandwidth_km=500.0,
                 min_votes=4, kde_sigma_km=50.0, kde_power=10.0, device="auto", random_state=None,
                 verbose=0, validation_fraction=0.1, new_place_share=None):
        self.head = head
        self.n_neighbors = n_neighbors
        self.index = index
        self.meanshift_bandwidth_km = meanshift_bandwidth_km
        self.min_votes = min_votes
        self.kde_sigma_km = kde_sigma_km
        self.kde_power = kde_power
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.validation_fraction = validation_fraction
        self.new_place_share = new_place_share

    def fit(self, X, y, groups=None):
        """Index the gallery (and, for ``head="auto"``, choose the head).

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Gallery features.
        y : array-like of shape (n, 2)
            Gallery ``[lat, lon]`` degrees.
        groups : array-like of shape (n,), optional
            Place of each photo: ``head="auto"`` holds out whole places (default:
            the POIs mined on ``y``).

        Returns
        -------
        self : GeoKNN
        """
        X, self.gallery_gps_ = self._fit_inputs(X, y)
        if groups is not None:
            from ._selection import check_groups

            groups = check_groups(groups, len(X))
        self.fit_params_ = self.get_params(deep=False)
        self.device_ = resolve_device(self.device)
        self.features_ = np.ascontiguousarray(X)
        self.index_ = build_index(self.index, self.features_, self.random_state, self.verbose)
        if self.head == "auto":
            self._choose_head(groups)
        else:
            self._set_head(self.head)
        return self

    def _choose_head(self, groups):
        """``head="auto"``: the head best on held-out views, places and regions of the gallery."""
        from sklearn.utils import check_random_state

        from ._scale import gallery_scales
        from ._selection import choose_retrieval, gallery_held_out, head_candidates, held_out_kinds

        gps = self.gallery_gps_
        if groups is None:
            from dgae.graphs import POIMiner, auto_poi_bandwidth_km

            groups = POIMiner(bandwidth_km=auto_poi_bandwidth_km(gps)).fit(gps).labels_
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        scales = gallery_scales(gps)
        train, places, views, regions = gallery_held_out(
            groups, gps, scales["confidence_km"], self.validation_fraction, seed)
        held, kind = held_out_kinds(places, views, regions)
        cands = head_candidates(scales)
        self.head_scores_, self.gate_scores_, self.head_label_ = {}, {}, "1nn"
        head, params = "1nn", {}
        if held.size and train.size:
            # DGAE's path (choose_retrieval) with the one space there is: the features
            c = choose_retrieval(self.features_, None, gps, train, held, kind, cands,
                                 scales["thresholds_km"], float(scales["confidence_km"]),
                                 n_neighbors=self.n_neighbors, min_votes=self.min_votes,
                                 kde_power=self.kde_power, device=self.device_,
                                 new_place_share=self.new_place_share)
            head, params, self.head_label_ = c.head, c.params, c.label
            self.head_scores_, self.gate_scores_ = c.head_scores, c.gate_scores
        self._set_head(head, params)

    def _neighbors(self, X, k):
        X = self._check_X(X, reset=False)
        if isinstance(self.index_, (IVFIndex, FaissIndex, ShardedIndex)):
            return self.index_.query(X, k)
        if self.index_ is not None:
            # pynndescent's search keeps a heap of k candidates: with k = 1 (the 1-NN head)
            # it turns greedy and misses; ask for at least ANN_MIN_K and keep the first k
            idx, dist = self.index_.query(X, k=min(max(k, ANN_MIN_K), len(self.features_)))
            return dist[:, :k].astype(np.float32), idx[:, :k].astype(np.int64)
        from dgae.graphs import nearest_neighbors

        return nearest_neighbors(X, self.features_, k, device=self.device_, verbose=self.verbose)

    def shard_index(self, n_shards=None, scheduler=None):
        """Spread the gallery over the workers of a Dask cluster from now on, exactly searched:
        each worker holds a block of rows, a query goes to every block, the top-k merge is exact
        (:class:`~dgae.graphs.ShardedIndex`; ``dgae predict --dask-scheduler``).

        Parameters
        ----------
        n_shards : int or None, default=None
            None: one shard per worker.
        scheduler : str or None, default=None
            The scheduler's address; None: the current ``distributed`` client.

        Returns
        -------
        self : GeoKNN

        Examples
        --------
        >>> from distributed import Client, LocalCluster
        >>> X = np.random.default_rng(0).normal(size=(50, 4))
        >>> gps = np.column_stack([np.linspace(-60, 60, 50), np.zeros(50)])
        >>> knn = GeoKNN().fit(X, gps)
        >>> with LocalCluster(n_workers=2, processes=False, dashboard_address=None) as c, Client(c):
        ...     same = np.array_equal(knn.predict(X), knn.shard_index().predict(X))
        >>> same
        True
        """
        check_is_fitted(self)
        self.index_ = ShardedIndex(n_shards=n_shards, scheduler=scheduler).fit(self.features_)
        return self

    def kneighbors(self, X, n_neighbors=None):
        """Nearest gallery photos of each query.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        n_neighbors : int, optional
            Default: the head's neighbour count.

        Returns
        -------
        distances : ndarray of shape (n, k), float32
            Euclidean, ascending.
        indices : ndarray of shape (n, k), int64
        """
        check_is_fitted(self)
        if n_neighbors is None:
            return self._neighbors(X, self.n_neighbors_)
        return self._neighbors(X, resolve_k(self.head_, n_neighbors, len(self.features_)))


def distinct_locations(gps, k):
    """The first ``k`` distinct locations of each row of neighbour positions, nearest first.

    Parameters
    ----------
    gps : ndarray of shape (n, m, 2)
        Neighbours' positions, nearest first.
    k : int

    Returns
    -------
    topk : ndarray of shape (n, k, 2)
        NaN where a row holds fewer than ``k`` distinct locations (equal to 1e-6 degrees).

    Examples
    --------
    >>> g = np.array([[[45, 15], [45, 15], [46, 16], [47, 17]]], dtype=float)
    >>> distinct_locations(g, 2).tolist()
    [[[45.0, 15.0], [46.0, 16.0]]]
    """
    out = np.full((len(gps), k, 2), np.nan)
    if not k:
        return out
    keys = np.round(np.asarray(gps, dtype=np.float64) * 1e6)
    for i, row in enumerate(keys):
        _, first = np.unique(row, axis=0, return_index=True)
        keep = np.sort(first)[:k]
        out[i, :len(keep)] = gps[i, keep]
    return out
