"""scikit-learn's estimator checks for DGAE and GeoKNN.

The checks generate 1-D (or, for multi-output estimators, (n, 1)) targets;
DGAE and GeoKNN need ``(n, 2)`` GPS coordinates, so every check that fits
would fail on the real classes with a ValueError about y (a test below says
so, once per class).  The checks run, without any expected failure, on thin
subclasses that only map a 1-D target ``y`` to the GPS points ``[0, y]``
(lat 0, lon y) before fitting / scoring:
every behaviour the checks test beyond the target shape (validation, NaN/inf
errors, n_features_in_, pickling, idempotence, sample-order and subset
invariance, transform consistency, dtypes, memmaps...) is exercised on the
real code.
"""
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from dgae import (DGAE, AlbumRefiner, CellClassifier, ClassificationRetrieval, GeoKNN,
                  MvMFRegressor, TimeRefiner)
from dgae.cells import LatLonCells

TINY = dict(hidden_layer_sizes=(4,), k1=2, k2=2, max_iter=3, device="cpu")

@pytest.mark.parametrize("estimator", [DGAE(**TINY), GeoKNN(), CellClassifier(),
                                       MvMFRegressor(max_iter=3, device="cpu"),
                                       ClassificationRetrieval()], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("y", [np.arange(12.0), np.arange(12.0).reshape(-1, 1)], ids=["1d", "n1"])
def test_a_target_that_is_not_gps_is_refused(estimator, y):
    """The real classes need y = (n, 2) GPS; scikit-learn's checks run on 1-D adapters below."""
    X = np.random.default_rng(0).random((12, 3))
    with pytest.raises(ValueError, match=r"\(n, 2\)|lat.*lon|2 columns|shape"):
        estimator.fit(X, y)


def _as_gps(y):
    """1-D target -> GPS points on the equator (lat 0, lon y)."""
    if y is None:
        return None
    y = np.asarray(y, dtype=np.float64).reshape(len(np.asarray(y)), -1)[:, 0]
    return np.column_stack([np.zeros_like(y), y])


class GeoKNN1D(GeoKNN):
    """GeoKNN with a 1-D target mapped to GPS (checks only)."""

    def fit(self, X, y):
        return super().fit(X, _as_gps(y))

    def score(self, X, y, sample_weight=None):
        return super().score(X, _as_gps(y), sample_weight)


class DGAE1D(DGAE):
    """DGAE with a 1-D target mapped to GPS (checks only)."""

    def fit(self, X, y, areas=None):
        return super().fit(X, _as_gps(y), areas)

    def partial_fit(self, X, y, areas=None):
        return super().partial_fit(X, _as_gps(y), areas)

    def score(self, X, y, sample_weight=None):
        return super().score(X, _as_gps(y), sample_weight)


# realistic widths too: a float32 GEMM rounds a row by its position, which a (4,)-wide network
# hides and (16, 8) or (256, 128) shows (check_methods_sample_order_invariance)
@parametrize_with_checks([DGAE1D(**TINY), DGAE1D(**dict(TINY, hidden_layer_sizes=(16, 8))),
                          DGAE1D(**dict(TINY, hidden_layer_sizes=(256, 128))), GeoKNN1D()])
def test_sklearn_checks_with_1d_target_adapter(estimator, check):
    check(estimator)


def _adapted(cls):
    """``cls`` with a 1-D target mapped to GPS in fit and score (checks only)."""

    def fit(self, X, y):
        return cls.fit(self, X, _as_gps(y))

    def score(self, X, y, sample_weight=None):
        return cls.score(self, X, _as_gps(y), sample_weight)

    return type(f"{cls.__name__}1D", (cls,), {"fit": fit, "score": score})


CellClassifier1D = _adapted(CellClassifier)      # module-level names: the pickle checks
MvMFRegressor1D = _adapted(MvMFRegressor)
ClassificationRetrieval1D = _adapted(ClassificationRetrieval)
_CELLS = dict(partition=LatLonCells(max_per_cell=5, min_area_km2=0))
_CELL_ESTIMATORS = [(CellClassifier, CellClassifier1D, _CELLS),
                    (MvMFRegressor, MvMFRegressor1D,
                     dict(_CELLS, max_iter=3, device="cpu", random_state=0)),
                    (ClassificationRetrieval, ClassificationRetrieval1D,
                     dict(cell_classifier=CellClassifier(**_CELLS), top_cells=2))]


@parametrize_with_checks([cls1d(**kw) for _, cls1d, kw in _CELL_ESTIMATORS])
def test_cell_estimators_sklearn_checks_on_a_1d_adapter(estimator, check):
    check(estimator)


def _first_column(X):
    """X's first feature when X is a non-empty dense numeric 2-D array, else None (the estimator
    then rejects X itself, with its own message)."""
    if hasattr(X, "toarray"):
        return None
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return X[:, 0] if X.ndim == 2 and X.size and np.isfinite(X[:, 0]).all() else None


def _times(X):
    """A posting time read off each row (so it follows the row through any check's reordering)."""
    first = _first_column(X)
    if first is None:
        return None
    seconds = (np.abs(first) * 1e4).astype(np.int64) % (365 * 86400)
    return np.datetime64("2020-01-01", "s") + seconds.astype("timedelta64[s]")


def _albums(X):
    """Albums read off each row: rows whose first feature rounds alike share one."""
    first = _first_column(X)
    return None if first is None else np.round(first).astype(np.int64)


class TimeRefiner1D(TimeRefiner):
    """TimeRefiner with a 1-D target mapped to GPS and times read off the rows (checks only)."""

    def fit(self, X, y):
        return super().fit(X, _as_gps(y), time=_times(X))

    def predict(self, X):
        return super().predict(X, time=_times(X))

    def predict_proba(self, X):
        return super().predict_proba(X, time=_times(X))

    def score(self, X, y, sample_weight=None):
        return super().score(X, _as_gps(y), sample_weight)


class AlbumRefiner1D(AlbumRefiner):
    """AlbumRefiner with a 1-D target mapped to GPS and albums read off the rows (checks only)."""

    def fit(self, X, y):
        return super().fit(X, _as_gps(y), album=_albums(X))

    def predict(self, X):
        return super().predict(X, album=_albums(X))

    def predict_proba(self, X):
        return super().predict_proba(X, album=_albums(X))

    def score(self, X, y, sample_weight=None):
        return super().score(X, _as_gps(y), sample_weight)


# TimeRefiner and AlbumRefiner take the photos' context (time=, album=) in fit and predict, which
# no scikit-learn check passes: they run on adapters that read it off the rows, as above.
def _album_expected_failures(estimator):
    if not isinstance(estimator, AlbumRefiner):
        return {}
    return {"check_methods_subset_invariance": "album averaging is a function of the album's "
            "photos in the batch: predicting a subset of an album averages over fewer photos "
            "(by design)"}


@parametrize_with_checks([TimeRefiner1D(base=CellClassifier(**_CELLS)),
                          AlbumRefiner1D(base=CellClassifier(**_CELLS))],
                         expected_failed_checks=_album_expected_failures)
def test_context_refiners_sklearn_checks_on_adapters(estimator, check):
    check(estimator)
