"""Vo et al.'s latitude / longitude cells (§3.1 of "Revisiting IM2GPS in the Deep Learning Era")."""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from dgae.utils import EARTH_RADIUS_KM, check_gps

from ._base import PartitionMixin


def box_area_km2(box):
    """Area of ``[lat0, lat1, lon0, lon1]`` boxes (degrees) on the sphere, km².

    Examples
    --------
    >>> round(float(box_area_km2(np.array([-90.0, 90.0, -180.0, 180.0]))) / 1e6, 1)  # the globe
    510.1
    """
    box = np.asarray(box, dtype=np.float64)
    lat0, lat1, lon0, lon1 = np.radians(box.T)
    return EARTH_RADIUS_KM ** 2 * (lon1 - lon0) * (np.sin(lat1) - np.sin(lat0))


class LatLonCells(PartitionMixin, BaseEstimator):
    """Split the world box along its longer side until a cell is small enough.

    Vo et al. (2017), §3.1: one cell of the whole world; a cell is split in
    two, along latitude or longitude, whichever side is longer (in km, at
    the cell's mid-latitude), while it holds more than ``max_per_cell``
    photos (their t_img) and its area is at least ``min_area_km2`` (their
    t_area).  Every cell with a photo is kept (empty ones are dropped).  A cell
    whose photos all share one coordinate is not split (no split could
    separate them).

    Parameters
    ----------
    max_per_cell : int, default=5000
    min_area_km2 : float, default=1.0

    Attributes
    ----------
    boxes_ : ndarray of shape (n_cells, 4)
        ``[lat0, lat1, lon0, lon1]`` of each cell (half-open: ``lat0 <= lat < lat1``;
        the north pole and lon = 180 belong to the last cells).
    counts_, centers_, imagery_centroids_, n_cells_
        As for :class:`S2Cells`; the centre is the box's centre.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> gps = np.vstack([rng.normal([45, 16], 1, (400, 2)), [[-30.0, 140.0]]])
    >>> cells = LatLonCells(max_per_cell=100).fit(gps)
    >>> bool((cells.counts_ <= 100).all()), int(cells.counts_.sum())
    (True, 401)
    """

    _parameter_constraints = {
        "max_per_cell": [Interval(Integral, 1, None, closed="left")],
        "min_area_km2": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, max_per_cell=5000, min_area_km2=1.0):
        self.max_per_cell = max_per_cell
        self.min_area_km2 = min_area_km2

    def fit(self, gps, y=None):
        """Build the partition of ``gps`` (shape (n, 2), ``[lat, lon]`` degrees).

        Returns
        -------
        self : LatLonCells
        """
        self._validate_params()
        gps = check_gps(gps)
        todo = [(np.array([-90.0, 90.0, -180.0, 180.0]), np.arange(len(gps)))]
        boxes = []
        while todo:
            box, members = todo.pop()
            if not members.size:
                continue
            pts = gps[members]
            same = (pts == pts[0]).all()  # duplicates: no split can separate them
            if members.size <= self.max_per_cell or box_area_km2(box) < self.min_area_km2 or same:
                boxes.append(box)
                continue
            lat0, lat1, lon0, lon1 = box
            tall = (lat1 - lat0) >= (lon1 - lon0) * np.cos(np.radians((lat0 + lat1) / 2))
            axis, lo, hi = (0, lat0, lat1) if tall else (1, lon0, lon1)
            mid = (lo + hi) / 2
            low = pts[:, axis] < mid
            first, second = box.copy(), box.copy()
            first[2 * axis + 1], second[2 * axis] = mid, mid
            todo += [(second, members[~low]), (first, members[low])]
        self.boxes_ = np.array(boxes).reshape(-1, 4)
        self.n_cells_ = len(self.boxes_)
        self.centers_ = np.column_stack([self.boxes_[:, :2].mean(1), self.boxes_[:, 2:].mean(1)])
        labels = self._assign(gps)
        self.counts_ = np.bincount(labels[labels >= 0], minlength=self.n_cells_).astype(np.int64)
        self.imagery_centroids_ = self._imagery_centroids(gps, labels)
        return self

    def _assign(self, gps):
        lat, lon = gps[:, 0][:, None], gps[:, 1][:, None]
        b = self.boxes_
        inside = ((lat >= b[:, 0]) & ((lat < b[:, 1]) | (b[:, 1] == 90.0))
                  & (lon >= b[:, 2]) & ((lon < b[:, 3]) | (b[:, 3] == 180.0)))
        return np.where(inside.any(axis=1), inside.argmax(axis=1), -1).astype(np.int64)

    def _outlines(self):
        return [np.array([[a, c], [a, d], [b, d], [b, c], [a, c]]) for a, b, c, d in self.boxes_]
