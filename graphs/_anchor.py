"""fDGAE's fast easy-confusing graph (§4.2.1): visual anchors inside POIs.

1. Inside each POI, flat-kernel mean-shift on the visual features (the same
   engine as POI mining, GEMM neighbour backend, many POIs per batch) gives
   visual clusters; their centroids are the anchors.
2. Each photo finds its ``k3`` nearest anchors outside its own POI: exact search
   (:func:`~dgae.graphs.nearest_neighbors`' engine) up to ``INDEXED_ANCHORS`` anchors, an
   inverted file over the anchors beyond that applies the POI and distance-floor masks
   exactly inside the cells it probes.
3. Exact distances to the members of those ``k3`` clusters give the top
   ``k2``; for wide features (the 2,971-d Im2GPS descriptor) of ``ANCHOR_REDUCED_MIN_ROWS``
   photos or more, steps 1 and 2 and the member search run in ``REDUCED_DIM`` principal
   components (the anchors there: their members' means) for ``RERANK * k2`` candidates, which
   are then re-ranked by their exact distances (the masks stay exact: candidates come from
   the masked search).  The member search and the re-rank take the photos in blocks that
   follow the leaves of a k-d tree (:func:`locality_order`): neighbours share candidates.
"""
import numpy as np
from scipy.spatial import cKDTree
from sklearn.utils import check_random_state

from dgae.utils import (DenseNeighbors, PairMask, get_xp, knn_search, mean_shift,
                        progress, search_centre, to_device, unit_mean)

from ._ivf import IVFIndex
from ._tables import _poi_groups

#: Mean-shift seeds per POI (random members); the paper sees 1 to 5 visual clusters per POI.
MAX_SEEDS = 16
#: POIs batched into one visual mean-shift block up to this many photos.
_GROUP = 48
#: Queries whose candidate sets are merged into one GEMM block (taken in :func:`locality_order`;
#: world_streetview's member search 0.35 s and re-rank 0.74 s at 64, 0.45 / 0.98 at 32,
#: 0.34 / 0.81 at 128; the 100,000-photo replica's 20 s at 64, 21 s at 32 and 128).
_QUERY_BLOCK = 64
#: From this many anchors on, the photo -> anchor search goes through an inverted file.
INDEXED_ANCHORS = 4096
#: Photos projected onto the principal components at once (bounds the temporaries).
_PCA_ROWS = 16384
#: Feature columns averaged at once into the anchors.
_COLUMN_BLOCK = 256
#: Wider features are searched among the anchors' members in this many PCA dimensions first
#: (``RERANK`` x k2 candidates a photo), then re-ranked exactly in full: the gathers of the
#: member search, not its arithmetic, bound it.  8 candidates a pick: Q's recall against the
#: exact Q on the bench_scale replica 0.917 / 0.929 at 20,000 / 50,000 photos (4: 0.882 / 0.893;
#: k3 = 50; with k3 = 100, 6: 0.918 and 5: 0.901 against 0.942 at 20,000).
REDUCED_DIM = 128
RERANK = 8
#: ... from this many photos in a P group on: below it the brute force is small and the PCA
#: would cost as much as it saves.
REDUCED_MIN_ROWS = 10_000
#: ... and from this many photos in the gallery on for the anchor Q (anchors, their search and
#: the member search), whose full-width member search costs more than the PCA sooner: on the
#: bench_scale replica 0.56-0.61 s against 0.69 s at 2,000 photos, 0.64 against 1.35 s at 3,000
#: (even at 1,000).
ANCHOR_REDUCED_MIN_ROWS = 2_000
#: Query photos the exact searches' centring vector is averaged over at most.
_CENTRE_ROWS = 4096
#: Rows the PCA of the member search is fitted on at most.
_PCA_SAMPLE = 20_000
#: Power iterations of its randomized SVD: the components only rank candidates that are
#: re-ranked exactly; scikit-learn's "auto" (7 here) took 1.9 of the anchor Q's 3.4 s at 5,000.
_PCA_POWER = 2
#: Random directions beyond ``REDUCED_DIM`` in its range finder (scikit-learn's default).
_PCA_OVERSAMPLES = 10
#: Its components with a variance below this share of the first one's are dropped (rank).
_PCA_RANK_TOL = 1e-6


def anchor_q_table(X, labels, k2, *, k3=100, bandwidth=None, device="auto", random_state=None,
                   verbose=0, floor=None, rows=None, reduced=None):
    """Easy-confusing neighbour table (n_rows, k2) by the anchor method, -1 padded.

    With ``floor`` (a :class:`~dgae.utils.QFloor` of all photos against all),
    anchors whose members' spherical mean lies within the floor are not
    searched, and members within it are never picked.  ``rows`` restricts the
    queries to those photos (the anchors are mined from all of them).  ``reduced``: a callable
    giving :func:`reduced_features` of ``X`` (shared with P, ``dgae.graphs._pairs.lazy_reduced``),
    called only when the search is reduced.  ``bandwidth`` is in the units of the space the
    anchors are mined in: the principal components when the search is reduced.
    """
    xp = get_xp(device)
    rng = check_random_state(random_state)
    every = rows is None
    rows = np.arange(X.shape[0]) if every else np.asarray(rows, dtype=np.int64)
    # wide features: the visual anchors, the photo -> anchor search and the member search in a
    # reduced space (the anchors there are its members' means: the PCA is affine), the k2
    # re-ranked exactly; the anchors are averaged in the space searched only (full width: 2 GiB
    # at 664,720 photos)
    if uses_reduced(X, len(X), ANCHOR_REDUCED_MIN_ROWS):
        reduced = reduced_features(X, rng) if reduced is None else reduced()
    else:
        reduced = None
    space = X if reduced is None else reduced
    if bandwidth is None:
        bandwidth = estimate_anchor_bandwidth(space, labels, random_state=rng)
    anchor_of, anchor_poi = visual_anchors(space, labels, bandwidth, xp, rng, verbose)
    n_anchors = len(anchor_poi)
    anchor_floor = None
    if floor is not None:
        anchor_floor = floor.against(unit_mean(floor.ux, anchor_of, n_anchors), floor.uq[rows])
    anchors = _centroids(space, anchor_of, n_anchors)
    # space[rows] of every row would copy the whole gallery (7.4 GiB at 664,720 photos)
    queries = space if every else space[rows]
    near = nearest_outside_anchors(queries, labels[rows], anchors, anchor_poi,
                                   min(k3, n_anchors), xp, anchor_floor, rng, verbose)
    order = locality_order(queries)
    if reduced is None:
        return _search_members(X, k2, near, anchor_of, n_anchors, xp, verbose, floor, rows,
                               order)
    short = _search_members(reduced, RERANK * k2, near, anchor_of, n_anchors, xp, verbose,
                            floor, rows, order)
    return rerank(X, rows, short, k2, xp, order=order, verbose=verbose, desc="anchor re-rank")


def uses_reduced(X, n_rows, min_rows=None):
    """Whether a search of ``n_rows`` photos on ``X`` goes through :func:`reduced_features`
    first: wide features (more than twice ``REDUCED_DIM`` columns) and ``min_rows`` photos or
    more (default ``REDUCED_MIN_ROWS``)."""
    min_rows = REDUCED_MIN_ROWS if min_rows is None else min_rows
    return X.shape[1] > 2 * REDUCED_DIM and n_rows >= min_rows


def reduced_features(X, rng):
    """``X`` in its ``REDUCED_DIM`` leading principal components (fitted on a sample), float32.

    A randomized range finder (Halko, Martinsson & Tropp 2011, as in scikit-learn's
    ``PCA(svd_solver="randomized")``) with ``_PCA_POWER`` power iterations and no
    normalisation between them (scikit-learn's own choice for two or fewer), written here
    because scikit-learn's generic steps -- the sample's total variance, an SVD of the
    projected sample, the transform's centred copies -- took twice as long (5,000 replica
    photos: 0.6 s against 0.3 s) for components that only rank candidates re-ranked exactly.
    Any orthonormal basis of the leading components gives the same distances: the basis
    here comes from the eigenvectors of the small projected Gram matrix; a sample of rank
    below ``REDUCED_DIM`` leaves the extra columns 0.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = (rng.normal(size=(300, 2)) @ [[3.0, 0, 0, 0], [0, 1.0, 0, 0]]).astype(np.float32)
    >>> Z = reduced_features(X, rng)
    >>> Z.shape, bool(np.allclose(np.linalg.norm(Z[0] - Z[1]), np.linalg.norm(X[0] - X[1]),
    ...                                rtol=1e-4)), bool(np.abs(Z[:, 2:]).max() < 1e-4)
    ((300, 4), True, True)
    """
    sample = X[np.sort(rng.choice(len(X), size=min(len(X), _PCA_SAMPLE), replace=False))]
    mean = sample.mean(axis=0, dtype=np.float64).astype(np.float32)
    sample -= mean                                      # a copy: the sample's own rows
    k = min(REDUCED_DIM, *sample.shape)
    width = min(k + _PCA_OVERSAMPLES, sample.shape[1])
    Y = sample @ rng.standard_normal((sample.shape[1], width)).astype(np.float32)
    for _ in range(_PCA_POWER):
        Y = sample @ (sample.T @ Y)
    B = np.linalg.qr(Y)[0].T @ sample                   # the sample in the range found
    w, U = np.linalg.eigh((B @ B.T).astype(np.float64))
    w, U = w[::-1][:k], U[:, ::-1][:, :k]
    # B^T u / sqrt(w): the orthonormal leading components; directions without variance in
    # the sample (a rank below k) are dropped as zero columns
    scale = np.divide(1.0, np.sqrt(np.maximum(w, 0.0)), out=np.zeros_like(w),
                      where=w > _PCA_RANK_TOL * w[0])
    components = B.T @ (U * scale).astype(np.float32)
    shift = mean @ components
    out = np.empty((len(X), k), np.float32)
    for r0 in range(0, len(X), _PCA_ROWS):
        np.matmul(X[r0:r0 + _PCA_ROWS], components, out=out[r0:r0 + _PCA_ROWS])
        out[r0:r0 + _PCA_ROWS] -= shift
    return out


def rerank(X, rows, candidates, k, xp, order=None, verbose=0, desc="re-rank"):
    """Each query row's ``k`` nearest among its own candidates, by exact distances on ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    rows : ndarray of shape (m,)
        The query photos.
    candidates : ndarray of shape (m, c), int
        Their candidate photos (``-1`` padded): the only ones a row may return.
    k : int
    xp : module
    order : ndarray of shape (m,), optional
        The order the rows are searched in, blocks of ``_QUERY_BLOCK`` over one candidate
        union (default: by their first two candidates); any order gives the same table.
    verbose : int, default=0
        A progress bar (``desc``) over the blocks of rows.
    desc : str, default="re-rank"

    Returns
    -------
    table : ndarray of shape (m, k), int64
        Nearest first (ties by lower index), ``-1`` padded.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [5.0]], np.float32)
    >>> rerank(X, np.array([0, 3]), np.array([[3, 2, -1], [0, 1, 2]]), 2, np).tolist()
    [[2, 3], [2, 1]]
    """
    order = _block_order(candidates) if order is None else order
    return _search_picked(X, rows, candidates, k, xp, order,
                          lambda used: (used, np.arange(used.size)), verbose=verbose, desc=desc)


def nearest_outside_anchors(X, labels, anchors, anchor_poi, k, xp, floor=None, random_state=None,
                            verbose=0):
    """The ``k`` nearest anchors of each photo outside its POI (and beyond ``floor``).

    Exact search costs ``n x anchors``, and the anchors grow with ``n`` (a quarter to a third
    of the photos): n² at scale.  From ``INDEXED_ANCHORS`` anchors on (CPU), an inverted file
    over the anchors (:class:`IVFIndex`) searches them with the POI and floor masks applied
    exactly inside every cell it probes; a photo whose probed cells hold fewer than ``k``
    allowed anchors -- the floor excludes its own city, whose anchors share its look -- probes
    more cells, and at last all of them.  The approximation is only the IVF's: an anchor in a
    cell the photo does not probe.

    Returns
    -------
    near : ndarray of shape (n, k), int64
        Anchor indices, nearest first, ``-1`` padded.
    """
    mask = PairMask(labels, anchor_poi, "same", False, xp, floor=floor)
    if xp is not np or len(anchors) < INDEXED_ANCHORS:
        return knn_search(X, anchors, k, xp, mask=mask, verbose=verbose)[1]
    rng = check_random_state(random_state)
    index = IVFIndex(random_state=rng.randint(2 ** 31), verbose=verbose).fit(anchors)
    return index.query(X, k, exclude=mask.pairs)[1]


def estimate_anchor_bandwidth(X, labels, quantile=0.3, n_samples=500, random_state=None):
    """Visual mean-shift bandwidth from the data.

    scikit-learn's :func:`~sklearn.cluster.estimate_bandwidth` rule applied
    inside POIs: for up to ``n_samples`` random photos of POIs with >= 2
    photos, the distance to the ``ceil(quantile * (m - 1))``-th nearest other
    member of its POI (``m`` = POI size, at most 200 random members looked
    at); the bandwidth is the median of these distances.  A kernel of this
    radius covers about ``quantile`` of a POI, so a POI splits into a few
    visual clusters, as the paper reports (1 to 5).

    Returns
    -------
    bandwidth : float

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0], [12.0], [14.0]])
    >>> float(estimate_anchor_bandwidth(X, [0, 0, 0, 1, 1, 1], random_state=0))
    1.5
    """
    rng = check_random_state(random_state)
    labels = np.asarray(labels)
    _, inv, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    eligible = np.flatnonzero(sizes[inv] >= 2)
    if eligible.size == 0:
        return 1.0
    pick = rng.choice(eligible, size=min(n_samples, eligible.size), replace=False)
    dists = []
    for s in pick:
        members = np.flatnonzero(labels == labels[s])
        members = members[members != s]
        if members.size > 200:
            members = rng.choice(members, size=200, replace=False)
        d = np.sort(np.linalg.norm(X[members] - X[s], axis=1))
        dists.append(d[int(np.ceil(quantile * members.size)) - 1])
    bw = float(np.median(dists))
    return bw if bw > 0 else 1.0


def visual_anchors(X, labels, bandwidth, xp, rng, verbose=0):
    """Visual clusters inside each POI.

    Returns
    -------
    anchor_of : ndarray of shape (n,), int64
        Cluster of each photo (its anchor; ``_centroids`` gives the anchors' means).
    anchor_poi : ndarray of shape (a,), int64
        POI of each anchor.
    """
    n = X.shape[0]
    anchor_of = np.empty(n, dtype=np.int64)
    _, inv, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    single = np.flatnonzero(sizes[inv] == 1)
    anchor_of[single] = np.arange(single.size)
    n_anchors = single.size
    for g in progress(list(_poi_groups(labels, _GROUP)), verbose=verbose, desc="visual anchors"):
        seeds = _sample_seeds(labels[g], rng)
        backend = DenseNeighbors(X[g], bandwidth, xp, groups=labels[g], seed_groups=labels[g][seeds])
        centers, lab, _, _ = mean_shift(backend, X[g][seeds], bandwidth,
                                        seed_groups=labels[g][seeds])
        anchor_of[g] = lab + n_anchors
        n_anchors += len(centers)
    anchor_poi = np.empty(n_anchors, dtype=np.int64)
    anchor_poi[anchor_of] = labels
    return anchor_of, anchor_poi


def _centroids(X, assign, n_groups):
    """Mean row of each group, summed in float64 (n_groups, d) float32.

    Column blocks of ``_COLUMN_BLOCK``: the float64 sums of all columns at once
    would take twice the float32 output's memory again (14 GiB at 664,720
    photos).  Every group must be non-empty.
    """
    order = np.argsort(assign, kind="stable")       # rows ascending within each group
    counts = np.bincount(assign, minlength=n_groups)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    out = np.empty((n_groups, X.shape[1]), dtype=np.float32)
    for c0 in range(0, X.shape[1], _COLUMN_BLOCK):
        block = X[order, c0:c0 + _COLUMN_BLOCK].astype(np.float64)
        out[:, c0:c0 + _COLUMN_BLOCK] = np.add.reduceat(block, starts, axis=0) / counts[:, None]
    return out


def _sample_seeds(group_labels, rng):
    """Positions of up to MAX_SEEDS random members of each POI in a batch."""
    order = rng.permutation(group_labels.size)
    lab = group_labels[order]
    order = order[np.argsort(lab, kind="stable")]
    lab = group_labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    rank = np.arange(lab.size) - np.repeat(starts, np.diff(np.r_[starts, lab.size]))
    return np.sort(order[rank < MAX_SEEDS])


def _search_members(X, k2, near, anchor_of, n_anchors, xp, verbose, floor, query_rows, order):
    """Exact top-k2 among the members of each query photo's ``near`` anchors (beyond ``floor``).

    ``query_rows``: the photos whose rows these are (``near[i]`` is photo ``query_rows[i]``'s);
    ``order``: their order into the blocks (:func:`locality_order`).
    """
    members = np.argsort(anchor_of, kind="stable")  # ascending rows within each anchor
    bounds = np.r_[0, np.cumsum(np.bincount(anchor_of, minlength=n_anchors))]

    def expand(used):
        cand = np.sort(np.concatenate([members[bounds[a]:bounds[a + 1]] for a in used]))
        return cand, np.searchsorted(used, anchor_of[cand])

    return _search_picked(X, query_rows, near, k2, xp, order, expand, floor, verbose,
                          "anchor search")


def locality_order(Z):
    """The rows of ``Z`` (n, d) in the leaf order of a k-d tree with leaves of ``_QUERY_BLOCK``.

    Consecutive rows are near each other, so a block of them shares most of its candidates:
    the union a block of :func:`_search_picked` gathers.  The anchor Q's re-rank
    (``k3 = 100``, blocks of 32) gathered 39 % fewer rows on world_streetview (788 against
    1,286 a block) and 22 % fewer on the 20,000-photo bench_scale replica than in blocks by
    the nearest anchors.  SciPy's tree (median splits): 1 s for 664,720 photos in 128
    dimensions.

    Examples
    --------
    Four tight groups of ``_QUERY_BLOCK`` points on a line, shuffled: each block of the order
    is one group.

    >>> rng = np.random.default_rng(0)
    >>> group = rng.permutation(np.repeat(np.arange(4), _QUERY_BLOCK))
    >>> Z = np.c_[group * 10.0, rng.normal(size=group.size)]
    >>> order = locality_order(Z)
    >>> blocks = order.reshape(4, _QUERY_BLOCK)
    >>> [np.unique(group[b]).size for b in blocks]
    [1, 1, 1, 1]
    """
    return cKDTree(Z, leafsize=_QUERY_BLOCK).indices


def _block_order(picked):
    """Rows sorted by their first two picks (queries with the same first picks share most
    candidates): :func:`rerank`'s blocks when no order is given."""
    return np.lexsort((picked[:, min(1, picked.shape[1] - 1)], picked[:, 0]))


def _search_picked(X, query_rows, picked, k, xp, order, expand, floor=None, verbose=0,
                   desc=None):
    """Exact top-``k`` of each query photo among the photos its ``picked`` ids stand for.

    ``expand(used) -> (candidates, owner)``: the sorted photos the sorted ids ``used`` stand
    for, and the position in ``used`` of each one's id.  The rows go, in ``order``, in
    blocks of ``_QUERY_BLOCK`` over one candidate union, each masked to its own picks (and
    beyond ``floor``).
    """
    table = np.full((len(query_rows), k), -1, dtype=np.int64)
    # every block centred on one vector, its gathered rows in place: knn_search's own centring
    # would average and copy each block's candidates again.  The vector from at most
    # _CENTRE_ROWS of the query photos: the whole X would be a pass over the gallery for
    # every call (P re-ranks each large group; ~1 s each at 664,720 photos)
    centre = search_centre(X[query_rows[::max(1, len(query_rows) // _CENTRE_ROWS)]], np)

    def gathered(idx):
        out = X[idx]
        if centre is not None:
            out -= centre
        return out

    n = len(query_rows)
    for b0 in progress(range(0, n, _QUERY_BLOCK), verbose=verbose, desc=desc,
                       total=-(-n // _QUERY_BLOCK)):
        block = order[b0:b0 + _QUERY_BLOCK]
        rows, pick = query_rows[block], picked[block]
        used = np.unique(pick[pick >= 0])
        if used.size == 0:
            continue
        cand, owner = expand(used)
        sel = np.zeros((rows.size, used.size), dtype=bool)
        r, j = np.nonzero(pick >= 0)
        sel[r, np.searchsorted(used, pick[r, j])] = True
        excluded = ~sel[:, owner]
        if floor is not None:
            excluded |= floor.near_outer(rows, cand)
        excluded = to_device(excluded, xp)
        _, local = knn_search(gathered(rows), gathered(cand), k, xp, batch_size=rows.size,
                              mask=lambda q0, q1, x0, x1: excluded[q0:q1, x0:x1], center=False)
        table[block] = np.where(local >= 0, cand[np.maximum(local, 0)], -1)
    return table
