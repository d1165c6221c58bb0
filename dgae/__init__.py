"""dgae: estimate where a photo was taken from its pixels.

The Deep Geo-constrained Auto-Encoder (Jiang, Kong & Fu, IEEE Trans. Big
Data) and the pieces around it: Im2GPS descriptors (:mod:`dgae.features`),
POI mining and pair graphs (:mod:`dgae.graphs`), the autoencoder and the
retrieval heads (:class:`DGAE`, :class:`GeoKNN`), geodesy
(:mod:`dgae.geo`), evaluation (:mod:`dgae.metrics`) and data loading
(:mod:`dgae.datasets`).

Heavy submodules load lazily: ``import dgae`` is cheap and
``import dgae.features`` never imports the estimator.

Examples
--------
>>> import dgae
>>> dgae.__version__
'0.1.0'
"""
import importlib

from ._source_tree import register as _register_source_tree
from ._version import __version__

_register_source_tree(__path__[0])

# public name -> private module that defines it (loaded on first access)
_LAZY = {
    "DGAE": "dgae._estimator",
    "PAPER_PARAMS": "dgae._estimator",
    "KNN_DEFAULTS": "dgae._estimator",
    "GeoKNN": "dgae._knn",
    "GeoPipeline": "dgae._pipeline",
    "DgaeVersionWarning": "dgae.base",
    "CellClassifier": "dgae._cell_classifier",
    "MvMFRegressor": "dgae._mvmf",
    "ClassificationRetrieval": "dgae._cell_retrieval",
    "TimeRefiner": "dgae._time_refiner",
    "AlbumRefiner": "dgae._album_refiner",
    "default_partition": "dgae._cell_classifier",
}
_SUBMODULES = ("geo", "metrics", "datasets", "plotting", "features", "graphs", "cells", "report",
               "heads", "autoencoder", "pipeline", "experiment")

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"dgae.{name}")
    raise AttributeError(f"module 'dgae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
