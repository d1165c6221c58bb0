"""Geodesy: great-circle distances, unit vectors, coordinate checks.

All functions work in float64 on ``[lat, lon]`` degrees.

Examples
--------
>>> from dgae.geo import great_circle_km
>>> round(float(great_circle_km([45.815, 15.982], [45.815, 15.982])), 9)
0.0
"""
from .utils import (EARTH_RADIUS_KM, check_gps, deg_to_chord, from_unit_vectors, gallery_extent_km,
                    great_circle_km, km_to_chord, spherical_mean, to_unit_vectors, wrap_longitude)
from ._places import URBAN_DENSITY, Places, city_places, covered_km, nearest_places, place_labels

__all__ = [
    "EARTH_RADIUS_KM",
    "great_circle_km",
    "to_unit_vectors",
    "from_unit_vectors",
    "check_gps",
    "wrap_longitude",
    "km_to_chord",
    "deg_to_chord",
    "spherical_mean",
    "gallery_extent_km",
    "nearest_places",
    "city_places",
    "covered_km",
    "URBAN_DENSITY",
    "place_labels",
    "Places",
]
