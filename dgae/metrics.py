"""Evaluation: geolocation errors, accuracy at distance thresholds, scorers.

Examples
--------
>>> from dgae.metrics import accuracy_at
>>> accuracy_at([[45, 15]], [[45, 15.001]], thresholds_km=(1,))
{1: 1.0}
"""
from ._metrics import (
    DEFAULT_THRESHOLDS_KM,
    accuracy_at,
    error_curve,
    geo_scorer,
    geolocation_errors_km,
    hit_rates,
    mean_accuracy,
    reliability,
)
from ._scale import (
    gallery_scales,
    parse_thresholds,
    resolve_thresholds,
    thresholds_for_extent,
    thresholds_for_gallery,
)

__all__ = [
    "DEFAULT_THRESHOLDS_KM",
    "geolocation_errors_km",
    "accuracy_at",
    "error_curve",
    "geo_scorer",
    "hit_rates",
    "mean_accuracy",
    "reliability",
    "thresholds_for_gallery",
    "thresholds_for_extent",
    "parse_thresholds",
    "resolve_thresholds",
    "gallery_scales",
]
