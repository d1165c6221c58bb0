"""What every package of dgae stands on: ``dgae.features``, ``dgae.graphs``, ``dgae.cells`` and
the estimators import these and nothing else of the base.

- geodesy on a spherical earth (float64): :func:`great_circle_km`, unit vectors,
  :func:`check_gps`, :func:`spherical_mean` (:func:`unit_mean` per group),
  :func:`gallery_extent_km`, distance conversions;
- the array backend (NumPy or CuPy, imported lazily): :func:`resolve_device`, :func:`get_xp`,
  :func:`array_module`, :func:`to_device`, :func:`to_host`;
- input checks: :func:`check_features`, :func:`check_labels`, :func:`check_k`,
  :func:`check_gps_rows`;
- progress bars and warnings that name the user's line: :func:`progress`, :func:`say`,
  :func:`warn`;
- CSV tables: :func:`read_table` and its helpers; optional packages: :func:`require`;
- the exact k-NN engine (blocked GEMM tiles, masks for labels, the row itself and a distance
  floor): :func:`nearest_neighbors`, :func:`knn_search`, :class:`PairMask`, :class:`QFloor`,
  :func:`first_kept`, :func:`search_centre`;
- the batched flat-kernel mean-shift engine under POI mining and the visual anchors:
  :func:`mean_shift`, :func:`bin_seeds`, :class:`TreeNeighbors`, :class:`DenseNeighbors`; and
  for many small sets at once (the Mean-Shift head), :func:`batched_mean_shift`.

Examples
--------
>>> from dgae.utils import great_circle_km
>>> round(float(great_circle_km([0.0, 0.0], [0.0, 1.0])), 1)
111.2
"""
from ._backend import (DEVICES, array_module, get_xp, gpu_available, resolve_device, to_device,
                       to_host)
from ._csv import comma_floats, comma_ints, conflicting_rows, read_table
from ._geo import (EARTH_RADIUS_KM, check_gps, deg_to_chord, from_unit_vectors, gallery_extent_km,
                   great_circle_km, km_to_chord, km_to_degrees, degrees_to_km, spherical_mean, to_unit_vectors,
                   unit_mean, wrap_longitude)
from ._meanshift import (DenseNeighbors, TreeNeighbors, batched_mean_shift, bin_seeds,
                         mean_shift)
from ._optional import require
from ._progress import progress, say, warn
from ._search import (PairMask, QFloor, first_kept, knn_search, nearest_neighbors, neighbors_to_csr,
                      search_centre)
from ._validation import check_features, check_gps_rows, check_k, check_labels

__all__ = [
    "DEVICES", "EARTH_RADIUS_KM", "DenseNeighbors", "PairMask", "QFloor", "TreeNeighbors",
    "array_module", "batched_mean_shift", "bin_seeds", "check_features", "check_gps",
    "check_gps_rows", "check_k",
    "check_labels", "comma_floats", "comma_ints", "conflicting_rows", "deg_to_chord", "first_kept",
    "from_unit_vectors", "gallery_extent_km", "get_xp", "gpu_available", "great_circle_km",
    "km_to_chord", "km_to_degrees", "degrees_to_km", "knn_search", "mean_shift", "nearest_neighbors",
    "neighbors_to_csr", "progress", "read_table", "require", "resolve_device", "say",
    "search_centre", "spherical_mean",
    "to_device", "to_host", "to_unit_vectors", "unit_mean", "warn", "wrap_longitude",
]
