"""Reading predictions and reporting them: accuracy tables, error curves, maps, the HTML page.

What ``dgae evaluate`` and ``dgae report`` do, as functions.

Examples
--------
>>> from dgae.report import accuracy_table
>>> print(accuracy_table({"LF": [0.5, 30, 3000]}, thresholds_km=(1, 25)))
method      n     1 km    25 km  median km
LF          3     33.3     33.3       30.0
"""
from ._html import write_html_report
from ._report import accuracy_table, read_predictions, save_error_curves, save_prediction_map

__all__ = ["accuracy_table", "read_predictions", "save_error_curves", "save_prediction_map",
           "write_html_report"]
