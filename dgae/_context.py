"""Context beyond pixels (the mesh paper's M2 and M3): posting time and user albums refine a cell model."""
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._cell_classifier import class_positions
from .base import GeoRegressorMixin, restore_fitted

#: M2 keeps this many of M1's cell probabilities (§3.2).
TOP_CELLS = 10


def time_tuple(time):
    """The mesh paper's time input ``((hour - 11.5)/24, (weekday - 3.5)/7, (month - 6.5)/12)``.

    Hour 0-23, weekday 1-7 with Sunday = 1, month 1-12, all read from the
    given clock (UTC for offset-aware times, see :mod:`dgae.datasets._time`).

    Parameters
    ----------
    time : array-like of shape (n,), datetime64 (or ISO strings)

    Returns
    -------
    T : ndarray of shape (n, 3), float64

    Examples
    --------
    >>> time_tuple(np.array(["2023-01-01T00:30"], dtype="datetime64[s]")).round(4).tolist()
    [[-0.4792, -0.3571, -0.4583]]
    """
    t = np.asarray(time, dtype="datetime64[s]")
    if np.isnat(t).any():
        raise ValueError(f"time has {int(np.isnat(t).sum())} missing value(s) (NaT); "
                         "the time refiner needs every photo's time")
    seconds = t.astype(np.int64)
    hour = (seconds // 3600) % 24
    weekday = (seconds // 86400 + 4) % 7 + 1        # 1970-01-01 was a Thursday (5 with Sunday = 1)
    month = t.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return np.column_stack([(hour - 11.5) / 24, (weekday - 3.5) / 7, (month - 6.5) / 12])


def cyclic_time(time):
    """Hour and month on circles, weekday as the paper scales it: (n, 5) = sin/cos hour, sin/cos month, weekday.

    Examples
    --------
    >>> cyclic_time(np.array(["2023-01-01T06:00"], dtype="datetime64[s]")).round(3).tolist()
    [[1.0, 0.0, 0.0, 1.0, -0.357]]
    """
    T = time_tuple(time)
    hour = 2 * np.pi * (T[:, 0] * 24 + 11.5) / 24
    month = 2 * np.pi * (T[:, 2] * 12 + 6.5 - 1) / 12
    return np.column_stack([np.sin(hour), np.cos(hour), np.sin(month), np.cos(month), T[:, 1]])


def context_features(proba, time=None):
    """M2's input: the top-10 probabilities re-normalised, their L1 norm, and the time tuple.

    Parameters
    ----------
    proba : ndarray of shape (n, N)
        M1's cell probabilities.
    time : array-like of shape (n,), datetime64, optional
        Without it the time columns are left out (shape (n, N + 1)).

    Returns
    -------
    F : ndarray of shape (n, N + 4), float32

    Examples
    --------
    >>> F = context_features(np.array([[0.5, 0.3, 0.2]]), np.array(["2023-01-01"], "datetime64[s]"))
    >>> F[0, :4].tolist()
    [0.5, 0.30000001192092896, 0.20000000298023224, 1.0]
    """
    proba = np.asarray(proba, dtype=np.float64)
    keep = np.zeros_like(proba)
    top = np.argsort(-proba, axis=1, kind="stable")[:, :TOP_CELLS]
    rows = np.arange(len(proba))[:, None]
    keep[rows, top] = proba[rows, top]
    norm = keep.sum(axis=1, keepdims=True)
    blocks = [keep / np.maximum(norm, 1e-300), norm]
    if time is not None:
        blocks.append(time_tuple(time))
    return np.hstack(blocks).astype(np.float32)


def base_proba(base, X, time=None):
    """Cell probabilities of a fitted M1 (or of a TimeRefiner, which needs the time)."""
    if isinstance(base, TimeRefiner):
        return base.predict_proba(X, time=time)
    return base.predict_proba(X)


def unfitted_base(base):
    """A clone of ``base``, or ``CellClassifier()`` when None: M1 before fitting."""
    from . import CellClassifier

    return clone(base) if base is not None else CellClassifier()


def out_of_fold_proba(base, X, gps, groups, n_splits):
    """M1 fitted on every photo, and each photo's cell probabilities from an M1 that did not see it.

    The partition is fitted once, on every photo, and frozen
    (``sklearn.frozen.FrozenEstimator``), so the ``n_splits`` fold models
    (``GroupKFold`` by ``groups``: a user's photos stay together) and the
    final M1 share its cells; the probabilities are over the final M1's
    ``classes_``.  The mesh paper trains M2 / M3 on M1's validation split;
    cross-fitting gives them every photo instead of a split's worth (the
    galleries here are small) and leaves M1 trained on all of them.

    Returns
    -------
    full : CellClassifier
    proba : ndarray of shape (n, n_classes)
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import GroupKFold

    from . import CellClassifier
    from ._cell_classifier import default_partition

    base = unfitted_base(base)
    if not isinstance(base, CellClassifier):
        raise ValueError(f"base must be a CellClassifier (M1), got {type(base).__name__}")
    partition = base.partition if base.partition is not None else default_partition()
    base.set_params(partition=FrozenEstimator(clone(partition).fit(gps, None)))
    full = clone(base).fit(X, gps)
    groups = np.arange(len(X)) if groups is None else np.asarray(groups)
    if len(groups) != len(X):
        raise ValueError(f"groups has {len(groups)} values for {len(X)} photos")
    if len(np.unique(groups)) < n_splits:
        raise ValueError(f"{len(np.unique(groups))} groups cannot make {n_splits} folds")
    proba = np.zeros((len(X), len(full.classes_)))
    for train, test in GroupKFold(n_splits=n_splits).split(X, groups=groups):
        fold = clone(base).fit(X[train], gps[train])
        cols = np.searchsorted(full.classes_, fold.classes_)
        proba[np.ix_(test, cols)] = fold.predict_proba(X[test])
    return full, proba


class _CellModelMixin(GeoRegressorMixin):
    """The cells and their points are M1's: ``classes_``, ``locations_``, ``partition_``."""

    @property
    def classes_(self):
        return self.base_.classes_

    @property
    def locations_(self):
        return self.base_.locations_

    @property
    def partition_(self):
        return self.base_.partition_


class TimeRefiner(_CellModelMixin, BaseEstimator):
    """M2 of the mesh paper (§3.2): a cell model's top-10 probabilities plus posting time -> cells.

    ``fit`` trains an MLP on photos' M1 outputs and times, each photo's M1
    output coming from an M1 that did not see it (:func:`out_of_fold_proba`,
    ``n_splits`` folds by ``groups``, e.g. users; the paper trains M2 on M1's
    validation split), and keeps the M1 fitted on every photo for
    prediction.  Input per photo: M1's ten largest probabilities
    re-normalised, their sum, and :func:`time_tuple` (N + 4 numbers); output:
    probabilities of M1's cells.

    Kept from the paper's Table 2: three hidden layers of 3 (N + 4) units,
    softmax output, Adam, early stopping on held-out accuracy.  Not kept
    (scikit-learn's ``MLPClassifier`` cannot): the mixed sigmoid / ReLU
    activations (ReLU throughout), 50 % dropout and batch normalisation (an L2
    penalty ``alpha`` instead), the AdaBoost warm-up.

    ``combine="product"`` (not in the paper; the default, chosen on inner
    gallery splits of the replica, ``docs/experiments.md``): ``p(cell | x, t)
    ∝ p_M1(cell | x) p(cell | t) / p(cell)`` -- pixels and time independent
    given the cell --, with ``p(cell | t)`` a multinomial logistic regression
    (``C = time_C``) on :func:`cyclic_time` and ``p(cell)`` the cells' training
    shares (add-one).  On galleries of thousands of photos the paper's MLP must
    learn each cell from a few dozen examples and lost 7 points to M1 with or
    without real times; the product falls back to M1 when time says nothing.

    Parameters
    ----------
    base : CellClassifier or None, default=None
        M1, cloned (``CellClassifier()`` when None).
    hidden_layer_sizes : tuple of int or "paper", default="paper"
        "paper": three layers of 3 (N + 4) units, N = M1's number of cells.
    alpha : float, default=1e-3
        L2 penalty of the MLP.
    combine : {"product", "mlp"}, default="product"
        "mlp": the paper's M2; "product": see above.
    time_C : float, default=0.1
        Inverse regularisation of the time model ("product").
    n_splits : int, default=5
        Folds of the cross-fitting ("mlp").
    max_iter : int, default=200
    n_iter_no_change : int, default=50
        Early stopping's patience (epochs without a better held-out accuracy).
        Generous: when cells are finer than what pixels and time can tell
        apart, held-out cell accuracy is noisy and a short patience stops
        before the time inputs are learnt.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    base_ : the fitted M1
    mlp_ : sklearn.neural_network.MLPClassifier ("mlp") or None
    time_model_ : sklearn.linear_model.LogisticRegression ("product") or None
    log_prior_ : ndarray of shape (N,) ("product")
    classes_, locations_, partition_ : M1's
    n_features_in_ : int

    Examples
    --------
    Two cities that look alike, photographed around local noon: the UTC
    hour tells them apart, the pixels cannot.

    >>> from dgae import CellClassifier
    >>> from dgae.geo import great_circle_km
    >>> rng = np.random.default_rng(0)
    >>> centres = np.array([[45.0, 16.0], [35.0, 139.0]])
    >>> city = rng.integers(0, 2, 600)
    >>> gps = centres[city] + rng.normal(0, 0.01, (600, 2))
    >>> X = rng.normal(0, 1, (600, 3))
    >>> utc_hour = rng.uniform(10, 14, 600) - centres[city, 1] / 15
    >>> time = np.datetime64("2020-06-01") + (utc_hour * 3600).astype("timedelta64[s]")
    >>> m1 = CellClassifier().fit(X, gps)
    >>> m2 = TimeRefiner(random_state=0).fit(X, gps, time=time)
    >>> hits = lambda pred: float((great_circle_km(pred, gps) < 25).mean().round(1))
    >>> hits(m1.predict(X)), hits(m2.predict(X, time=time))
    (0.5, 1.0)
    """

    _parameter_constraints = {
        "base": [None, HasMethods(["fit", "predict_proba"])],
        "hidden_layer_sizes": [StrOptions({"paper"}), tuple],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "combine": [StrOptions({"product", "mlp"})],
        "time_C": [Interval(Real, 0, None, closed="neither")],
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, base=None, combine="product", time_C=0.1, hidden_layer_sizes="paper",
                 alpha=1e-3, n_splits=5, max_iter=200, n_iter_no_change=50, random_state=None):
        self.base = base
        self.combine = combine
        self.time_C = time_C
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.n_splits = n_splits
        self.max_iter = max_iter
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def fit(self, X, y, time=None, groups=None):
        """Fit M1 and the time model (the MLP on out-of-fold M1 outputs, or the time classifier).

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2)
            ``[lat, lon]`` degrees.
        time : array-like of shape (n,), datetime64
            Posting times (required).
        groups : array-like of shape (n,), optional
            Photos of one group (user, album) stay in one fold.

        Returns
        -------
        self : TimeRefiner
        """
        from sklearn.neural_network import MLPClassifier

        X, gps = self._fit_inputs(X, y)
        T = self._check_time(time, len(X))
        self.mlp_ = self.time_model_ = self.log_prior_ = None
        if self.combine == "product":
            return self._fit_product(X, gps, T)
        self.base_, proba = out_of_fold_proba(self.base, X, gps, groups, self.n_splits)
        labels = class_positions(self.base_, gps)
        known = labels >= 0
        n = len(self.base_.classes_)
        sizes = (3 * (n + 4),) * 3 if self.hidden_layer_sizes == "paper" else self.hidden_layer_sizes
        self.mlp_ = MLPClassifier(hidden_layer_sizes=sizes, alpha=self.alpha,
                                  early_stopping=True, max_iter=self.max_iter,
                                  n_iter_no_change=self.n_iter_no_change,
                                  random_state=self.random_state)
        self.mlp_.fit(context_features(proba[known], T[known]), labels[known])
        return self

    def _fit_product(self, X, gps, T):
        from sklearn.linear_model import LogisticRegression

        self.base_ = unfitted_base(self.base).fit(X, gps)
        labels = class_positions(self.base_, gps)
        known = labels >= 0
        counts = np.bincount(labels[known], minlength=len(self.classes_)) + 1.0
        self.log_prior_ = np.log(counts / counts.sum())
        self.time_model_ = LogisticRegression(C=self.time_C, max_iter=500)
        self.time_model_.fit(cyclic_time(T[known]), labels[known])
        return self

    @staticmethod
    def _check_time(time, n):
        if time is None:
            raise ValueError("TimeRefiner needs time= (the photos' posting times, datetime64)")
        T = np.asarray(time, dtype="datetime64[s]")
        if T.shape != (n,):
            raise ValueError(f"time has shape {T.shape}; expected ({n},)")
        return T

    def predict_proba(self, X, time=None):
        """Probabilities of M1's cells given pixels and time, shape (n, N)."""
        return self._proba(X, time)

    def _proba(self, X, time):
        check_is_fitted(self, "base_")
        X = self._check_X(X, reset=False)
        T = self._check_time(time, len(X))
        p1 = self.base_.predict_proba(X)
        out = np.zeros((len(X), len(self.classes_)))
        if self.mlp_ is not None:
            out[:, self.mlp_.classes_] = self.mlp_.predict_proba(context_features(p1, T))
            return out
        log_t = np.full_like(out, np.log(1e-12))
        log_t[:, self.time_model_.classes_] = np.log(np.maximum(
            self.time_model_.predict_proba(cyclic_time(T)), 1e-12))
        logit = np.log(np.maximum(p1, 1e-300)) + log_t - self.log_prior_
        return np.exp(logit - logsumexp(logit, axis=1, keepdims=True))

    def predict(self, X, time=None):
        """The point of the likeliest cell, shape (n, 2) ``[lat, lon]``."""
        proba = self._proba(X, time)
        return self.locations_[np.argmax(proba, axis=1)]


def album_chunks(album, time=None, size=24):
    """Albums as lists of row indices: time-ordered (when given), cut into runs of at most ``size``.

    Examples
    --------
    >>> album_chunks(np.array(["a", "b", "a", "a"]), size=2)
    [[0, 2], [3], [1]]
    """
    album = np.asarray(album)
    order = np.lexsort((np.arange(len(album)),) if time is None else
                       (np.arange(len(album)), np.asarray(time, dtype="datetime64[s]")))
    chunks = []
    for a in np.unique(album):
        rows = order[album[order] == a]
        chunks += [rows[s:s + size].tolist() for s in range(0, len(rows), size)]
    return chunks


class AlbumRefiner(_CellModelMixin, BaseEstimator):
    """M3 of the mesh paper (§3.3): the photos of one album (up to 24, one user) located together.

    Parameters
    ----------
    base : CellClassifier, TimeRefiner or None, default=None
        M1 (or, for "average", M2), cloned (``CellClassifier()`` when None),
        fitted on every photo.  "lstm" learns from out-of-fold M1 outputs
        (:func:`out_of_fold_proba`, folds by album) and needs a
        CellClassifier.
    method : {"average", "lstm"}, default="average"
        "average": PlaNet's album averaging -- every photo of an album gets
        the cell of the highest mean probability.  "lstm": the paper's
        bidirectional LSTM over the time-ordered album with masking, on the M2
        inputs (top-10 probabilities, their sum, the time tuple); needs
        PyTorch (the ``cnn`` extra).  An album of one photo keeps the base's
        output either way.
    album_size : int, default=24
    hidden_size : int, default=256
        LSTM units per direction.
    max_epochs : int, default=30
    learning_rate : float, default=1e-3
    n_splits : int, default=5
        Folds of the cross-fitting ("lstm").
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    base_ : the fitted M1 / M2
    lstm_ : the trained torch module ("lstm"), else None
    method_, album_size_ : str, int
        ``method`` and ``album_size`` as fitted (what prediction uses).
    classes_, locations_, partition_ : M1's
    n_features_in_ : int

    Examples
    --------
    >>> from dgae import CellClassifier
    >>> from dgae.geo import great_circle_km
    >>> rng = np.random.default_rng(0)
    >>> centres = np.array([[45.0, 16.0], [35.0, 139.0]])
    >>> city = rng.integers(0, 2, 400)
    >>> gps = centres[city] + rng.normal(0, 0.01, (400, 2))
    >>> X = np.eye(2)[city] + rng.normal(0, 1.2, (400, 2))     # a weak visual cue
    >>> album = city * 100 + rng.integers(0, 20, 400)           # albums within one city
    >>> hits = lambda pred: float((great_circle_km(pred, gps) < 25).mean().round(2))
    >>> hits(CellClassifier().fit(X, gps).predict(X))
    0.7
    >>> hits(AlbumRefiner().fit(X, gps, album=album).predict(X, album=album))
    0.96
    """

    _parameter_constraints = {
        "base": [None, HasMethods(["fit", "predict_proba"])],
        "method": [StrOptions({"average", "lstm"})],
        "album_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, base=None, method="average", album_size=24, hidden_size=256,
                 max_epochs=30, learning_rate=1e-3, n_splits=5, random_state=None):
        self.base = base
        self.method = method
        self.album_size = album_size
        self.hidden_size = hidden_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(self, X, y, album=None, time=None):
        """Fit the base (and, for "lstm", the LSTM on held-out albums).

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2)
        album : array-like of shape (n,)
            Album (or user) of each photo; required.
        time : array-like of shape (n,), datetime64, optional
            Orders each album; required by "lstm" (its input) and by a
            TimeRefiner base.

        Returns
        -------
        self : AlbumRefiner
        """
        X, gps = self._fit_inputs(X, y)
        album = self._check_album(album, len(X))
        self.lstm_, self.method_, self.album_size_ = None, self.method, int(self.album_size)
        if self.method == "average":
            self.base_ = self._fit_base_with_time(X, gps, time, album)
            return self
        if time is None:
            raise ValueError('method="lstm" needs time= (its input carries the time tuple)')
        from ._album_lstm import train_album_lstm

        time = np.asarray(time, dtype="datetime64[s]")
        self.base_, proba = out_of_fold_proba(self.base, X, gps, album, self.n_splits)
        F = context_features(proba, time)
        chunks = [c for c in album_chunks(album, time, self.album_size) if len(c) > 1]
        self.lstm_ = train_album_lstm(F, class_positions(self.base_, gps), chunks,
                                      len(self.classes_), self.hidden_size, self.max_epochs,
                                      self.learning_rate, self.random_state)
        return self

    def _fit_base_with_time(self, X, gps, time, groups):
        base = unfitted_base(self.base)
        if isinstance(base, TimeRefiner):
            return base.fit(X, gps, time=time, groups=groups)
        return base.fit(X, gps)

    @staticmethod
    def _check_album(album, n):
        if album is None:
            raise ValueError("AlbumRefiner needs album= (the album or user of each photo)")
        album = np.asarray(album)
        if album.shape != (n,):
            raise ValueError(f"album has shape {album.shape}; expected ({n},)")
        return album

    def __setstate__(self, state):
        super().__setstate__(state)
        restore_fitted(self, state, {"method_": lambda: self.method,
                                     "album_size_": lambda: int(self.album_size)})

    def predict_proba(self, X, album=None, time=None):
        """Cell probabilities of each photo given its album, shape (n, N)."""
        return self._proba(X, album, time)

    def _proba(self, X, album, time):
        check_is_fitted(self, "base_")
        X = self._check_X(X, reset=False)
        album = self._check_album(album, len(X))
        proba = base_proba(self.base_, X, time)
        out = proba.copy()
        chunks = [c for c in album_chunks(album, time, self.album_size_) if len(c) > 1]
        if self.method_ == "average":
            for rows in chunks:
                out[rows] = proba[rows].mean(axis=0)
            return out
        from ._album_lstm import predict_album_lstm

        F = context_features(proba, time)
        for rows, p in zip(chunks, predict_album_lstm(self.lstm_, F, chunks)):
            out[rows] = p
        return out

    def predict(self, X, album=None, time=None):
        """The point of each photo's likeliest cell, shape (n, 2) ``[lat, lon]``."""
        proba = self._proba(X, album, time)
        return self.locations_[np.argmax(proba, axis=1)]
