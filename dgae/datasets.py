"""Geotagged data: photo folders with a CSV or EXIF GPS, the shared sets, splits.

Examples
--------
>>> from dgae.datasets import heading_holdout_split
>>> q, g = heading_holdout_split([0, 0, 0, 1, 1, 1])
>>> len(q)
2
"""
from ._datasets import (
    IMAGE_EXTENSIONS,
    heading_holdout_split,
    load_croatia_streetview,
    load_geotagged,
    load_shared,
    place_holdout_split,
    read_exif_gps,
    shared_data_dir,
)
from ._city_world import make_city_world

__all__ = [
    "IMAGE_EXTENSIONS",
    "load_geotagged",
    "read_exif_gps",
    "load_shared",
    "load_croatia_streetview",
    "shared_data_dir",
    "heading_holdout_split",
    "place_holdout_split",
    "make_city_world",
]
