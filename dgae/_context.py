"""Context beyond pixels (the mesh paper's M2 and M3), what the time and album refiners share:
the time tuple, their input features, M1's out-of-fold probabilities, the cells of M1."""
import numpy as np
from sklearn.base import clone

from ._cell_classifier import CellClassifier
from .base import GeoRegressorMixin

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


def unfitted_base(base):
    """A clone of ``base``, or ``CellClassifier()`` when None: M1 before fitting."""
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


class CellModelMixin(GeoRegressorMixin):
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


def __getattr__(name):
    # models pickled when both refiners lived here name this module
    if name in ("TimeRefiner", "AlbumRefiner"):
        import importlib

        module = "_time_refiner" if name == "TimeRefiner" else "_album_refiner"
        return getattr(importlib.import_module(f"dgae.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

