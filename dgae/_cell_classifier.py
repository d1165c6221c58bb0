"""Geolocation as classification over a partition of the globe (PlaNet; Vo et al.; the mesh paper's M1)."""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._knn import GeoRegressorMixin, check_targets

#: The stated rule for the default partition: about this many photos per cell
#: (S2 cells split above twice that, dropped under a fifth of it).
PHOTOS_PER_CELL = 25


def default_partition():
    """``S2Cells(max_per_cell=2 * PHOTOS_PER_CELL, min_per_cell=PHOTOS_PER_CELL // 5)``.

    One rule for every gallery, not tuned per set: a cell is split while it
    holds more than 50 photos and dropped under 5, so a gallery of n photos
    gets on the order of n / 25 cells.

    Examples
    --------
    >>> default_partition().get_params()["max_per_cell"]
    50
    """
    from dgae.cells import S2Cells

    return S2Cells(max_per_cell=2 * PHOTOS_PER_CELL, min_per_cell=PHOTOS_PER_CELL // 5)


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


class CellClassifier(GeoRegressorMixin, BaseEstimator):
    """Features -> probabilities of the cells of a partition; the location of the likeliest cell.

    The partition (``dgae.cells``) is fitted on the training photos' GPS;
    photos outside every kept cell are left out; any scikit-learn classifier
    learns the cell of each photo from its features.

    Parameters
    ----------
    partition : a dgae.cells partition or None, default=None
        Unfitted (it is cloned and fitted on the training GPS).  None:
        :func:`default_partition` (S2 cells, about 25 photos each).
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
        "partition": [None, HasMethods(["fit", "predict"])],
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
        self._validate_params()
        X = self._check_X(X, reset=True)
        gps = check_targets(y, len(X))
        self.partition_ = clone(self.partition) if self.partition is not None else default_partition()
        cells = self.partition_.fit(gps).predict(gps)
        kept = cells >= 0
        if not kept.any():
            raise ValueError(f"the partition kept no cell of the {len(X)} training photos "
                             f"({self.partition_!r}); lower its minimum photos per cell")
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

