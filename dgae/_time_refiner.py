"""TimeRefiner: the mesh paper's M2 -- a cell model's top cells plus posting time -> cells."""
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._cell_classifier import class_positions
from ._context import CellModelMixin, context_features, cyclic_time, out_of_fold_proba, unfitted_base


class TimeRefiner(CellModelMixin, BaseEstimator):
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
