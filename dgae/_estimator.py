"""DGAE: the Deep Geo-constrained Auto-Encoder as a scikit-learn estimator."""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _autoencoder as ae
from ._backend import get_xp, to_device, to_host
from ._knn import HEAD_CONSTRAINTS, GeoEstimatorMixin, GeoKNN, check_targets

#: Largest gallery that ``batch_size="auto"`` trains full-batch (Algorithm 1).
AUTO_FULL_BATCH_MAX = 2048
#: Mini-batch size that ``batch_size="auto"`` uses above that.
AUTO_BATCH_SIZE = 256
#: ``learning_rate="auto"``: initial step of full-batch GD / of SGD with momentum.
AUTO_LR = {"full": 2.0, "sgd": 0.05}
#: Mean per-unit standard deviation of the gallery codes under which fit warns.
COLLAPSE_STD = 1e-3


class DGAE(GeoEstimatorMixin, TransformerMixin, BaseEstimator):
    """Deep Geo-constrained Auto-Encoder (Jiang, Kong & Fu) with a retrieval head.

    ``fit(X, gps)`` scales ``X`` into [0, 1], mines POIs on the GPS
    coordinates, builds the same-area graph ``P`` and the easy-confusing
    graph ``Q`` (:mod:`dgae.graphs`), trains the stacked sigmoid autoencoder
    on Eq. 4::

        J = 1/(2N) sum ||x - g(f(x))||^2 + alpha/(N k1) sum P_st ||f(x_s) - f(x_t)||^2
            - beta/(N k2) sum Q_st ||f(x_s) - f(x_t)||^2 + gamma (||W||^2 + ||b||^2)

    and indexes the gallery's codes (all encoder layers stacked, plus the
    scaled input) for k-NN retrieval.  ``alpha = beta = 0`` is the paper's AE
    baseline (no graphs are built).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(2000, 1000, 500)
        Encoder widths (the decoder mirrors them); the paper's best (§6.5.3).
    alpha, beta, gamma : float, default=0.2, 0.1, 0.05
        Weights of the same-area term, the easy-confusing term and the weight
        decay (the paper's cross-validated values, §6.4).
    k1, k2 : int, default=20, 10
        Same-area / easy-confusing neighbours per photo (Table 4).
    graph : {"exact", "anchor", "ann"}, default="exact"
        How Q is built: exact search, the paper's anchor graph (fDGAE) or
        pynndescent.
    poi_bandwidth : float, default=0.005
        POI mean-shift bandwidth in degrees of arc (§6.5.1).
    learning_rate : float or "auto", default="auto"
        Initial step; ``"auto"``: 2.0 for full-batch gradient descent
        (Algorithm 1 decays it geometrically, so the total step budget is
        ``lr / (1 - lr_decay)``) and 0.05 for SGD with momentum.
    lr_decay : float, default=0.95
        Step multiplier after every iteration (full batch) or epoch (SGD).
    momentum : float, default=0.9
        Heavy-ball momentum of SGD (full-batch steps are plain, as Algorithm 1).
    max_iter : int, default=100
        Iterations (full batch) or epochs (SGD).
    tol : float, default=1e-6
        Stop when ``|J_k - J_{k-1}| < tol``.
    batch_size : int, None or "auto", default="auto"
        ``None``: full-batch Algorithm 1.  An int: mini-batch SGD with
        sampled partners (an unbiased gradient of Eq. 4, see
        :mod:`dgae._autoencoder`).  ``"auto"``: full batch up to 2,048
        photos, batches of 256 above.
    head : {"1nn", "meanshift", "kde"}, default="1nn"
    n_neighbors : int or "auto", default="auto"
        Neighbours the head sees (``"auto"``: 1 / 120 / 100).
    meanshift_bandwidth_km : float, default=500
    min_votes : int, default=4
    kde_sigma_km : float, default=50
    kde_power : float, default=10
    include_input : bool, default=True
        Append the scaled input to the codes (paper §3).
    index : {"exact", "ann"}, default="exact"
        Retrieval index over the gallery codes (see :class:`GeoKNN`).
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where graphs, training, encoding and search run (CuPy on "gpu").
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Progress bars (graphs, training with the current loss terms).

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[l]`` of shape (n_in, n_out), float32, NumPy (also after GPU
        training); layers ``0 .. M-1`` encode, ``M .. 2M-1`` decode.
    intercepts_ : list of ndarray
    loss_curve_ : structured ndarray of shape (n_iter_,)
        Fields ``J, J1, J2, J3, R`` per iteration (SGD: |B|/N-weighted epoch
        means); :meth:`partial_fit` appends its epochs.
    best_iter_ : int
        Iteration whose weights were kept (the lowest J seen; for SGD the
        weights at the end of the epoch with the lowest epoch-mean J).
    n_iter_ : int
    learning_rate_ : float
        The decayed step after training (where :meth:`partial_fit` goes on).
    batch_size_ : int or None
    scaler_ : sklearn.preprocessing.MinMaxScaler
        Min-max scaling of the gallery (``clip=True`` for queries).
    poi_miner_ : dgae.graphs.POIMiner or None
    poi_labels_ : ndarray of shape (n_gallery,)
        POI of each gallery photo (-1 everywhere for the AE baseline).
    P_, Q_ : scipy.sparse.csr_matrix of shape (n_gallery, n_gallery)
    X_fit_ : ndarray of shape (n_gallery, n_features), float32
        The gallery's raw features (graph rows for new photos).
    gallery_gps_ : ndarray of shape (n_gallery, 2)
    knn_ : GeoKNN
        The index over the gallery codes.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> gps = np.repeat([[45.0, 15.0], [45.0, 16.0], [10.0, 10.0]], 10, axis=0)
    >>> X = rng.random((30, 6)) + np.repeat(np.eye(3, 6), 10, axis=0)
    >>> model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=20,
    ...              random_state=0).fit(X, gps)
    >>> model.transform(X).shape
    (30, 18)
    >>> model.predict(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **HEAD_CONSTRAINTS,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "k1": [Interval(Integral, 1, None, closed="left")],
        "k2": [Interval(Integral, 1, None, closed="left")],
        "graph": [StrOptions({"exact", "anchor", "ann"})],
        "poi_bandwidth": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "include_input": ["boolean"],
        "index": [StrOptions({"exact", "ann"})],
        "random_state": ["random_state"],
    }

    def __init__(self, hidden_layer_sizes=(2000, 1000, 500), alpha=0.2, beta=0.1, gamma=0.05,
                 k1=20, k2=10, graph="exact", poi_bandwidth=0.005, learning_rate="auto",
                 lr_decay=0.95, momentum=0.9, max_iter=100, tol=1e-6, batch_size="auto",
                 head="1nn", n_neighbors="auto", meanshift_bandwidth_km=500.0, min_votes=4,
                 kde_sigma_km=50.0, kde_power=10.0, include_input=True, index="exact",
                 device="auto", random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.k1 = k1
        self.k2 = k2
        self.graph = graph
        self.poi_bandwidth = poi_bandwidth
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.head = head
        self.n_neighbors = n_neighbors
        self.meanshift_bandwidth_km = meanshift_bandwidth_km
        self.min_votes = min_votes
        self.kde_sigma_km = kde_sigma_km
        self.kde_power = kde_power
        self.include_input = include_input
        self.index = index
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # codes are float32
        return tags

    # ----------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, areas=None):
        """Mine POIs, build P and Q, train the autoencoder, index the gallery.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Low-level features of the gallery (finite).
        y : array-like of shape (n, 2)
            ``[lat, lon]`` degrees.
        areas : array-like of shape (n,), optional
            Area of each photo: POIs are mined per area (as in the paper).

        Returns
        -------
        self : DGAE
        """
        hidden = self._hidden()
        X = validate_data(self, X, dtype=np.float32, reset=True, ensure_min_samples=2)
        gps = check_targets(y, len(X))
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.scaler_ = MinMaxScaler(clip=True).fit(X)
        self.X_fit_, self.gallery_gps_ = np.ascontiguousarray(X), gps
        self._build_graphs(X, gps, areas, seed)
        self.batch_size_ = self._resolve_batch_size(len(X))
        self.learning_rate_ = self._initial_lr()
        result = self._train(self._scaled(X), init=None, anchors=None, batch_size=self.batch_size_,
                             max_iter=self.max_iter, seed=seed, hidden=hidden)
        self.loss_curve_ = result["loss_curve"]
        self.best_iter_ = result["best_iter"]
        self.n_iter_ = result["n_iter"]
        self._index_gallery()
        return self

    def _hidden(self):
        hidden = tuple(int(h) for h in np.atleast_1d(self.hidden_layer_sizes))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        return hidden

    def _resolve_batch_size(self, n):
        if self.batch_size == "auto":
            return None if n <= AUTO_FULL_BATCH_MAX else AUTO_BATCH_SIZE
        return None if self.batch_size is None else int(self.batch_size)

    def _initial_lr(self):
        if self.learning_rate == "auto":
            return AUTO_LR["full" if self.batch_size_ is None else "sgd"]
        return float(self.learning_rate)

    def _scaled(self, X):
        return self.scaler_.transform(X).astype(np.float32, copy=False)

    def _uses_graphs(self):
        return self.alpha > 0 or self.beta > 0

    def _build_graphs(self, X, gps, areas, seed):
        """POIs (mean-shift on GPS), P and Q; nothing for the AE baseline."""
        n = len(X)
        empty = sp.csr_matrix((n, n), dtype=np.float32)
        self.poi_miner_, self.poi_labels_ = None, np.full(n, -1, dtype=np.int64)
        self.P_, self.Q_ = empty, empty.copy()
        if not self._uses_graphs():
            return
        from dgae.graphs import POIMiner, easy_confusing_pairs, same_area_pairs

        self.poi_miner_ = POIMiner(bandwidth=self.poi_bandwidth).fit(gps, areas=areas)
        self.poi_labels_ = self.poi_miner_.labels_.astype(np.int64)
        if self.alpha > 0:
            self.P_ = same_area_pairs(X, self.poi_labels_, self.k1, device=self.device,
                                      verbose=self.verbose)
        if self.beta > 0:
            self.Q_ = easy_confusing_pairs(X, self.poi_labels_, self.k2, method=self.graph,
                                           device=self.device, random_state=seed,
                                           verbose=self.verbose)

    def _train(self, Xs, init, anchors, batch_size, max_iter, seed, hidden):
        result = ae.train(
            Xs, self.P_, self.Q_, hidden_layer_sizes=hidden, alpha=self.alpha, beta=self.beta,
            gamma=self.gamma, k1=self.k1, k2=self.k2, learning_rate=self.learning_rate_,
            lr_decay=self.lr_decay, momentum=self.momentum, max_iter=max_iter, tol=self.tol,
            batch_size=batch_size, xp=get_xp(self.device), init=init, anchors=anchors,
            random_state=seed, verbose=self.verbose)
        self.coefs_, self.intercepts_ = result["coefs"], result["intercepts"]
        self.learning_rate_ *= self.lr_decay ** result["n_iter"]
        return result

    def _index_gallery(self):
        codes = self.transform(self.X_fit_)
        self._warn_if_collapsed(codes)
        self.knn_ = GeoKNN(index=self.index, device=self.device,
                           random_state=self.random_state).fit(codes, self.gallery_gps_)

    def _warn_if_collapsed(self, codes):
        """Warn when the learned codes barely vary across the gallery.

        The paper's gamma = 0.05 on the unnormalised ``||W||^2 + ||b||^2``
        can outweigh the reconstruction on real features and shrink every
        unit to a constant; retrieval then runs on the scaled input alone.
        """
        n_learned = int(np.sum(self._hidden()))
        spread = float(codes[:, codes.shape[1] - n_learned:].std(axis=0).mean())
        if len(codes) > 1 and spread < COLLAPSE_STD:
            warnings.warn(
                f"the learned codes barely vary across the gallery (mean std {spread:.2g}); "
                f"retrieval then rests on the scaled input alone. The weight decay "
                f"gamma={self.gamma} may dominate the reconstruction: try gamma=1e-4.",
                UserWarning, stacklevel=3)

    # ------------------------------------------------------------- encode
    def transform(self, X):
        """Codes used for retrieval: all encoder layers stacked (+ scaled input).

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        codes : ndarray of shape (n, sum(hidden_layer_sizes) [+ n_features]), float32
            ``[scaled X, h1, ..., hM]`` when ``include_input``, else ``[h1, ..., hM]``.
        """
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        Xs = self._scaled(X)
        xp = get_xp(self.device)
        coefs = [to_device(W, xp, np.float32) for W in self.coefs_]
        intercepts = [to_device(b, xp, np.float32) for b in self.intercepts_]
        blocks = []
        for r0 in range(0, len(Xs), 65536):
            part = to_device(Xs[r0:r0 + 65536], xp, np.float32)
            hidden = ae.encode(coefs, intercepts, part)
            blocks.append(np.hstack([to_host(h) for h in ([part] if self.include_input else []) + hidden]))
        return np.vstack(blocks).astype(np.float32, copy=False)

    def _neighbors(self, X, k):
        return self.knn_._neighbors(self.transform(X), k)

    # -------------------------------------------------------- new photos
    def partial_fit(self, X, y, areas=None):
        """Add new photos (paper §4.6): POIs, P/Q rows, SGD steps, gallery.

        Each new photo joins the POI whose centre is nearest (a new POI,
        mined among the new photos, when no POI's bandwidth covers it); its
        P row (top-``k1`` visual neighbours in its POI) and Q row (top-``k2``
        in other POIs) are searched among the old and new gallery; one epoch
        of SGD runs with the new photos as anchors (their partners may be old
        photos); then they join the gallery and its codes are recomputed.
        Old photos' rows are not re-ranked (the paper re-mines and retrains
        after each period).  An unfitted model is simply fitted.

        Parameters
        ----------
        X : array-like of shape (m, n_features)
        y : array-like of shape (m, 2)
        areas : array-like of shape (m,), optional

        Returns
        -------
        self : DGAE
        """
        if not hasattr(self, "coefs_"):
            return self.fit(X, y, areas=areas)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        gps = check_targets(y, len(X))
        n_old = len(self.X_fit_)
        X_all = np.concatenate([self.X_fit_, X])
        labels = self._assign_pois(gps, areas)
        labels_all = np.concatenate([self.poi_labels_, labels])
        self.P_ = self._extend_graph(self.P_, X, X_all, labels, labels_all, "different", self.k1,
                                     self.alpha > 0)
        self.Q_ = self._extend_graph(self.Q_, X, X_all, labels, labels_all, "same", self.k2,
                                     self.beta > 0)
        self.X_fit_, self.poi_labels_ = X_all, labels_all
        self.gallery_gps_ = np.concatenate([self.gallery_gps_, gps])
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max) + self.n_iter_
        batch = min(self.batch_size_ or AUTO_BATCH_SIZE, len(X))
        result = self._train(self._scaled(X_all), init=(self.coefs_, self.intercepts_),
                             anchors=np.arange(n_old, len(X_all)), batch_size=batch, max_iter=1,
                             seed=seed, hidden=self._hidden())
        self.loss_curve_ = np.concatenate([self.loss_curve_, result["loss_curve"]])
        self.n_iter_ += result["n_iter"]
        self._index_gallery()
        return self

    def _assign_pois(self, gps, areas):
        """Nearest existing POI, or new POIs mined among the uncovered photos."""
        if self.poi_miner_ is None:
            return np.full(len(gps), -1, dtype=np.int64)
        miner = self.poi_miner_
        with_areas = areas is not None and miner.cluster_areas_ is not None
        labels, dist = miner.predict(gps, areas=areas if with_areas else None, return_distance=True)
        far = ~(dist <= miner.bandwidth)
        if far.any():
            from dgae.graphs import POIMiner

            fresh = POIMiner(bandwidth=self.poi_bandwidth).fit(gps[far]).labels_
            labels[far] = fresh + self.poi_labels_.max() + 1
        return labels.astype(np.int64)

    def _extend_graph(self, A, X_new, X_all, labels_new, labels_all, exclude, k, active):
        """``A`` grown to the new gallery size, with rows for the new photos."""
        n_old, n_all, m = A.shape[0], len(X_all), len(X_new)
        rows = sp.csr_matrix((m, n_all), dtype=np.float32)
        if active and labels_all.max() >= 0:
            from dgae.graphs import nearest_neighbors

            _, idx = nearest_neighbors(X_new, X_all, min(k + 1, n_all), query_labels=labels_new,
                                       index_labels=labels_all, exclude=exclude,
                                       device=self.device)
            own = np.arange(n_old, n_all)[:, None]
            keep = (idx >= 0) & (idx != own)
            keep &= np.cumsum(keep, axis=1) <= k  # at most k, self dropped
            r, c = np.nonzero(keep)
            rows = sp.csr_matrix((np.ones(r.size, np.float32), (r, idx[r, c])), shape=(m, n_all))
        grown = sp.csr_matrix((A.data, A.indices, A.indptr), shape=(n_old, n_all))
        return sp.vstack([grown, rows], format="csr")
