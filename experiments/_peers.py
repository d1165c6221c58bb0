"""The linear metric-learning peers of DGAE: PCA + LDA and PCA + NCA on mined POIs.

The simplest thing a user could do with the same geotags: mine POIs with the
same mean-shift (:class:`dgae.graphs.POIMiner`), whiten the features with
PCA, and learn a linear map that separates the POIs — in closed form
(scikit-learn's :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis`)
or by stochastic nearest-neighbour training
(:class:`~sklearn.neighbors.NeighborhoodComponentsAnalysis`).  Retrieval then
runs on the mapped features, as for every other row.
"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import NeighborhoodComponentsAnalysis


class LinearPeer(TransformerMixin, BaseEstimator):
    """PCA(whiten) then LDA or NCA on the gallery's POI labels, scikit-learn's defaults.

    (NCA then starts from the identity on the whitened components and runs 50
    iterations.  Started from LDA's solution instead, it does not move on these
    galleries: LDA already separates the training POIs perfectly.)

    Parameters
    ----------
    method : {"lda", "nca"}, default="lda"
    n_components : int, default=256
        PCA components (at most ``n_samples - 1`` and ``n_features``).
    max_samples : int, default=5000
        NCA only: its cost grows as ``n^2``, so larger galleries are fitted on
        a random subsample of this many photos (all are transformed).
    random_state : int, default=0

    Attributes
    ----------
    pca_, model_ : the fitted steps
    poi_labels_ : ndarray of shape (n,)
    n_fit_samples_ : int
        Photos the LDA / NCA step saw.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> gps = np.repeat([[45.0, 15.0], [40.0, 10.0], [30.0, 5.0]], 10, axis=0)
    >>> X = rng.normal(size=(30, 8)) + np.repeat(np.eye(3, 8) * 3, 10, axis=0)
    >>> LinearPeer("lda").fit(X, gps).transform(X).shape
    (30, 2)
    """

    def __init__(self, method="lda", n_components=256, max_samples=5000, random_state=0):
        self.method = method
        self.n_components = n_components
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X, y, areas=None):
        from dgae.graphs import POIMiner, auto_poi_bandwidth_km

        X = np.asarray(X, dtype=np.float64)
        labels = POIMiner(bandwidth_km=auto_poi_bandwidth_km(y)).fit(y, areas=areas).labels_
        n_comp = min(self.n_components, X.shape[0] - 1, X.shape[1])
        self.pca_ = PCA(n_comp, whiten=True, random_state=self.random_state).fit(X)
        Z = self.pca_.transform(X)
        rows = np.arange(len(Z))
        if self.method == "nca" and len(Z) > self.max_samples:
            rows = np.sort(np.random.default_rng(self.random_state).choice(
                len(Z), self.max_samples, replace=False))
        if self.method == "lda":
            self.model_ = LinearDiscriminantAnalysis()
        elif self.method == "nca":
            self.model_ = NeighborhoodComponentsAnalysis(random_state=self.random_state)
        else:
            raise ValueError(f"method must be 'lda' or 'nca', got {self.method!r}")
        self.model_.fit(Z[rows], labels[rows])
        self.poi_labels_, self.n_fit_samples_ = labels, rows.size
        return self

    def transform(self, X):
        return self.model_.transform(self.pca_.transform(np.asarray(X, dtype=np.float64))).astype(np.float32)


class ChanceBaseline(BaseEstimator):
    """A random gallery photo's location for every query (the table's floor).

    Examples
    --------
    >>> gps = np.array([[45.0, 15.0], [40.0, 10.0]])
    >>> ChanceBaseline(random_state=0).fit(np.zeros((2, 1)), gps).predict(np.zeros((3, 1))).shape
    (3, 2)
    """

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        self.gallery_gps_ = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, X):
        rng = np.random.default_rng(self.random_state)
        return self.gallery_gps_[rng.integers(0, len(self.gallery_gps_), len(X))]


class GalleryMeanBaseline(BaseEstimator):
    """The spherical mean of the gallery's GPS for every query: what a user gets with no pixels.

    Examples
    --------
    >>> gps = np.array([[0.0, 10.0], [0.0, 20.0]])
    >>> GalleryMeanBaseline().fit(np.zeros((2, 1)), gps).predict(np.zeros((1, 1))).round(6).tolist()
    [[0.0, 15.0]]
    """

    def fit(self, X, y):
        from dgae.geo import spherical_mean

        self.mean_ = np.asarray(spherical_mean(np.asarray(y, dtype=np.float64)))
        return self

    def predict(self, X):
        return np.repeat(self.mean_[None, :], len(X), axis=0)


#: The direct-predictor rows every comparison table carries (names as printed).
PEER_ROWS = ("Gallery mean", "LF Mean-Shift", "LF KDE", "LF auto", "S2 cells", "S2 cells (centre)", "Lat-lon cells",
             "Lat-lon cells (centre)", "Delaunay cells", "Delaunay cells (centre)",
             "Cls retrieval", "Cls retrieval top-5", "MvMF", "Chance")


def peer_row(name, seed):
    """The estimator of one of :data:`PEER_ROWS`.

    Cells follow ``dgae._cell_classifier.default_partition``'s one size rule
    (about 25 photos per cell) on every gallery; "(centre)" predicts cell
    centres instead of imagery centroids; "LF auto" chooses its head on held-out places of the
    gallery (as DGAE does); "Cls retrieval" is the KDE head on
    the cell classifier's representation, "top-5" restricted to the five
    likeliest cells.

    Examples
    --------
    >>> type(peer_row("Delaunay cells", 0).partition).__name__
    'DelaunayMesh'
    """
    from dgae import CellClassifier, ClassificationRetrieval, GeoKNN, MvMFRegressor
    from dgae import default_partition

    cells = {f"{label} cells{suffix}": (kind, location)
             for kind, label in (("s2", "S2"), ("latlon", "Lat-lon"), ("delaunay", "Delaunay"))
             for suffix, location in (("", "imagery_centroid"), (" (centre)", "cell_center"))}
    if name in cells:
        kind, location = cells[name]
        return CellClassifier(partition=default_partition(kind), label_location=location)
    return {
        "LF Mean-Shift": lambda: GeoKNN(head="meanshift"),
        "LF KDE": lambda: GeoKNN(head="kde"),
        "LF auto": lambda: GeoKNN(head="auto", random_state=seed),
        "Cls retrieval": lambda: ClassificationRetrieval(),
        "Cls retrieval top-5": lambda: ClassificationRetrieval(top_cells=5),
        "MvMF": lambda: MvMFRegressor(random_state=seed),
        "Chance": lambda: ChanceBaseline(random_state=seed),
        "Gallery mean": lambda: GalleryMeanBaseline(),
    }[name]()
