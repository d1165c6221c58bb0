"""What every partition of the globe shares: assignment, centroids, the plot."""
import numpy as np
from sklearn.utils.validation import check_is_fitted

from dgae.utils import check_gps, from_unit_vectors, to_unit_vectors


class PartitionMixin:
    """``predict``, the imagery centroids and ``plot`` for a partition.

    Subclasses set ``n_cells_``, ``centers_`` and ``imagery_centroids_`` in
    ``fit`` and provide ``_assign(gps) -> cell index or -1`` and
    ``_outlines() -> list of (m, 2) [lat, lon] polygons``.
    """

    def predict(self, gps):
        """Cell of each ``[lat, lon]``: an index into the cell arrays, -1 outside every kept cell.

        Parameters
        ----------
        gps : array-like of shape (n, 2)

        Returns
        -------
        cells : ndarray of shape (n,), int64
        """
        check_is_fitted(self, "n_cells_")
        return self._assign(check_gps(gps))

    def _imagery_centroids(self, gps, labels):
        """Spherical mean of each cell's photos (the cell centre where it has none)."""
        inside = labels >= 0
        sums = np.zeros((self.n_cells_, 3))
        np.add.at(sums, labels[inside], to_unit_vectors(gps[inside]))
        empty = np.linalg.norm(sums, axis=1) == 0
        out = self.centers_.copy()
        out[~empty] = from_unit_vectors(sums[~empty])
        return out

    def plot(self, gps=None, ax=None, max_outlines=5000):
        """The cells' outlines over the density of ``gps`` (longitude / latitude axes).

        Parameters
        ----------
        gps : array-like of shape (n, 2), optional
            Photos whose density is drawn underneath (a 2-D histogram).
        ax : matplotlib Axes, optional
        max_outlines : int, default=5000
            Outlines drawn at most (the rest are skipped).

        Returns
        -------
        ax : matplotlib Axes
        """
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection
        from matplotlib.colors import LogNorm

        check_is_fitted(self, "n_cells_")
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4.5))
        if gps is not None:
            g = check_gps(gps)
            ax.hist2d(g[:, 1], g[:, 0], bins=(360, 180), range=((-180, 180), (-90, 90)),
                      norm=LogNorm(), cmap="Greys")
        lines = [poly[:, ::-1] for poly in self._outlines()[:max_outlines]]
        ax.add_collection(LineCollection(lines, colors="tab:blue", linewidths=0.4))
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        ax.set_title(f"{type(self).__name__}: {self.n_cells_} cells")
        return ax
