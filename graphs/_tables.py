"""Building blocks shared by the P and Q builders (exact search per POI, exact Q rows).

A module of its own so that ``_pairs`` (the public builders) and the
``_anchor`` / ``_ann`` variants all import from it and none imports back.
"""
import numpy as np

from dgae.utils import PairMask, get_xp, knn_search



def _poi_groups(labels, cap):
    """Member index arrays (ascending) of POIs batched so each batch has <= max(cap, |POI|) rows.

    POIs are taken largest first so a batch holds POIs of similar size
    (little wasted brute force); singleton POIs are skipped (no pairs).
    """
    order = np.argsort(labels, kind="stable")
    _, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    by_size = np.argsort(-counts, kind="stable")
    batch, total = [], 0
    for p in by_size:
        c = int(counts[p])
        if c < 2:
            break
        if batch and total + c > cap:
            yield np.sort(np.concatenate(batch))
            batch, total = [], 0
        batch.append(order[starts[p]:starts[p] + c])
        total += c
    if batch:
        yield np.sort(np.concatenate(batch))


def exact_q_table(X, labels, k2, *, device="auto", verbose=0, rows=None, floor=None, n_jobs=None):
    """Exact easy-confusing neighbour table (n_rows, k2), -1 padded.

    ``rows`` restricts the queries to those photos (default: all); ``floor``
    (a :class:`~dgae.utils.QFloor` of all photos against all) also
    excludes photos within its distance.  ``n_jobs`` other than None / 1:
    the query rows are cut into blocks run by :class:`joblib.Parallel` (on the
    CPU), so a ``joblib.parallel_config(backend="dask")`` context spreads
    them over a Dask cluster; each row's result does not depend on the
    blocking.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [1.0], [1.2]], np.float32)
    >>> exact_q_table(X, np.array([0, 0, 1, 1]), 1, device="cpu").ravel().tolist()  # other POI
    [2, 2, 1, 1]
    """
    if n_jobs not in (None, 1):
        return _parallel_q_table(X, labels, k2, rows=rows, floor=floor, n_jobs=n_jobs)
    xp = get_xp(device)
    Xq, lq = (X, labels) if rows is None else (X[rows], labels[rows])
    if floor is not None and rows is not None:
        floor = floor.subset(query_rows=rows)
    mask = PairMask(lq, labels, "same", False, xp, floor=floor)
    _, idx = knn_search(Xq, X, k2, xp, mask=mask, verbose=verbose)
    return idx


def _parallel_q_table(X, labels, k2, *, rows, floor, n_jobs):
    """:func:`exact_q_table` over row blocks as joblib tasks (4 blocks per worker)."""
    from joblib import Parallel, delayed, effective_n_jobs

    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows)
    blocks = [b for b in np.array_split(rows, 4 * effective_n_jobs(n_jobs)) if len(b)]
    parts = Parallel(n_jobs=n_jobs)(
        delayed(exact_q_table)(X, labels, k2, device="cpu", rows=b, floor=floor) for b in blocks)
    return np.vstack(parts) if parts else np.empty((0, k2), np.int64)
