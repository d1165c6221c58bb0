"""Geotagged data: photo folders with a CSV or EXIF GPS, the shared sets, splits, the replica.

Modules: ``_loading`` (folders, CSVs, EXIF, the shared sets), ``_splits`` (the
shared collections' protocols), ``_city_world`` (the synthetic 35-area replica).

Examples
--------
>>> from dgae.datasets import heading_holdout_split
>>> q, g = heading_holdout_split([0, 0, 0, 1, 1, 1])
>>> len(q)
2
"""
from ._city_world import city_world_layout, load_areas, make_city_world
from ._loading import (
    IMAGE_EXTENSIONS,
    load_croatia_streetview,
    load_geotagged,
    load_shared,
    read_exif_gps,
    shared_data_dir,
)
from ._time import read_exif_datetime
from ._splits import heading_holdout_split, place_holdout_split, region_holdout_split

__all__ = [
    "city_world_layout",
    "load_areas",
    "IMAGE_EXTENSIONS",
    "load_geotagged",
    "read_exif_gps",
    "read_exif_datetime",
    "load_shared",
    "load_croatia_streetview",
    "shared_data_dir",
    "heading_holdout_split",
    "place_holdout_split",
    "region_holdout_split",
    "make_city_world",
]
