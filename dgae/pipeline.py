"""Photos in, positions out: the model ``dgae fit`` writes, and the two steps around it.

:class:`GeoPipeline` (a descriptor and a geolocating estimator), :func:`describe_photos` (a
resumable description of photos, as ``dgae fit`` / ``dgae predict`` do it) and
:func:`details_of_rows` (``predict_details`` of feature rows, NaN rows kept as errors).

Examples
--------
>>> from dgae.pipeline import GeoPipeline
>>> GeoPipeline.__mro__[1].__name__
'Pipeline'
"""
from ._pipeline import GeoPipeline, describe_photos, details_of_rows

__all__ = ["GeoPipeline", "describe_photos", "details_of_rows"]
