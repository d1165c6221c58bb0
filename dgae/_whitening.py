"""PCA whitening with shrinkage: the input scaling of DGAE's "whitened" objective."""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

#: Above this many rows the PCA is fitted on a random subsample of them: PCA centres a
#: copy of its input (7.4 GiB more at the paper's 664,720 x 2,971), and 100,000 rows
#: estimate a 2,971-d covariance's leading 256 components well.
FIT_MAX_ROWS = 100_000
#: Rows per block of the float64 column variance (bounded temporaries).
_VAR_CHUNK = 8192


class ShrunkWhitening(TransformerMixin, BaseEstimator):
    """PCA projection scaled by ``1 / sqrt(variance + shrinkage * mean variance)``.

    ``shrinkage=0`` is plain PCA whitening (every component to unit variance).
    Plain whitening divides the weakest components, mostly noise when a
    gallery has few photos per dimension, by their tiny standard deviation:
    they then weigh as much as the strongest, and a 1-NN search or a network
    fed with them starts from a metric worse than the raw features.  A
    shrinkage ``s`` scales component ``i`` by ``1 / sqrt(l_i + s * mean(l))``:
    the strong components are whitened, the weak ones damped (the same idea
    as shrinkage LDA); large ``s`` approaches plain PCA.  The output is scaled
    so that the components' variances average 1.

    Parameters
    ----------
    n_components : int, default=256
        At most ``n_samples - 1`` and ``n_features`` are kept.
    shrinkage : float, default=1.0
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized SVD and, above ``FIT_MAX_ROWS`` (100,000) rows,
        the subsample the PCA is fitted on.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
    scale_ : ndarray of shape (n_components_,)
        The factor of each component.
    n_components_ : int
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)) * [10.0, 3.0, 1.0, 0.3, 0.1]
    >>> Z = ShrunkWhitening(n_components=5, shrinkage=0.0).fit_transform(X)
    >>> np.round(Z.var(axis=0, ddof=1), 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    >>> Z = ShrunkWhitening(n_components=5, shrinkage=1.0).fit_transform(X)
    >>> bool(Z.var(axis=0)[0] > Z.var(axis=0)[-1]), round(float(Z.var(axis=0, ddof=1).mean()), 6)
    (True, 1.0)
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "shrinkage": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=256, shrinkage=1.0, random_state=None):
        self.n_components = n_components
        self.shrinkage = shrinkage
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the PCA and the component scales.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : ignored

        Returns
        -------
        self : ShrunkWhitening
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_comp = min(int(self.n_components), X.shape[0] - 1, X.shape[1])
        # components of (numerically) zero variance would be divided by ~0
        var = _column_variance(X)
        n_comp = max(1, min(n_comp, int(np.sum(var > 1e-12 * max(var.max(), 1e-300)))))
        if len(X) > FIT_MAX_ROWS:
            rows = check_random_state(self.random_state).choice(len(X), FIT_MAX_ROWS, replace=False)
            X = X[np.sort(rows)]
        self.pca_ = PCA(n_components=n_comp, random_state=self.random_state).fit(X)
        ev = np.maximum(self.pca_.explained_variance_.astype(np.float64), 1e-300)
        scale = 1.0 / np.sqrt(ev + self.shrinkage * ev.mean())
        self.scale_ = scale * np.sqrt(ev.size / np.sum(ev * scale ** 2))
        self.n_components_ = n_comp
        return self

    def transform(self, X):
        """Project and scale (computed in float64).

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        Z : ndarray of shape (n, n_components_), float64
        """
        check_is_fitted(self, "scale_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.pca_.transform(X) * self.scale_


def column_mean(X, chunk=_VAR_CHUNK):
    """Mean of each column in float64, ``chunk`` rows at a time (no float64 copy of ``X``).

    Examples
    --------
    >>> column_mean(np.array([[1.0, 2.0], [3.0, 2.0]], dtype=np.float32)).tolist()
    [2.0, 2.0]
    """
    mean = np.zeros(X.shape[1])
    for r0 in range(0, len(X), chunk):
        mean += X[r0:r0 + chunk].sum(axis=0, dtype=np.float64)
    return mean / len(X)


def _column_variance(X):
    """Population variance of each column in float64, ``_VAR_CHUNK`` rows at a time.

    ``np.var(X, dtype=np.float64)`` of a float32 array forms a float64 copy of
    all of it (twice the input's memory).

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]], dtype=np.float32)
    >>> _column_variance(X).tolist()
    [2.6666666666666665, 0.0]
    """
    mean = column_mean(X)
    ss = np.zeros(X.shape[1])
    for r0 in range(0, len(X), _VAR_CHUNK):
        ss += np.square(X[r0:r0 + _VAR_CHUNK] - mean).sum(axis=0)
    return ss / len(X)
