"""The evaluation loop the demo, ``experiments/`` and ``benchmarks/`` share.

Split a set into queries and gallery, describe it, train the standard methods (LF, AE, DGAE,
fDGAE), score them under several heads, print and write the results.  :func:`run_demo` is the
whole demo (``dgae demo``).

Examples
--------
>>> from dgae.experiment import query_split
>>> query_split(10, 3)
(array([2, 4, 6]), array([0, 1, 3, 5, 7, 8, 9]))
"""
from ._demo import (
    DEMO_DEFAULTS,
    by_head,
    describe,
    evaluate_methods,
    head_tables,
    query_split,
    run_demo,
    standard_methods,
    write_predictions,
)

__all__ = ["DEMO_DEFAULTS", "by_head", "describe", "evaluate_methods", "head_tables",
           "query_split", "run_demo", "standard_methods", "write_predictions"]
