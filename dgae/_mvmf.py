"""MvMFRegressor: the mixture-of-von-Mises-Fisher output layer (Izbicki et al., Eqs. 1-7)."""
import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._optim import BestWeights, Optimizer
from .utils import (check_gps, from_unit_vectors, get_xp, great_circle_km, progress, resolve_device,
                    to_device, to_host, to_unit_vectors, warn)
from .base import RUN_CONSTRAINTS, GeoRegressorMixin, check_targets
from ._vmf import KAPPA_RANGE, dlog_normalizer_dlogkappa, log_vmf, logsumexp, softmax

_LOG_KAPPA_RANGE = tuple(math.log(k) for k in KAPPA_RANGE)


def cell_size_kappa(gps, labels, centers):
    """Per-component concentration from the spread of its cell's photos.

    For a concentrated vMF, ``E[1 - mu.y] = 1 / kappa``; so ``kappa_i = 1 /
    mean(1 - mu_i.y)`` over the photos of cell ``i`` (clipped to
    ``KAPPA_RANGE``; a cell whose photos all sit on ``mu_i`` gets the top).

    Examples
    --------
    >>> gps = np.array([[0.0, 0.0], [0.0, 1.0]]); centers = np.array([[0.0, 0.5]])
    >>> k = cell_size_kappa(gps, np.array([0, 0]), centers)
    >>> bool(np.isclose(k[0], 1 / (1 - np.cos(np.radians(0.5)))))
    True
    """
    mu = to_unit_vectors(centers)
    gap = 1.0 - np.einsum("ij,ij->i", to_unit_vectors(gps), mu[labels])
    spread = np.bincount(labels, weights=np.maximum(gap, 0.0), minlength=len(centers))
    count = np.bincount(labels, minlength=len(centers))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = count / spread
    return np.clip(np.nan_to_num(kappa, nan=KAPPA_RANGE[1], posinf=KAPPA_RANGE[1]), *KAPPA_RANGE)


class _MvMFObjective:
    """The MvMF negative log-likelihood (Eq. 5) and its gradient, on one array module.

    Parameters are ``[W (d, c), b (c,), u (c, 3), s (c,)]``: logits ``XW + b``
    (Eq. 3 with the sign folded into W, plus an intercept), means
    ``mu = normalise(base + sigma0 u)`` (``u`` moves a mean in units of its
    initial spread, so one learning rate fits every cell size), ``kappa =
    exp(s)``.  ``alpha`` is an L2 penalty on W scaled as scikit-learn's
    LogisticRegression(C = 1 / alpha) scales it.
    """

    def __init__(self, base, sigma0, alpha, n_train, xp):
        self.base, self.sigma0, self.xp = base, sigma0, xp
        self.penalty = float(alpha) / n_train

    def means(self, u):
        m = self.base + self.sigma0[:, None] * u
        norm = self.xp.linalg.norm(m, axis=1, keepdims=True)
        return m / norm, norm

    def loss_grad(self, X, Y, params, penalty=True):
        """Mean NLL (+ the penalty) of a batch, and the gradients of every parameter."""
        xp = self.xp
        W, b, u, s = params
        mu, norm = self.means(u)
        kappa = xp.exp(s)
        z = (X @ W + b).astype(xp.result_type(X, xp.float64))
        log_gamma = z - logsumexp(z, 1, xp)[:, None]
        cos = Y @ mu.T
        a = log_gamma + log_vmf(Y, mu, kappa, xp)
        n = len(X)
        loss = float(-logsumexp(a, 1, xp).mean())
        if penalty:
            loss += 0.5 * self.penalty * float((W * W).sum())
        resp = softmax(a, 1, xp)                        # posterior of each component
        dz = (xp.exp(log_gamma) - resp) / n             # d loss / d logits
        gW = X.T @ dz.astype(X.dtype) + self.penalty * W
        dv = -resp / n                                  # d loss / d log vMF
        g_mu = kappa[:, None] * (dv.T @ Y)
        g_mu -= mu * (mu * g_mu).sum(axis=1, keepdims=True)   # tangent part only
        gu = self.sigma0[:, None] * g_mu / norm
        gs = (dv * (dlog_normalizer_dlogkappa(kappa, xp)[None, :]
                    + kappa[None, :] * (cos - 1.0))).sum(axis=0)
        return loss, [gW, dz.sum(axis=0).astype(b.dtype), gu, gs]


class MvMFRegressor(GeoRegressorMixin, BaseEstimator):
    """Geolocation by a mixture of von Mises-Fisher distributions (Izbicki et al.).

    Features -> mixture weights ``Gamma(x) = softmax(x W + b)`` over ``c``
    vMF components on the sphere, one per cell of a partition; trained by
    the mean negative log-likelihood of the photos' locations (Eq. 5);
    prediction is the mean of the heaviest component (Eq. 7, the form the
    paper uses in all its experiments), optionally moved uphill on the
    mixture density (towards Eq. 6).

    Features are standardised inside (mean 0, variance 1 per column; the
    paper assumes bounded features).

    Parameters
    ----------
    partition : a dgae.cells partition or None, default=None
        Cloned and fitted on the training GPS; one component per cell that
        holds a training photo.  None: ``CellClassifier``'s default (S2
        cells of about 25 photos).
    kappa_init : float or "cell_size", default="cell_size"
        Initial concentration.  A float: every component starts there (the
        paper's kappa^0; it suggests exp(16) on 4.7 M photos, i.e. cells a
        few km wide).  "cell_size": each component from its cell's photo
        spread (:func:`cell_size_kappa`), which suits any gallery scale.
    center_init : {"imagery_centroid", "cell_center"}, default="imagery_centroid"
        Where the means start: the spherical means of the cells' photos, or
        their geometric centres (the paper's choice; behind by 3.4 points
        at 25 km on the inner gallery splits, ``docs/cells.md``).
    learn_centers, learn_kappa : bool, default=True
        Train the means / the concentrations (else they stay at their start).
    alpha : float, default=1.0
        L2 penalty on W, as scikit-learn's LogisticRegression with C = 1 / alpha.
    learning_rate : float, default=1e-3
        Adam's step size.
    batch_size : int, default=256
    max_iter : int, default=200
        Epochs at most.  On galleries with fewer photos than features the
        training loss never settles (the weights of separable data grow
        without bound); 200 epochs was as accurate as 400 and ahead of 50
        and 100 on the inner splits (``docs/cells.md``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the photos (at random) and stop
        when the mean ``log(1 + km)`` error of their Eq. 7 estimates has not
        fallen by ``tol`` for ``n_iter_no_change`` epochs; the parameters of
        the best epoch are kept.  (Their NLL would stop far too early: it
        rises within a few epochs while the estimates still improve.)
        False (default; it stopped too early on the inner splits): the same
        rule on the training loss.
    validation_fraction : float, default=0.1
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    refine_steps : int, default=0
        Fixed-point steps of the mixture density from the Eq. 7 estimate
        (``y <- normalise(sum_i w_i(y) kappa_i mu_i)``, which never lowers the
        density; not in the paper's experiments).
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where training runs (the dgae array backend).
    random_state : int, RandomState instance or None, default=None
        Glorot initialisation of W and the batch order.
    verbose : int, default=0

    Attributes
    ----------
    partition_ : the fitted partition
    cells_ : ndarray of shape (c,)
        The partition cell of each component.
    coef_ : ndarray of shape (n_features, c), float32
    intercept_ : ndarray of shape (c,), float32
    centers_ : ndarray of shape (c, 2)
        Component means ``[lat, lon]``.
    kappa_ : ndarray of shape (c,)
    scaler_ : sklearn.preprocessing.StandardScaler
        The standardisation of the features.
    loss_curve_ : list of float
        Mean training loss (Eq. 5 + penalty) of each epoch.
    validation_scores_ : list of float or None
        Held-out mean ``log(1 + km)`` error of each epoch (None without
        early stopping).
    n_iter_ : int
        Epochs run.
    best_iter_ : int
        The epoch whose parameters were kept.
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = np.array([[45.0, 16.0], [35.0, 139.0], [-33.9, 151.2]])
    >>> city = np.repeat(np.arange(3), 40)
    >>> gps = centres[city] + rng.normal(0, 0.01, (120, 2))
    >>> X = np.eye(3)[city] + rng.normal(0, 0.1, (120, 3))
    >>> model = MvMFRegressor(learning_rate=0.05, random_state=0).fit(X, gps)
    >>> model.predict(np.eye(3)).round(0).tolist()
    [[45.0, 16.0], [35.0, 139.0], [-34.0, 151.0]]
    >>> model.predict_density(np.eye(3)[:1], [[45.0, 16.0], [35.0, 139.0]]).shape
    (1, 2)
    """

    _parameter_constraints = {
        **RUN_CONSTRAINTS,
        "partition": [None, HasMethods(["fit", "predict"])],
        "kappa_init": [StrOptions({"cell_size"}), Interval(Real, *KAPPA_RANGE, closed="both")],
        "center_init": [StrOptions({"cell_center", "imagery_centroid"})],
        "learn_centers": ["boolean"],
        "learn_kappa": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "refine_steps": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, partition=None, kappa_init="cell_size", center_init="imagery_centroid",
                 learn_centers=True, learn_kappa=True, alpha=1.0, learning_rate=1e-3,
                 batch_size=256, max_iter=200, early_stopping=False, validation_fraction=0.1,
                 tol=1e-4, n_iter_no_change=10, refine_steps=0, device="auto", random_state=None,
                 verbose=0):
        self.partition = partition
        self.kappa_init = kappa_init
        self.center_init = center_init
        self.learn_centers = learn_centers
        self.learn_kappa = learn_kappa
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.refine_steps = refine_steps
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Fit the partition on ``y``, then the mixture on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2)
            ``[lat, lon]`` degrees.

        Returns
        -------
        self : MvMFRegressor
        """
        X, gps = self._fit_inputs(X, y)
        self.device_, self.refine_steps_ = resolve_device(self.device), int(self.refine_steps)
        self.scaler_ = StandardScaler().fit(X)
        base, kappa0 = self._init_components(gps)
        rng = check_random_state(self.random_state)
        limit = math.sqrt(6.0 / (X.shape[1] + len(base)))           # Glorot
        params = [rng.uniform(-limit, limit, (X.shape[1], len(base))).astype(np.float32),
                  np.zeros(len(base), np.float32), np.zeros((len(base), 3)), np.log(kappa0)]
        self._train(self._standardise(X), gps, base, kappa0, params, rng)
        return self

    def _init_components(self, gps):
        from ._cell_classifier import fit_partition

        self.partition_, labels = fit_partition(self.partition, gps)
        self.cells_ = np.unique(labels[labels >= 0])
        start = (self.partition_.centers_ if self.center_init == "cell_center"
                 else self.partition_.imagery_centroids_)[self.cells_]
        if self.kappa_init == "cell_size":
            inside = labels >= 0
            kappa0 = cell_size_kappa(gps[inside], np.searchsorted(self.cells_, labels[inside]), start)
        else:
            kappa0 = np.full(len(self.cells_), float(self.kappa_init))
        return to_unit_vectors(start), kappa0

    def _standardise(self, X):
        return self.scaler_.transform(X).astype(np.float32)

    def _train(self, X, gps, base, kappa0, params, rng):
        xp = get_xp(self.device_)
        fit, val = self._holdout(len(X), rng)
        X, Y = to_device(X, xp), to_device(to_unit_vectors(gps), xp)
        params = [to_device(p, xp) for p in params]
        problem = _MvMFObjective(to_device(base, xp), to_device(1.0 / np.sqrt(kappa0), xp),
                           self.alpha, len(fit), xp)
        trained = [0, 1] + ([2] if self.learn_centers else []) + ([3] if self.learn_kappa else [])
        opt = Optimizer("adam", [params[i] for i in trained])
        self.loss_curve_, self.validation_scores_ = [], [] if len(val) else None
        best = BestWeights(self.tol)
        for epoch in progress(range(self.max_iter), verbose=self.verbose, desc="MvMF", unit="epoch"):
            total = 0.0
            for rows in np.array_split(rng.permutation(fit), max(1, len(fit) // self.batch_size)):
                rows = to_device(rows, xp)
                loss, grads = problem.loss_grad(X[rows], Y[rows], params)
                total += loss * len(rows)
                opt.step([params[i] for i in trained], [grads[i] for i in trained], self.learning_rate)
                xp.clip(params[3], *_LOG_KAPPA_RANGE, out=params[3])
            if self.learn_centers:
                self._rebase(problem, params, opt, trained.index(2), xp)
            self.loss_curve_.append(total / len(fit))
            watched = self.loss_curve_
            if len(val):
                watched = self.validation_scores_
                watched.append(self._validation_error(problem, X, gps, val, params, xp))
            # the means, not their offsets: _rebase moves the bases every epoch
            best.offer(watched[-1], lambda: [problem.means(params[2])[0], *params[:2], params[3]],
                       epoch)
            if best.stale >= self.n_iter_no_change:
                break
        else:
            warn(f"MvMFRegressor: {self.max_iter} epochs reached before the loss settled "
                 f"(last {watched[-1]:.4g}); raise max_iter, or alpha to bound the "
                 f"weights", ConvergenceWarning)
        self.n_iter_ = len(self.loss_curve_)
        self.best_iter_ = best.iteration + 1
        mu, self.coef_, self.intercept_, log_kappa = (to_host(p) for p in best.params)
        self.centers_ = from_unit_vectors(mu)
        self.kappa_ = np.exp(log_kappa)

    @staticmethod
    def _validation_error(problem, X, gps, rows, params, xp):
        """Mean log(1 + km) error of the Eq. 7 estimates of held-out photos.

        Not their NLL: the held-out NLL turns up within a few epochs (the
        concentrations grow sharper than held-out photos bear) while the
        heaviest component -- the prediction -- goes on improving.
        """
        best = xp.argmax(X[to_device(rows, xp)] @ params[0] + params[1], axis=1)
        centres = from_unit_vectors(to_host(problem.means(params[2])[0][best]))
        return float(np.log1p(great_circle_km(centres, gps[rows])).mean())

    def _holdout(self, n, rng):
        """(fitting rows, validation rows): ``validation_fraction`` held out when early stopping."""
        n_val = int(self.validation_fraction * n) if self.early_stopping else 0
        if n_val < 1 or n - n_val < 2:
            return np.arange(n), np.arange(0)
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    @staticmethod
    def _rebase(problem, params, opt, slot, xp):
        """Fold the mean offsets into the bases and re-scale them by the current spreads.

        A mean moves by ``sigma0 u``; once kappa has grown, steps sized by the
        starting spread are too coarse.  Each epoch the bases become the
        current means, ``u`` returns to 0 and ``sigma0 = 1 / sqrt(kappa)``;
        Adam's moments are re-scaled with the gradient (by r and r^2), which
        leaves its update direction and size unchanged.
        """
        problem.base = problem.means(params[2])[0]
        sigma = 1.0 / xp.sqrt(xp.exp(params[3]))
        r = (sigma / problem.sigma0)[:, None]
        problem.sigma0 = sigma
        params[2][...] = 0.0
        opt.m[slot] *= r
        opt.v[slot] *= r * r

    # -------------------------------------------------------------- predict
    def _log_weights(self, X):
        check_is_fitted(self, "coef_")
        X = self._standardise(self._check_X(X, reset=False))
        z = (X @ self.coef_ + self.intercept_).astype(np.float64)
        return z - logsumexp(z, 1)[:, None]

    def predict_proba(self, X):
        """Mixture weights Gamma(x) (Eq. 3), shape (n, c), in the order of ``cells_``."""
        return np.exp(self._log_weights(X))

    def predict(self, X):
        """Mean of the heaviest component (Eq. 7), then ``refine_steps`` uphill steps.

        Returns
        -------
        gps : ndarray of shape (n, 2), ``[lat, lon]`` degrees
        """
        log_w = self._log_weights(X)
        if not self.refine_steps_:
            return self.centers_[np.argmax(log_w, axis=1)]
        mu = to_unit_vectors(self.centers_)
        y = mu[np.argmax(log_w, axis=1)]
        log_w = log_w + np.log(self.kappa_)[None, :]
        for _ in range(self.refine_steps_):
            # y <- normalise(sum_i Gamma_i vMF_i(y) kappa_i mu_i): the density's MM step
            step = softmax(log_w + log_vmf(y, mu, self.kappa_), 1) @ mu
            y = step / np.linalg.norm(step, axis=1, keepdims=True)
        return from_unit_vectors(y)

    def score_samples(self, X, y=None):
        """Log MvMF density (per steradian) at each photo's location, shape (n,).

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2) or None
            ``[lat, lon]``: ``-score_samples(X, y).mean()`` is Eq. 5 without
            the penalty.  None: the density at :meth:`predict`'s estimate, a
            confidence (higher = the mixture is surer of the place).
        """
        log_w = self._log_weights(X)
        gps = self.predict(X) if y is None else check_targets(y, len(log_w))
        a = log_w + log_vmf(to_unit_vectors(gps), to_unit_vectors(self.centers_), self.kappa_)
        return logsumexp(a, 1)

    def predict_density(self, X, grid, batch_size=None):
        """MvMF density of each query over ``grid`` points: "where could this be".

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        grid : array-like of shape (g, 2)
            ``[lat, lon]`` degrees.
        batch_size : int, optional
            Queries per block (default: blocks of about 2e7 numbers).

        Returns
        -------
        density : ndarray of shape (n, g)
            Per steradian (it integrates to 1 over the sphere); divide by
            ``EARTH_RADIUS_KM ** 2`` for per km^2.
        """
        log_w = self._log_weights(X)
        v = log_vmf(to_unit_vectors(check_gps(grid, "grid")), to_unit_vectors(self.centers_),
                    self.kappa_)
        step = batch_size or max(1, int(2e7 // max(1, v.size)))
        return np.concatenate([np.exp(logsumexp(log_w[s:s + step, None, :] + v[None], 2))
                               for s in range(0, len(log_w), step)]) if len(log_w) else \
            np.zeros((0, len(v)))
