"""Partitions of the globe into cells (``dgae.cells``): the output spaces of cell classification.

Each partition is fitted on photo coordinates (``fit(gps)``) and assigns
coordinates to cells (``predict(gps)`` -> cell index, -1 outside every kept
cell), with each cell's geometric centre (``centers_``) and the spherical
mean of its training photos (``imagery_centroids_``, the mesh paper's "centre
of mass"), ``counts_``, ``n_cells_`` and ``plot(gps)``.

* :class:`S2Cells` -- PlaNet's adaptive S2 cells (``S2Cells.from_table`` loads
  a published partition);
* :class:`LatLonCells` -- Vo et al.'s latitude / longitude splits;
* :class:`DelaunayMesh` -- the mesh paper's adaptive spherical triangles
  (``DelaunayMesh.preset("coarse" | "fine" | "fineP", n_photos)``).

This package may import only dgae's base modules (geodesy, array backend,
validation, progress, tables).
"""
from ._delaunay import DelaunayMesh
from ._latlon import LatLonCells
from ._s2 import S2Cells

__all__ = ["S2Cells", "LatLonCells", "DelaunayMesh"]
