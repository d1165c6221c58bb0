"""Geolocation as classification over a partition of the globe (PlaNet; Vo et al.; the mesh paper's M1)."""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from .base import CodesTransformerMixin, GeoRegressorMixin

#: The stated rule for the default partition: about this many photos per cell
#: (S2 cells split above twice that, dropped under a fifth of it).
PHOTOS_PER_CELL = 25


def default_partition(kind="s2"):
    """A partition by the one stated rule: about ``PHOTOS_PER_CELL`` (25) photos per cell.

    A cell is split while it holds more than 50 photos and dropped under 5
    (lat/lon boxes: kept down to 1 km^2), so a gallery of n photos gets on
    the order of n / 25 cells -- for every gallery, not tuned per set.

    Parameters
    ----------
    kind : {"s2", "latlon", "delaunay"}, default="s2"
        ``S2Cells`` (PlaNet), ``LatLonCells`` (Vo et al.) or ``DelaunayMesh``
        (the mesh paper).

    Examples
    --------
    >>> default_partition().get_params()["max_per_cell"]
    50
    >>> default_partition("delaunay").get_params()["refinement_limit"]
    50
    """
    from dgae.cells import DelaunayMesh, LatLonCells, S2Cells

    split, drop = 2 * PHOTOS_PER_CELL, PHOTOS_PER_CELL // 5
    kinds = {"s2": lambda: S2Cells(max_per_cell=split, min_per_cell=drop),
             "latlon": lambda: LatLonCells(max_per_cell=split, min_area_km2=1.0),
             "delaunay": lambda: DelaunayMesh(refinement_limit=split, min_examples=drop)}
    if kind not in kinds:
        raise ValueError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
    return kinds[kind]()


def fit_partition(partition, gps):
    """``(fitted clone of partition (default_partition() when None), cell of each photo)``;
    a partition that keeps no cell of the photos is an error.

    Examples
    --------
    >>> from dgae.cells import LatLonCells
    >>> gps = np.array([[45.0, 16.0], [45.0, 16.001], [-33.9, 151.2]])
    >>> fit_partition(LatLonCells(max_per_cell=2), gps)[1].tolist()
    [1, 1, 0]
    """
    fitted = clone(partition) if partition is not None else default_partition()
    cells = fitted.fit(gps, None).predict(gps)  # (gps, y): sklearn's FrozenEstimator too
    if not (cells >= 0).any():
        raise ValueError(f"the partition kept no cell of the {len(gps)} training photos "
                         f"({fitted!r}); lower its minimum photos per cell")
    return fitted, cells


def class_positions(model, gps):
    """Position of each photo's cell in ``model.classes_`` (-1: a cell the model does not know).

    Examples
    --------
    >>> class _M: pass
    >>> m = _M(); m.classes_ = np.array([2, 5])
    >>> m.partition_ = type("P", (), {"predict": lambda self, g: np.array([5, 3, -1])})()
    >>> class_positions(m, None).tolist()
    [1, -1, -1]
    """
    classes = model.classes_
    cells = model.partition_.predict(gps)
    pos = np.searchsorted(classes, cells).clip(0, len(classes) - 1)
    return np.where(classes[pos] == cells, pos, -1)


def default_classifier():
    """Standardised features, then multinomial logistic regression (C = 1, lbfgs, 300 iterations).

    Compared on the inner gallery splits of Croatia and world_streetview
    (heading protocol; ``docs/cells.md``): C = 0.01 (as good, 5x slower),
    PCA(256) + C = 0.1 (worse), ``SGDClassifier(log_loss)`` (worst, slowest).

    Examples
    --------
    >>> type(default_classifier()[-1]).__name__
    'LogisticRegression'
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=300))


class CellClassifier(GeoRegressorMixin, CodesTransformerMixin, BaseEstimator):
    """Features -> probabilities of the cells of a partition; the location of the likeliest cell.

    The partition (``dgae.cells``) is fitted on the training photos' GPS;
    photos outside every kept cell are left out; any scikit-learn classifier
    learns the cell of each photo from its features.

    Parameters
    ----------
    partition : a dgae.cells partition, a list of them, or None, default=None
        Unfitted (it is cloned and fitted on the training GPS).  None:
        :func:`default_partition` (S2 cells, about 25 photos each).  A list:
        Vo et al.'s "Multi" -- one classifier per partition, each an output
        of its own (:meth:`predict_each`); ``predict`` and the fitted
        attributes below are those of the partition with the most cells.
        (Vo et al. train one network with a loss per partition; on fixed
        features the classifiers are independent.)
    classifier : scikit-learn classifier or None, default=None
        Cloned and fitted.  None: :func:`default_classifier`.
    label_location : {"imagery_centroid", "cell_center"}, default="imagery_centroid"
        The point predicted for a cell: the spherical mean of its training
        photos (the mesh paper's "centre of mass") or its geometric centre.

    Attributes
    ----------
    partition_ : the fitted partition
    classifier_ : the fitted classifier (None when one cell holds every photo)
    classes_ : ndarray of shape (n_classes,)
        Cell indices (of ``partition_``) that the classifier knows.
    locations_ : ndarray of shape (n_classes, 2)
        The point predicted for each of ``classes_``.
    estimators_ : list of CellClassifier
        One fitted single-partition model per partition (a list ``partition``
        only; else ``[]``).
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = np.array([[45.0, 16.0], [35.0, 139.0], [-33.9, 151.2]])
    >>> city = np.repeat(np.arange(3), 40)
    >>> gps = centres[city] + rng.normal(0, 0.01, (120, 2))
    >>> X = np.eye(3)[city] + rng.normal(0, 0.1, (120, 3))
    >>> model = CellClassifier().fit(X, gps)
    >>> model.predict(np.eye(3)).round(0).tolist()
    [[45.0, 16.0], [35.0, 139.0], [-34.0, 151.0]]
    """

    _parameter_constraints = {
        "partition": [None, HasMethods(["fit", "predict"]), list, tuple],
        "classifier": [None, HasMethods(["fit", "predict_proba"])],
        "label_location": [StrOptions({"imagery_centroid", "cell_center"})],
    }

    def __init__(self, partition=None, classifier=None, label_location="imagery_centroid"):
        self.partition = partition
        self.classifier = classifier
        self.label_location = label_location

    def fit(self, X, y):
        """Fit the partition on ``y`` and the classifier on the photos it keeps.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n, 2)
            ``[lat, lon]`` degrees.

        Returns
        -------
        self : CellClassifier
        """
        X, gps = self._fit_inputs(X, y)
        self.estimators_ = []
        if isinstance(self.partition, (list, tuple)):
            return self._fit_each(X, gps)
        self.partition_, cells = fit_partition(self.partition, gps)
        kept = cells >= 0
        self.classes_ = np.unique(cells[kept])
        points = (self.partition_.imagery_centroids_ if self.label_location == "imagery_centroid"
                  else self.partition_.centers_)
        self.locations_ = points[self.classes_]
        self.classifier_ = None
        if len(self.classes_) > 1:
            self.classifier_ = clone(self.classifier) if self.classifier is not None \
                else default_classifier()
            self.classifier_.fit(X[kept], cells[kept])
        return self

    def _fit_each(self, X, gps):
        if not self.partition:
            raise ValueError("partition is an empty list; give at least one partition")
        self.estimators_ = [clone(self).set_params(partition=p).fit(X, gps)
                            for p in self.partition]
        finest = max(self.estimators_, key=lambda e: len(e.classes_))
        for name in ("partition_", "classes_", "locations_", "classifier_"):
            setattr(self, name, getattr(finest, name))
        return self

    def predict_each(self, X):
        """Every partition's prediction (Vo et al.'s "Multi" outputs), shape (n_partitions, n, 2).

        One partition: ``predict(X)[None]``.
        """
        check_is_fitted(self, "classes_")
        models = self.estimators_ or [self]
        return np.stack([m.predict(X) for m in models])

    def transform(self, X):
        """The representation the classifiers learned: centred log cell probabilities.

        Each partition's ``log predict_proba`` (floored at 1e-12) minus its
        row mean -- for logistic regression exactly the centred decision
        function -- concatenated over the partitions.  Retrieval on it is
        Vo et al.'s classification-trained retrieval
        (:class:`dgae.ClassificationRetrieval`).

        Returns
        -------
        Z : ndarray of shape (n, total classes over the partitions), float32
        """
        check_is_fitted(self, "classes_")
        blocks = []
        for m in self.estimators_ or [self]:
            logp = np.log(np.maximum(m.predict_proba(X), 1e-12))
            blocks.append(logp - logp.mean(axis=1, keepdims=True))
        return np.hstack(blocks).astype(np.float32)

    def predict_proba(self, X):
        """Probability of each cell of ``classes_``, shape (n, n_classes)."""
        check_is_fitted(self, "classes_")
        X = self._check_X(X, reset=False)
        if self.classifier_ is None:
            return np.ones((len(X), 1))
        proba = self.classifier_.predict_proba(X)
        # the classifier's own class order -> ours
        order = np.searchsorted(self.classes_, self.classifier_.classes_)
        out = np.zeros((len(X), len(self.classes_)))
        out[:, order] = proba
        return out

    def predict(self, X):
        """The point (``label_location``) of the likeliest cell, shape (n, 2) ``[lat, lon]``."""
        proba = self.predict_proba(X)
        return self.locations_[np.argmax(proba, axis=1)]

    def predict_topk(self, X, k=5):
        """Points of the ``k`` likeliest cells, likeliest first, shape (n, k, 2)."""
        if not isinstance(k, Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        proba = self.predict_proba(X)
        top = np.argsort(-proba, axis=1, kind="stable")[:, :min(int(k), proba.shape[1])]
        return self.locations_[top]

