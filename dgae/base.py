"""What every estimator of dgae shares: the GPS-target check, the regressor and transformer
mixins, the version a pickled model records, and the run parameters' constraints.

A base module: it imports only :mod:`dgae.utils` (features, graphs and cells may stand on it).

Examples
--------
>>> import numpy as np
>>> from dgae.base import check_targets
>>> check_targets([[45.0, 15.0]], 1).dtype
dtype('float64')
"""

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import validate_data

from ._version import __version__
from .utils import DEVICES, check_features, check_gps, great_circle_km, warn

__all__ = ["RUN_CONSTRAINTS", "SCORE_THRESHOLD_KM", "CodesTransformerMixin", "DgaeVersionWarning",
           "GeoRegressorMixin", "check_targets"]

#: Accuracy threshold of ``score`` (the paper cross-validates at 200 km).
SCORE_THRESHOLD_KM = 200.0

#: Where the work runs and how much it says: shared by every estimator of the package.
RUN_CONSTRAINTS = {
    "device": [StrOptions(set(DEVICES))],
    "verbose": ["verbose"],
}


def check_targets(y, n):
    """GPS targets: shape (n, 2) ``[lat, lon]`` (a clear error otherwise).

    Parameters
    ----------
    y : array-like of shape (n, 2)
    n : int
        Rows of ``X``.

    Returns
    -------
    gps : ndarray of shape (n, 2), float64

    Examples
    --------
    >>> check_targets([[45.0, 15.0], [46.0, 16.0]], 2).shape
    (2, 2)
    >>> check_targets([45.0, 15.0], 1)
    Traceback (most recent call last):
    ...
    ValueError: y must be GPS coordinates of shape (n_samples, 2) [lat, lon]; got shape (2,)
    """
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None "
                         "(y: GPS of shape (n_samples, 2), [lat, lon] degrees)")
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] != 2:
        raise ValueError(f"y must be GPS coordinates of shape (n_samples, 2) [lat, lon]; "
                         f"got shape {y.shape}")
    gps = check_gps(y, "y")
    if len(gps) != n:
        raise ValueError(f"X has {n} rows but y has {len(gps)}")
    return gps


class DgaeVersionWarning(UserWarning):
    """A model saved by another dgae version was loaded (it may fail or predict differently).

    Examples
    --------
    >>> import warnings
    >>> from dgae import DgaeVersionWarning
    >>> warnings.simplefilter("error", DgaeVersionWarning)  # refuse such models outright
    >>> warnings.resetwarnings()
    """


_VERSIONS_WARNED = set()  # the saved versions already warned about in this process


class GeoRegressorMixin:
    """What every estimator from features to ``[lat, lon]`` shares: tags (y is (n, 2) GPS),
    the input check that names the first bad row, and ``score`` (share within 200 km).

    Subclasses provide ``predict``.  A pickled estimator records the dgae version that saved
    it; loading it under another version warns with both (:class:`DgaeVersionWarning`), as
    scikit-learn does for its own version, and migrates nothing: a model is promised to load
    in the version that saved it (fit it again in another; ``dgae fit`` reuses its feature
    cache).

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> class Centre(GeoRegressorMixin, BaseEstimator):
    ...     _parameter_constraints = {}
    ...     def fit(self, X, y):
    ...         X, self.centre_ = self._fit_inputs(X, y)[0], np.mean(y, axis=0)
    ...         return self
    ...     def predict(self, X):
    ...         return np.tile(self.centre_, (len(self._check_X(X, reset=False)), 1))
    >>> Centre().fit([[0.0], [1.0]], [[45.0, 15.0], [45.0, 15.2]]).score([[0.5]], [[45.0, 15.1]])
    1.0
    """

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        state["_dgae_version"] = __version__
        return state

    def __setstate__(self, state):
        saved = state.get("_dgae_version", "unknown (before 0.1.0)")
        if saved != __version__ and saved not in _VERSIONS_WARNED:
            # once per saved version and process: a model nests estimators, each unpickled
            _VERSIONS_WARNED.add(saved)
            warn(f"this model was saved by dgae {saved} and is loaded by dgae {__version__}: it "
                 "may fail or predict differently; fit it again with this version",
                 DgaeVersionWarning)
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # y is required and is 2-D: (n, 2) GPS coordinates
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _fit_inputs(self, X, y):
        """The entry of ``fit``: parameters, then the features and the GPS targets."""
        self._validate_params()
        X = self._check_X(X, reset=True)
        return X, check_targets(y, len(X))

    def _check_X(self, X, reset, **kwargs):
        """scikit-learn's checks (feature count and names), then ours: NaN / inf named by row."""
        X = validate_data(self, X, dtype=np.float32, reset=reset, ensure_all_finite=False,
                          **kwargs)
        return check_features(X, "X")

    def score(self, X, y, sample_weight=None):
        """Fraction of queries located within 200 km (the paper's cross-validation metric).

        Use :func:`dgae.metrics.geo_scorer` for other thresholds.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2)
            True ``[lat, lon]``.
        sample_weight : array-like of shape (n,), optional

        Returns
        -------
        score : float
        """
        err = great_circle_km(check_targets(y, len(X)), self.predict(X))
        return float(np.average(err <= SCORE_THRESHOLD_KM, weights=sample_weight))


class CodesTransformerMixin(TransformerMixin):
    """``transform`` to float32 codes: scikit-learn's transformer mixin with that dtype tag.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> class Halve(CodesTransformerMixin, BaseEstimator):
    ...     def fit(self, X, y=None):
    ...         return self
    ...     def transform(self, X):
    ...         return np.asarray(X, np.float32) / 2
    >>> Halve().__sklearn_tags__().transformer_tags.preserves_dtype
    ['float32']
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # codes are float32
        return tags


