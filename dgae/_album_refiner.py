"""AlbumRefiner: the mesh paper's M3 -- the photos of one album located together."""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._cell_classifier import class_positions
from ._context import CellModelMixin, context_features, out_of_fold_proba, unfitted_base
from ._time_refiner import TimeRefiner


def base_proba(base, X, time=None):
    """Cell probabilities of a fitted M1 (or of a TimeRefiner, which needs the time)."""
    if isinstance(base, TimeRefiner):
        return base.predict_proba(X, time=time)
    return base.predict_proba(X)


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


class AlbumRefiner(CellModelMixin, BaseEstimator):
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
