"""Location heads: a query's position from its nearest gallery photos.

1-NN, Im2GPS Mean-Shift voting and Vo et al.'s kernel density (:func:`apply_head`), the
ratio that gates them (:func:`match_ratio`), the vote weights and the density's mode, the
candidates ``fit`` chooses among (:func:`head_candidates`), the gates it tries
(:func:`match_gates`), its rule among heads that tie (:func:`one_se_choice`, on
:func:`paired_gap`), and the retrieval spaces the heads are scored in
(:func:`retrieval_features`, each block scaled by :func:`block_scale`; the held-out photos'
neighbours in all of them: :func:`space_neighbors`).

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
from ._selection import (
    block_scale,
    head_candidates,
    match_gates,
    one_se_choice,
    paired_gap,
    retrieval_features,
    space_neighbors,
)

__all__ = ["DEFAULT_K", "HEADS", "apply_head", "block_scale", "density_mode", "head_candidates",
           "kde_head", "match_gates", "match_ratio", "meanshift_head", "one_se_choice",
           "paired_gap", "resolve_k", "retrieval_features", "space_neighbors", "vote_log_weights"]
