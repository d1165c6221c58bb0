"""POI mining and the geo-constraint pair graphs P and Q (installed as ``dgae.graphs``).

- :class:`POIMiner`: mean-shift POIs on GPS (scikit-learn semantics, fast);
  :func:`auto_poi_bandwidth_km` picks its bandwidth for a gallery.
- :func:`same_area_pairs`: graph P (top-k1 visual neighbours inside the POI).
- :func:`easy_confusing_pairs`: graph Q (top-k2 visual neighbours in other
  POIs; exact, anchor (fDGAE) or ANN).
- :func:`build_geo_graphs`: all three in one call; :func:`extend_geo_graphs`: their rows for
  new photos (``DGAE.partial_fit``).
- :func:`nearest_neighbors`: the exact blocked k-NN primitive under them.
- :class:`IVFIndex`: approximate k-NN by an inverted file (``GeoKNN(index="ivf")``).
- :class:`FaissIndex`: faiss flat / IVF-Flat / IVF-PQ / HNSW (``GeoKNN(index="faiss")``).
- :class:`ShardedIndex`: the gallery's rows spread over a Dask cluster's workers, merged exactly.
"""
from dgae.utils import nearest_neighbors

from ._build import REGION_WEIGHT, build_geo_graphs, extend_geo_graphs
from ._faiss import FAISS_KINDS, FaissIndex
from ._ivf import IVFIndex
from ._pairs import easy_confusing_pairs, same_area_pairs
from ._poi import PAPER_POI_BANDWIDTH_KM, POIMiner, auto_poi_bandwidth_km
from ._sharded import ShardedIndex
from ._tables import exact_q_table

__all__ = ["FAISS_KINDS", "FaissIndex", "IVFIndex", "PAPER_POI_BANDWIDTH_KM", "REGION_WEIGHT",
           "POIMiner", "auto_poi_bandwidth_km", "build_geo_graphs", "easy_confusing_pairs", "extend_geo_graphs",
           "nearest_neighbors", "same_area_pairs", "ShardedIndex", "exact_q_table"]
