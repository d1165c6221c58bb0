"""PlaNet's adaptive S2 cells (Weyand et al.; used by Izbicki et al. to initialise MvMF).

The cell geometry comes from Google's S2 library (``s2geometry`` on PyPI);
only the parent of a leaf cell id is computed here, with the documented bit
layout of an S2 cell id (a 64-bit integer: face, then two bits per level, then
a trailing 1 bit), because doing it for every photo at every level through
per-object calls would take minutes where NumPy takes milliseconds.  A test
checks it against ``S2CellId.parent``.
"""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from dgae.utils import check_gps

from ._base import PartitionMixin

#: S2's finest level.
MAX_S2_LEVEL = 30


def leaf_ids(gps):
    """S2 leaf cell id (uint64) of each ``[lat, lon]``.

    Examples
    --------
    >>> import s2geometry as s2
    >>> int(leaf_ids([[45.8, 15.9]])[0]) == s2.S2CellId(s2.S2LatLng.FromDegrees(45.8, 15.9)).id()
    True
    """
    import s2geometry as s2

    gps = np.asarray(gps, dtype=np.float64).reshape(-1, 2)
    out = np.empty(len(gps), dtype=np.uint64)
    for i, (lat, lon) in enumerate(gps):
        out[i] = s2.S2CellId(s2.S2LatLng.FromDegrees(float(lat), float(lon))).id()
    return out


def parent_ids(ids, level):
    """Ancestors at ``level`` (0..30) of S2 cell ids finer than or at that level.

    An id's lowest set bit marks its level: ``lsb = 4 ** (30 - level)``; the
    parent keeps the bits above it and sets it.

    Examples
    --------
    >>> import s2geometry as s2
    >>> cid = s2.S2CellId(s2.S2LatLng.FromDegrees(45.8, 15.9))
    >>> int(parent_ids(np.array([cid.id()], np.uint64), 5)[0]) == cid.parent(5).id()
    True
    """
    lsb = np.uint64(1) << np.uint64(2 * (MAX_S2_LEVEL - level))
    mask = ~(lsb - np.uint64(1)) ^ lsb  # clear the bits below lsb and lsb itself
    return (np.asarray(ids, dtype=np.uint64) & mask) | lsb


def id_level(ids):
    """Level of each S2 cell id (from its lowest set bit).

    Examples
    --------
    >>> id_level(parent_ids(leaf_ids([[0.0, 0.0]]), 7)).tolist()
    [7]
    """
    ids = np.asarray(ids, dtype=np.uint64)
    low = ids & (~ids + np.uint64(1))  # the lowest set bit
    return (MAX_S2_LEVEL - np.log2(low.astype(np.float64)).round().astype(np.int64) // 2)


class S2Cells(PartitionMixin, BaseEstimator):
    """Adaptive S2 cells: split while a cell holds too many photos, drop the sparse ones.

    PlaNet's partition (Weyand et al. 2016, §3): start from the six S2 face
    cells; split a cell into its four children while it holds more than
    ``max_per_cell`` photos and is coarser than ``max_level`` (duplicate
    coordinates would otherwise split forever); keep the leaves with at least
    ``min_per_cell`` photos (the others, and their photos, are dropped).

    Parameters
    ----------
    max_per_cell : int, default=5000
        PlaNet's t_max.
    min_per_cell : int, default=50
        PlaNet's t_min.
    max_level : int, default=30
        Finest level a cell may reach (S2 levels 0..30).

    Attributes
    ----------
    cell_ids_ : ndarray of shape (n_cells,), uint64
        S2 cell ids of the kept cells, ascending.
    levels_ : ndarray of shape (n_cells,), int64
    counts_ : ndarray of shape (n_cells,), int64
        Training photos per cell.
    centers_ : ndarray of shape (n_cells, 2)
        Geometric centre of each cell (``[lat, lon]``, S2's cell centre).
    imagery_centroids_ : ndarray of shape (n_cells, 2)
        Spherical mean of each cell's training photos.
    n_cells_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> gps = np.vstack([rng.normal([45, 16], 0.1, (300, 2)), rng.normal([35, 139], 0.1, (40, 2))])
    >>> cells = S2Cells(max_per_cell=100, min_per_cell=30).fit(gps)
    >>> int(cells.counts_.sum()) <= 340, bool((cells.counts_ <= 100).all())
    (True, True)
    >>> cells.predict([[45, 16], [-40, -70]]).tolist()[1]
    -1
    """

    _parameter_constraints = {
        "max_per_cell": [Interval(Integral, 1, None, closed="left")],
        "min_per_cell": [Interval(Integral, 1, None, closed="left")],
        "max_level": [Interval(Integral, 0, MAX_S2_LEVEL, closed="both")],
    }

    def __init__(self, max_per_cell=5000, min_per_cell=50, max_level=MAX_S2_LEVEL):
        self.max_per_cell = max_per_cell
        self.min_per_cell = min_per_cell
        self.max_level = max_level

    def fit(self, gps, y=None):
        """Build the partition of ``gps`` (shape (n, 2), ``[lat, lon]`` degrees).

        Returns
        -------
        self : S2Cells
        """
        self._validate_params()
        gps = check_gps(gps)
        leaves = leaf_ids(gps)
        active = np.arange(len(gps))
        kept_ids, kept_levels = [], []
        for level in range(self.max_level + 1):
            if not active.size:
                break
            ids = parent_ids(leaves[active], level)
            cells, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
            split = counts > self.max_per_cell if level < self.max_level else np.zeros_like(counts, bool)
            keep = ~split & (counts >= self.min_per_cell)
            kept_ids.append(cells[keep])
            kept_levels.append(np.full(int(keep.sum()), level))
            active = active[split[inverse]]
        order = np.argsort(np.concatenate(kept_ids))
        self.cell_ids_ = np.concatenate(kept_ids)[order]
        self.levels_ = np.concatenate(kept_levels).astype(np.int64)[order]
        self._finish(gps, leaves)
        return self

    @classmethod
    def from_table(cls, path):
        """A published partition: a CSV with ``hex_id`` (S2 token), ``imgs_per_cell`` and
        ``latitude_mean`` / ``longitude_mean`` columns (PlaNet-style tables; preamble lines
        before the header are skipped).

        Returns
        -------
        cells : S2Cells
            Fitted: ``counts_`` and ``imagery_centroids_`` are the table's.
        """
        import s2geometry as s2

        from dgae.utils import read_table

        _, rows = read_table(path, required=("hex_id", "imgs_per_cell", "latitude_mean",
                                             "longitude_mean"), header_marker="hex_id")
        ids = np.array([s2.S2CellId.FromToken(r["hex_id"]).id() for r in rows], dtype=np.uint64)
        order = np.argsort(ids)
        cells = cls()
        cells.cell_ids_ = ids[order]
        cells.levels_ = id_level(cells.cell_ids_)
        cells.counts_ = np.array([int(r["imgs_per_cell"]) for r in rows], dtype=np.int64)[order]
        cells.imagery_centroids_ = check_gps(
            [(float(r["latitude_mean"]), float(r["longitude_mean"])) for r in rows])[order]
        cells.centers_ = _cell_centers(cells.cell_ids_)
        cells.n_cells_ = len(ids)
        return cells

    def _assign_ids(self, leaves):
        """Index into ``cell_ids_`` of each leaf id's kept ancestor, -1 if none."""
        out = np.full(len(leaves), -1, dtype=np.int64)
        for level in np.unique(self.levels_):
            ids = parent_ids(leaves, int(level))
            pos = np.searchsorted(self.cell_ids_, ids)
            pos = np.minimum(pos, len(self.cell_ids_) - 1)
            hit = (self.cell_ids_[pos] == ids) & (self.levels_[pos] == level)
            out[hit] = pos[hit]
        return out

    def _assign(self, gps):
        return self._assign_ids(leaf_ids(gps))

    def _outlines(self):
        import s2geometry as s2

        out = []
        for cid in self.cell_ids_:
            cell = s2.S2Cell(s2.S2CellId(int(cid)))
            ll = [s2.S2LatLng(cell.GetVertex(k)) for k in (0, 1, 2, 3, 0)]
            out.append(np.array([[p.lat().degrees(), p.lng().degrees()] for p in ll]))
        return out

    def _finish(self, gps, leaves):
        labels = self._assign_ids(leaves)
        self.n_cells_ = len(self.cell_ids_)
        self.counts_ = np.bincount(labels[labels >= 0], minlength=self.n_cells_).astype(np.int64)
        self.centers_ = _cell_centers(self.cell_ids_)
        self.imagery_centroids_ = self._imagery_centroids(gps, labels)


def _cell_centers(ids):
    import s2geometry as s2

    out = np.empty((len(ids), 2))
    for i, cid in enumerate(ids):
        ll = s2.S2LatLng(s2.S2Cell(s2.S2CellId(int(cid))).GetCenter())
        out[i] = ll.lat().degrees(), ll.lng().degrees()
    return out
