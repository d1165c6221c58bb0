"""Location heads: a query's position from its nearest gallery photos.

1-NN, Im2GPS Mean-Shift voting and Vo et al.'s kernel density (:func:`apply_head`), the
ratio that gates them (:func:`match_ratio`), the vote weights and the density's mode, the
candidates ``fit`` chooses among (:func:`head_candidates`), the gates it tries
(:func:`match_gates`) and its rule among heads that tie (:func:`one_se_choice`).

Examples
--------
>>> import numpy as np
>>> from dgae.heads import apply_head
>>> gps = np.array([[[45.0, 15.0], [45.0, 15.001], [10.0, 10.0]]])
>>> apply_head("1nn", gps, np.array([[0.1, 0.2, 0.3]])).tolist()
[[45.0, 15.0]]
"""
from ._heads import (
    DEFAULT_K,
    HEADS,
    apply_head,
    density_mode,
    kde_head,
    match_ratio,
    meanshift_head,
    resolve_k,
    vote_log_weights,
)
from ._selection import head_candidates, match_gates, one_se_choice

__all__ = ["DEFAULT_K", "HEADS", "apply_head", "density_mode", "head_candidates", "kde_head",
           "match_gates", "match_ratio", "meanshift_head", "one_se_choice", "resolve_k",
           "vote_log_weights"]
