"""Approximate easy-confusing graph with pynndescent.

NN-descent gives each photo ``n_neighbors`` (more than ``k2``) approximate
neighbours; same-POI hits are dropped and the first ``k2`` others kept.

Rows left with fewer than ``k2`` others (photos whose whole neighbourhood
lies in their own, visually uniform POI) are *not* widened by asking
pynndescent for more neighbours: that was tried and is unreliable, because
the k-NN graph then has no edge leaving the POI and the search returns
arbitrary far-away photos (recall 0.61 on the uniform-POI test case).  Those
rows are finished by the exact blocked search instead, which is correct and
cheap as long as they are few.
"""
import numpy as np

from dgae.utils import first_kept

from ._tables import exact_q_table


def ann_q_table(X, labels, k2, *, device="auto", n_jobs=None, random_state=None, verbose=0,
                n_neighbors=None, floor=None, rows=None):
    """Easy-confusing neighbour table (n_rows, k2) by pynndescent, -1 padded.

    ``n_neighbors`` defaults to ``max(30, 3 * k2)``.  ``floor`` (a
    :class:`~dgae.utils.QFloor` of all photos against all) drops hits within its
    distance.  ``rows`` restricts the queries to those photos (the index holds all).
    """
    from pynndescent import NNDescent

    n = X.shape[0]
    n_neighbors = min(n - 1, n_neighbors or max(30, 3 * k2))
    index = NNDescent(X, n_neighbors=n_neighbors + 1, random_state=random_state,
                      n_jobs=n_jobs if n_jobs is not None else 1, verbose=bool(verbose),
                      low_memory=True)
    if rows is None:
        rows, hits = np.arange(n), index.neighbor_graph[0]
    else:
        rows = np.asarray(rows, dtype=np.int64)
        hits = index.query(X[rows], k=n_neighbors + 1)[0]
    table = np.full((n, k2), -1, dtype=np.int64)
    short = _take_other_poi(table, rows, hits, labels, k2, floor)
    if short.size:
        table[short] = exact_q_table(X, labels, k2, device=device, rows=short, floor=floor)
    return table[rows]


def _take_other_poi(table, rows, hits, labels, k2, floor=None):
    """Fill ``table[rows]`` with the first k2 admissible hits; return the rows still short.

    Admissible: another POI, and beyond ``floor`` when one is given.
    """
    other = (hits >= 0) & (labels[np.maximum(hits, 0)] != labels[rows][:, None])
    if floor is not None:
        other &= ~floor.near_pairs(rows, np.maximum(hits, 0))
    other &= ~_repeats(hits)
    # fewer hits than k2 (k2 >= n): fill what there is; the short rows go to the exact search
    table[rows] = first_kept(hits, other, k2)
    return rows[(table[rows] >= 0).sum(axis=1) < k2]


def _repeats(hits):
    """Later occurrences of an index within a row (an approximate graph may repeat hits)."""
    order = np.argsort(hits, axis=1, kind="stable")
    srt = np.take_along_axis(hits, order, axis=1)
    rep = np.zeros(hits.shape, dtype=bool)
    r, c = np.nonzero(srt[:, 1:] == srt[:, :-1])
    rep[r, order[r, c + 1]] = True
    return rep
