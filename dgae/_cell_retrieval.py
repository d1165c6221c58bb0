"""Classification-trained retrieval (Vo et al.): k-NN on what a cell classifier learned."""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._cell_classifier import class_positions
from ._heads import apply_head
from .base import CodesTransformerMixin, GeoRegressorMixin

#: Queries per block of the restricted search (a block's distances: rows x gallery floats).
_BLOCK = 256


class ClassificationRetrieval(GeoRegressorMixin, CodesTransformerMixin, BaseEstimator):
    """Retrieval with a location head on a cell classifier's representation.

    Vo et al. train a classification network over cells of the globe and
    retrieve nearest gallery photos on its learned features.  Here the
    classifier is a :class:`~dgae.CellClassifier` and its representation is
    :meth:`~dgae.CellClassifier.transform` (centred log cell probabilities,
    over every partition for "Multi"); retrieval and the head are a
    :class:`~dgae.GeoKNN`.  Without ``top_cells`` this is exactly
    ``make_pipeline(CellClassifier(), GeoKNN())``.

    Parameters
    ----------
    cell_classifier : CellClassifier or None, default=None
        Cloned and fitted.  None: ``CellClassifier()``.
    knn : GeoKNN or None, default=None
        Cloned and fitted on the gallery's representation.  None:
        ``GeoKNN(head="kde")`` (Vo et al.'s kernel density).
    top_cells : int or None, default=None
        Not in the papers: search only gallery photos in the query's
        ``top_cells`` likeliest cells (of the partition with the most cells),
        filling up with the nearest others when those hold fewer photos than
        the head needs.

    Attributes
    ----------
    cell_classifier_ : CellClassifier
    knn_ : GeoKNN
    gallery_cells_ : ndarray of shape (n_gallery,)
        Position in ``cell_classifier_.classes_`` of each gallery photo's
        cell (-1: a cell the classifier does not know).
    top_cells_ : int or None
        ``top_cells`` as fitted (what ``predict`` uses).
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = np.array([[45.0, 16.0], [35.0, 139.0], [-33.9, 151.2]])
    >>> city = np.repeat(np.arange(3), 40)
    >>> gps = centres[city] + rng.normal(0, 0.01, (120, 2))
    >>> X = np.eye(3)[city] + rng.normal(0, 0.1, (120, 3))
    >>> model = ClassificationRetrieval(top_cells=1).fit(X, gps)
    >>> model.predict(np.eye(3)).round(0).tolist()
    [[45.0, 16.0], [35.0, 139.0], [-34.0, 151.0]]
    """

    _parameter_constraints = {
        "cell_classifier": [None, HasMethods(["fit", "transform", "predict_proba"])],
        "knn": [None, HasMethods(["fit", "kneighbors"])],
        "top_cells": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, cell_classifier=None, knn=None, top_cells=None):
        self.cell_classifier = cell_classifier
        self.knn = knn
        self.top_cells = top_cells

    def fit(self, X, y):
        """Fit the classifier on ``(X, y)``, then index the gallery's representation.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2)
            ``[lat, lon]`` degrees.

        Returns
        -------
        self : ClassificationRetrieval
        """
        from . import CellClassifier, GeoKNN

        X, gps = self._fit_inputs(X, y)
        cc = self.cell_classifier if self.cell_classifier is not None else CellClassifier()
        self.cell_classifier_ = clone(cc).fit(X, gps)
        knn = self.knn if self.knn is not None else GeoKNN(head="kde")
        self.knn_ = clone(knn).fit(self.cell_classifier_.transform(X), gps)
        self.gallery_cells_ = class_positions(self.cell_classifier_, gps)
        self.top_cells_ = self.top_cells
        return self

    def transform(self, X):
        """The representation retrieval runs on, shape (n, n_codes) (:meth:`CellClassifier.transform`)."""
        check_is_fitted(self, "knn_")
        return self.cell_classifier_.transform(self._check_X(X, reset=False))

    def predict(self, X):
        """The head's estimate from the nearest gallery photos in the representation.

        Returns
        -------
        gps : ndarray of shape (n, 2), ``[lat, lon]`` degrees
        """
        Z = self.transform(X)
        if self.top_cells_ is None:
            return self.knn_.predict(Z)
        G, knn = self.knn_.features_, self.knn_
        proba = self.cell_classifier_.predict_proba(X)
        top = np.argsort(-proba, axis=1, kind="stable")[:, :self.top_cells_]
        out = []
        for s in range(0, len(Z), _BLOCK):
            z, t = Z[s:s + _BLOCK], top[s:s + _BLOCK]
            dist = euclidean_distances(z, G)
            outside = ~(self.gallery_cells_[None, :, None] == t[:, None, :]).any(axis=2)
            order = np.argsort(dist + outside * (dist.max() + 1.0), axis=1,
                               kind="stable")[:, :knn.n_neighbors_]
            out.append(apply_head(knn.head_, knn.gallery_gps_[order],
                                  np.take_along_axis(dist, order, axis=1), **knn.head_params_))
        return np.concatenate(out)
