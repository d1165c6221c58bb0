"""POI mining: flat-kernel mean-shift on GPS coordinates (DGAE §4.2)."""
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from dgae.utils import (TreeNeighbors, bin_seeds, check_gps, degrees_to_km, from_unit_vectors,
                        gallery_extent_km, great_circle_km, km_to_chord, mean_shift,
                        to_unit_vectors)



class POIMiner(ClusterMixin, BaseEstimator):
    """Points of interest by flat-kernel mean-shift on GPS coordinates.

    The paper's POI mining (§4.2, bandwidth 0.005° in §6.5.1: 0.556 km), computed on unit
    vectors with the chord equivalent of the bandwidth, so it is right across
    the ±180° meridian and at the poles.  The algorithm is scikit-learn's
    :class:`~sklearn.cluster.MeanShift` with ``bin_seeding=True,
    cluster_all=True`` (same seeds, convergence test, duplicate removal and
    nearest-centre labels) run on those unit vectors, but with every seed
    moved at once by KD-tree queries, which makes it orders of magnitude
    faster.

    Parameters
    ----------
    bandwidth_km : float, default=PAPER_POI_BANDWIDTH_KM
        Kernel radius as a great-circle distance in km (default: the paper's 0.005° of arc,
        0.556 km).
    min_bin_freq : int, default=1
        Only seed-grid bins with at least this many points become seeds.
    n_jobs : int, optional
        Areas clustered in parallel (joblib) and threads of the final
        nearest-centre query; None means 1.
    max_iter : int, default=300
        Mean-shift iterations per seed at most.

    Attributes
    ----------
    labels_ : ndarray of shape (n,)
        POI of each photo.
    cluster_centers_ : ndarray of shape (n_clusters, 2)
        POI centres, ``[lat, lon]`` degrees.
    cluster_centers_xyz_ : ndarray of shape (n_clusters, 3)
        The same centres as mean-shift found them in 3-D (means of unit
        vectors, norm slightly below 1); labels are nearest-centre in this space.
    n_clusters_ : int
    cluster_sizes_ : ndarray of shape (n_clusters,)
        Photos per POI.
    cluster_areas_ : ndarray of shape (n_clusters,) or None
        Area of each POI when ``fit`` got ``areas``.
    bandwidth_km_ : float
        The bandwidth used, km.
    bandwidth_chord_ : float
        Bandwidth as a chord length on the unit sphere.
    n_iter_ : int
        Most iterations any seed ran.

    Examples
    --------
    >>> import numpy as np
    >>> gps = np.array([[48.8584, 2.2945], [48.8585, 2.2946], [40.6892, -74.0445]])
    >>> miner = POIMiner(bandwidth_km=0.5).fit(gps)
    >>> miner.labels_.tolist(), miner.n_clusters_
    ([0, 0, 1], 2)
    >>> miner.predict([[40.6893, -74.0444], [0.0, 0.0]]).tolist()
    [1, 0]
    >>> _, dist = miner.predict([[0.0, 0.0]], return_distance=True)
    >>> bool(dist[0] > miner.bandwidth_km_)  # farther than a bandwidth: no POI covers it
    True
    """

    _parameter_constraints = {
        "bandwidth_km": [Interval(Real, 0, None, closed="neither"), None],
        "min_bin_freq": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, bandwidth_km=None, min_bin_freq=1, n_jobs=None, max_iter=300):
        self.bandwidth_km = bandwidth_km
        self.min_bin_freq = min_bin_freq
        self.n_jobs = n_jobs
        self.max_iter = max_iter

    def _chord(self):
        return float(km_to_chord(self._bandwidth_km()))

    def _bandwidth_km(self):
        return PAPER_POI_BANDWIDTH_KM if self.bandwidth_km is None else float(self.bandwidth_km)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, areas=None):
        """Mine POIs from ``[lat, lon]`` coordinates.

        Parameters
        ----------
        X : array-like of shape (n, 2)
            Latitude and longitude in degrees.
        y : ignored
        areas : array-like of shape (n,), optional
            Area of each photo (any labels); each area is clustered on its own
            and POI ids run over areas in sorted area order.

        Returns
        -------
        self : POIMiner
        """
        if sp.issparse(X):
            raise TypeError("POIMiner needs dense [lat, lon] coordinates; sparse input is not supported")
        gps = check_gps(X, "gps")
        self.n_features_in_ = 2
        xyz = to_unit_vectors(gps)
        bw = self._chord()
        parts, area_names = _split_areas(areas, len(gps))
        workers = 1 if self.n_jobs is None else self.n_jobs
        jobs = 1 if len(parts) == 1 else self.n_jobs
        results = Parallel(n_jobs=jobs, prefer="threads")(
            delayed(_mine_area)(xyz[idx], bw, self.min_bin_freq, self.max_iter, workers, name)
            for idx, name in zip(parts, area_names))
        labels = np.empty(len(gps), dtype=np.int64)
        centers, offset = [], 0
        for idx, (c, lab, _) in zip(parts, results):
            labels[idx] = lab + offset
            centers.append(c)
            offset += len(c)
        self.cluster_centers_xyz_ = np.concatenate(centers)
        self.cluster_centers_ = from_unit_vectors(self.cluster_centers_xyz_)
        self.labels_ = labels
        self.n_clusters_ = offset
        self.cluster_sizes_ = np.bincount(labels, minlength=offset)
        self.cluster_areas_ = None
        if areas is not None:
            self.cluster_areas_ = np.repeat(np.asarray(area_names), [len(c) for c in centers])
        self.bandwidth_km_ = self._bandwidth_km()
        self.bandwidth_chord_ = bw
        self.n_iter_ = max(r[2] for r in results)
        return self

    def predict(self, X, areas=None, return_distance=False):
        """POI of new coordinates: the nearest centre (scikit-learn's ``MeanShift.predict``).

        Parameters
        ----------
        X : array-like of shape (m, 2)
            ``[lat, lon]`` degrees.
        areas : array-like of shape (m,), optional
            Only POIs of the same area are candidates (needs a fit with
            ``areas``); a point of an area unseen in ``fit`` gets label -1
            and distance inf.
        return_distance : bool, default=False
            Also return the great-circle distance to that POI's centre in km.
            A distance above ``bandwidth_km`` means no
            POI's kernel covers the point: treat it as a new POI.

        Returns
        -------
        labels : ndarray of shape (m,), int64
        distances : ndarray of shape (m,), float64
            Only when ``return_distance``.
        """
        check_is_fitted(self)
        gps = check_gps(X, "gps")
        xyz = to_unit_vectors(gps)
        labels = np.full(len(gps), -1, dtype=np.int64)
        if areas is None:
            labels[:] = self._nearest(xyz, np.arange(self.n_clusters_))
        else:
            if self.cluster_areas_ is None:
                raise ValueError("predict(areas=...) needs a POIMiner fitted with areas")
            parts, names = _split_areas(areas, len(gps))
            for idx, name in zip(parts, names):
                cand = np.flatnonzero(self.cluster_areas_ == name)
                if cand.size:
                    labels[idx] = self._nearest(xyz[idx], cand)
        if not return_distance:
            return labels
        dist = np.full(len(gps), np.inf)
        ok = labels >= 0
        dist[ok] = great_circle_km(gps[ok], self.cluster_centers_[labels[ok]])
        return labels, dist

    def _nearest(self, xyz, candidates):
        tree = cKDTree(self.cluster_centers_xyz_[candidates])
        _, idx = tree.query(xyz, k=1, workers=1 if self.n_jobs is None else self.n_jobs)
        return candidates[idx]


def _split_areas(areas, n):
    """Row indices per area (sorted area order) and the area names."""
    if areas is None:
        return [np.arange(n)], [None]
    areas = np.asarray(areas)
    if areas.ndim != 1 or areas.shape[0] != n:
        raise ValueError(f"areas must have shape ({n},), got {areas.shape}")
    names, inv = np.unique(areas, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.cumsum(np.bincount(inv, minlength=len(names)))[:-1]
    return np.split(order, bounds), list(names)


def _mine_area(xyz, bw, min_bin_freq, max_iter, workers, name):
    """Mean-shift one area's unit vectors: ``(centres xyz, labels, n_iter)``."""
    seeds = bin_seeds(xyz, bw, min_bin_freq)
    if len(seeds) == 0:
        where = "" if name is None else f" of area {name!r}"
        raise ValueError(f"no seed-grid bin{where} holds min_bin_freq={min_bin_freq} points; "
                         "lower min_bin_freq or raise the bandwidth")
    backend = TreeNeighbors(xyz, bw, workers)
    centers, labels, n_iter, _ = mean_shift(backend, seeds, bw, max_iter)
    return centers, labels, n_iter


#: The paper's POI bandwidth (§6.5.1), 0.005 degrees of arc, in km (0.556 km).
PAPER_POI_BANDWIDTH_KM = float(degrees_to_km(0.005))
#: ``auto_poi_bandwidth_km`` never goes above this fraction of the gallery's extent.
_EXTENT_FRACTION = 1 / 50


def auto_poi_bandwidth_km(gps):
    """POI bandwidth for a gallery, km: the paper's 0.005° (0.556 km), shrunk for a small extent.

    The paper's bandwidth suits city-to-world collections; on a one-city set a few km across
    it lumps everything into a handful of POIs.  The rule: ``min(0.556, extent / 50)`` km, where
    the extent is the median great-circle distance of the photos to their spherical mean.
    Croatia (450 km) and world-wide sets get the paper's value; a set 2 km across gets about
    20 m.

    Parameters
    ----------
    gps : array-like of shape (n, 2)

    Returns
    -------
    bandwidth_km : float
        Km of arc (> 0).

    Examples
    --------
    >>> import numpy as np
    >>> round(auto_poi_bandwidth_km([[45.0, 15.0], [46.0, 16.0], [44.0, 14.0]]), 3)
    0.556
    >>> bw = auto_poi_bandwidth_km(np.array([[48.85, 2.35], [48.86, 2.36], [48.851, 2.352]]))
    >>> bool(bw < 0.1)
    True
    """
    bw = min(PAPER_POI_BANDWIDTH_KM, gallery_extent_km(gps) * _EXTENT_FRACTION)
    return float(bw) if bw > 0 else PAPER_POI_BANDWIDTH_KM
