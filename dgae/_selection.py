"""What a fit chooses on ground it has not trained on: held-out photos, the head, the
retrieval space, the confidence.

- :func:`held_out_split`: three kinds of held-out photos, each a third of the budget --
  whole *regions* (:func:`region_blocks`: spatial blocks at a coarse scale read off the
  gallery), whole *places* (:func:`place_validation_split`: POIs, or the user's groups) and
  single *views* of places kept in training (:func:`view_validation_split`) -- so that every
  score below is one of a stated mix of new regions, new places and known places
  (:func:`mix_weights`).
- :func:`head_candidates` and :func:`score_heads`: the heads ``head="auto"``
  tries (1-NN, KDE at the gallery's scales, Mean-Shift), scored by the mean
  accuracy at the gallery's thresholds of the held-out photos located among
  the training photos; :func:`choose_head` keeps one by the one-standard-error rule
  (:func:`one_se_choice`), then its gate.
- :func:`choose_retrieval`: the space the head searches -- the learned code, the raw input
  or both at a few weights (:data:`INPUT_SHARES`) -- chosen on the same score.
- :class:`GeoMonitor`: those scores as early stopping's criterion.
- :class:`ConfidenceCalibrator`: the probability that a prediction is within
  the confidence radius, learned on the held-out photos from the vote shares
  (increasing) and the match distance (decreasing) with scikit-learn's
  monotone gradient boosting.
"""
import numpy as np

from .utils import array_module, great_circle_km, to_host
from ._heads import apply_head, kde_modes, match_ratio, resolve_k, vote_log_weights
from ._metrics import hit_rates, mean_within

#: Nearest gallery photos the confidence's first vote share counts ...
CONFIDENCE_VOTES = 10
#: ... and its second.
CONFIDENCE_POOL = 100
#: Neighbours the early-stopping score looks at for a held-out view's own place.
MONITOR_K = 10
#: Iterations the early-stopping score is averaged over.
MONITOR_SMOOTHING = 5
#: Held-out photos the calibrator needs with both outcomes (else: the observed rate).
MIN_CALIBRATION = 20
#: Most photos held out (all kinds together), whatever ``validation_fraction``: every
#: early-stopping iteration searches them among all training photos, so their cost grows with
#: held-out x gallery -- at 664,720 photos a 10 % share made each iteration ~100 s of search
#: on 2 cores; 5,000 keep a score's standard error near one point.
MAX_HELD_OUT = 5000
#: The kinds of held-out photo, as coded in the ``kind`` arrays below.
VIEW, PLACE, REGION = 0, 1, 2
KIND_NAMES = ("views", "places", "regions")
#: Spatial blocks held out whole are photos linked by chains of links at most this many
#: confidence radii long (:func:`region_blocks`): 50 km world-wide (a city and its suburbs),
#: 2 km in a country, 200 m in one city -- coarser than a place, so that a held-out block's
#: photos have no training photo within twice the confidence radius.
REGION_FACTOR = 2.0
#: The links of a block: each photo's nearest other positions (a k-NN graph, not every pair
#: within the link: at 664,720 photos a city holds tens of thousands within 50 km).
REGION_LINKS = 16
#: ``new_place_share=None``: the share of queries on new ground (new places and new regions,
#: half each) the held-out photos are weighted to.  Nothing is known of a user's queries, so
#: each kind a gallery can be asked about -- another view of a place it holds, a new place in
#: an area it covers, a region it has never seen -- weighs the same: a third each.
DEFAULT_NEW_SHARE = 2.0 / 3.0
#: ``new_place_share=None``: the mix the confidence is calibrated for -- all new ground.  The
#: features barely tell a view of a known place from new ground (``confidence_by_kind_``'s
#: AUROC 0.6-0.7 on the shared galleries), so a confidence calibrated for a mix gives every
#: query that mix's rate: a third of views promises 0.15 on queries that are all new cities,
#: where nothing is right.  Unstated, the confidence promises what a query of a place the
#: gallery has never seen gets; ``confidence_seen`` says what a view of a known place would.
CONFIDENCE_NEW_SHARE = 1.0
#: Shares of the raw input in the retrieval distance that :func:`choose_retrieval` tries: 0 is
#: the code alone, 1 the input alone (``GeoKNN`` on the features), between them both blocks,
#: each scaled to unit mean squared distance over the gallery (:func:`block_scale`).
INPUT_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def view_validation_split(groups, train, count, random_state, min_left=2):
    """Hold out single photos of places that stay in training: the other kind of query.

    One photo each of up to ``count`` places (random order) that keep at least
    ``min_left`` photos among ``train``.

    Parameters
    ----------
    groups : ndarray of shape (n,)
    train : ndarray of int
        Rows still in training (after :func:`place_validation_split`).
    count : int
    random_state : int or Generator

    Returns
    -------
    train, views : ndarray of int
        Sorted; ``views`` may be empty.

    Examples
    --------
    >>> groups = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    >>> tr, views = view_validation_split(groups, np.arange(8), 5, 0)
    >>> sorted(groups[views].tolist()), len(tr)
    ([0, 2], 6)
    """
    rng = np.random.default_rng(random_state)
    train = np.asarray(train)
    order = rng.permutation(len(train))
    # one random photo of each place with min_left more, at most count places
    _, pick, sizes = np.unique(groups[train][order], return_index=True, return_counts=True)
    eligible = pick[sizes > min_left]
    eligible = eligible[rng.permutation(eligible.size)[:int(count)]]
    views = np.sort(train[order[eligible]])
    return np.setdiff1d(train, views), views


def place_validation_split(groups, fraction, random_state):
    """Hold out whole places: no held-out place keeps a photo in training.

    Places are taken in random order until ``round(fraction * n)`` photos are
    held out (the last place taken whole); at least one place stays in training.

    Parameters
    ----------
    groups : ndarray of shape (n,)
        Place of each photo (POI labels, or the user's ``groups``).
    fraction : float
    random_state : int or Generator

    Returns
    -------
    train, validation : ndarray of int
        Sorted row indices (``validation`` empty with a single place).

    Examples
    --------
    >>> tr, va = place_validation_split(np.array([0, 0, 1, 1, 2, 2, 3, 3]), 0.25, 0)
    >>> len(va), set(np.array([0, 0, 1, 1, 2, 2, 3, 3])[va]).isdisjoint(
    ...     np.array([0, 0, 1, 1, 2, 2, 3, 3])[tr])
    (2, True)
    """
    groups = np.asarray(groups)
    held = _whole_groups(groups, int(round(fraction * groups.size)),
                         np.random.default_rng(random_state))
    return np.flatnonzero(~held), np.flatnonzero(held)


def _whole_groups(labels, want, rng, max_size=None):
    """Which rows belong to whole groups of ``labels`` taken in random order until ``want``
    rows are (the last group taken whole); one group always stays, and groups of more than
    ``max_size`` rows are passed over (None: none is)."""
    names, inv, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    order = rng.permutation(len(names))[:-1]  # one stays
    if max_size is not None:
        order = order[sizes[order] <= max_size]
    taken = order[: int(np.searchsorted(np.cumsum(sizes[order]), want)) + 1] if want else order[:0]
    return np.isin(inv, taken)


def head_candidates(scales):
    """``{label: (head, parameters)}`` tried by ``head="auto"`` at a gallery's scales.

    1-NN; the KDE head at each width; coarse to fine, the KDE at each wider
    width refined at the finest (``kde_refine_km``); Mean-Shift.

    Examples
    --------
    >>> sorted(head_candidates({"kde_sigmas_km": (25.0, 200.0), "meanshift_km": 750.0}))
    ['1nn', 'kde@200>25km', 'kde@200km', 'kde@25km', 'meanshift@750km']
    """
    out = {"1nn": ("1nn", {})}
    fine, *wider = (float(s) for s in scales["kde_sigmas_km"])
    for sigma in (fine, *wider):
        out[f"kde@{sigma:g}km"] = ("kde", {"kde_sigma_km": sigma})
    for sigma in wider:
        out[f"kde@{sigma:g}>{fine:g}km"] = ("kde", {"kde_sigma_km": sigma, "kde_refine_km": fine})
    ms = float(scales["meanshift_km"])
    out[f"meanshift@{ms:g}km"] = ("meanshift", {"meanshift_bandwidth_km": ms})
    return out


def neighbors_needed(candidates, n_neighbors="auto"):
    """The most neighbours any candidate head votes over (before capping at the gallery size).

    Examples
    --------
    >>> cands = head_candidates({"kde_sigmas_km": (25.0,), "meanshift_km": 750.0})
    >>> neighbors_needed(cands), neighbors_needed(cands, 300)
    (120, 300)
    """
    return max(resolve_k(h, n_neighbors, np.inf) for h, _ in candidates.values())


def score_heads(candidates, gps_neighbors, distances, gps_true, thresholds_km, gates=(), gate_km=25.0,
                n_neighbors="auto", weights=None, return_errors=False, **head_kw):
    """Mean accuracy at ``thresholds_km`` (:func:`~dgae.metrics.mean_accuracy`) of every
    candidate head, ungated and gated.  Inputs are taken as validated (inside ``fit``).

    Parameters
    ----------
    candidates : dict
        :func:`head_candidates`.
    gps_neighbors : ndarray of shape (n, k, 2)
        Each query's neighbours' locations, nearest first (``k`` at least each
        head's default count; fewer are used as available).
    distances : ndarray of shape (n, k)
    gps_true : ndarray of shape (n, 2)
    thresholds_km : sequence of float
    gates : sequence of float
        ``match_gate`` values tried with every voting head, each with both
        ``gate_head`` values (see :func:`~dgae._heads.apply_head`).
    gate_km : float
        Their ``gate_km``.
    n_neighbors : int or "auto"
        Neighbours each head votes over, as at ``predict``
        (:func:`~dgae._heads.resolve_k`; at most ``k``).
    weights : ndarray of shape (n,) or None
        Per-query weights of the accuracies (:func:`mix_weights`); None: all equal.
    return_errors : bool, default=False
        Also return each label's errors.
    **head_kw
        Other head parameters (``min_votes``, ``kde_power``).

    Returns
    -------
    scores : dict
        ``{label: score}``; a gated head's label ends in ``|fine<gate`` (the fine KDE
        locates the gated queries) or ``|1nn<gate`` (the nearest neighbour).
    heads : dict
        ``{label: (head, parameters)}``, the gated ones with ``match_gate``.
    errors : dict
        With ``return_errors``: ``{label: ndarray of shape (n,)}``, each query's error in km.
    """
    scores, heads, errors = {}, {}, {}
    ratio = match_ratio(gps_neighbors, distances, gate_km)
    kde, fine = _kde_predictions(candidates, gps_neighbors, distances, n_neighbors,
                                 gate_km if len(gates) else None, head_kw)
    first = gps_neighbors[:, 0].astype(np.float64)
    for label, (head, params) in candidates.items():
        k = resolve_k(head, n_neighbors, gps_neighbors.shape[1])
        pred = kde[label] if label in kde else apply_head(
            head, gps_neighbors[:, :k], distances[:, :k], **{**head_kw, **params})
        errors[label] = great_circle_km(gps_true, pred)
        heads[label] = (head, params)
        for gate in gates if head != "1nn" else ():
            for gate_head, close_pred in (("kde", fine[k]), ("1nn", first)):
                gated = np.where((ratio <= gate)[:, None], close_pred, pred)
                key = f"{label}|{'fine' if gate_head == 'kde' else '1nn'}<{gate:.4g}"
                errors[key] = great_circle_km(gps_true, gated)
                heads[key] = (head, {**params, "match_gate": float(gate), "gate_km": float(gate_km),
                                     "gate_head": gate_head})
    scores = {key: mean_within(e, thresholds_km, weights) for key, e in errors.items()}
    return (scores, heads, errors) if return_errors else (scores, heads)


def paired_gap(hits_a, hits_b, weights):
    """The weighted mean of ``hits_a - hits_b`` over the same queries and its standard error.

    Examples
    --------
    >>> gap, se = paired_gap(np.array([1.0, 1.0, 0.0, 1.0]), np.zeros(4), np.ones(4))
    >>> float(gap), round(float(se), 4)
    (0.75, 0.2165)
    """
    d = np.asarray(hits_a, dtype=np.float64) - np.asarray(hits_b, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    gap = float(w @ d)
    return gap, float(np.sqrt(np.sum(w ** 2 * (d - gap) ** 2)))


def weighted_median(values, weights):
    """The smallest value at which the weights of the values up to it reach half (to a
    relative 1e-9: equal weights that sum to exactly half in exact arithmetic may not in
    floating point).

    Examples
    --------
    >>> float(weighted_median(np.array([5.0, 1.0, 3.0]), np.array([1.0, 1.0, 3.0])))
    3.0
    >>> float(weighted_median(np.repeat([400.0, 3000.0], 6), np.full(12, 1 / 12)))
    400.0
    """
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    return values[order][np.searchsorted(cum, (0.5 - 1e-9) * cum[-1])]


def one_se_choice(scores, errors, thresholds_km, weights):
    """The label :func:`choose_head` keeps among scored heads: of those whose score is within
    one paired standard error (:func:`paired_gap`) of the best's, the one with the smallest
    weighted median error (ties: the higher score, then the first).

    The one-standard-error rule of model selection (Breiman et al., *Classification and
    Regression Trees*, 1984; Hastie et al., *The Elements of Statistical Learning*, 7.10):
    heads the held-out photos cannot tell apart are ranked by a second statistic instead of
    by noise.  The median error is the one users compare besides the accuracy at the
    thresholds -- and among tied heads it favours those that place a query in the right
    region when they miss the spot.

    Parameters
    ----------
    scores : dict
        ``{label: score}``, the weighted mean accuracy of each head (:func:`score_heads`).
    errors : dict
        ``{label: ndarray of shape (n,)}``, each held-out photo's error in km under that head.
    thresholds_km : sequence of float
        The thresholds the scores average over.
    weights : ndarray of shape (n,)
        The held-out photos' weights (:func:`mix_weights`).

    Returns
    -------
    label : str

    Examples
    --------
    >>> errors = {"a": np.array([0.0, 0, 0, 2000, 2000, 2000, 2000]),   # 3 at the spot
    ...           "b": np.array([400.0, 400, 400, 400, 400, 2000, 2000])}  # 5 in the region
    >>> scores = {k: float(hit_rates(e, (1.0, 500.0)).mean()) for k, e in errors.items()}
    >>> round(scores["a"], 3), round(scores["b"], 3)
    (0.429, 0.357)
    >>> one_se_choice(scores, errors, (1.0, 500.0), np.ones(7))
    'b'
    >>> errors["a"] = np.array([0.0, 0, 0, 0, 0, 0, 2000])
    >>> scores["a"] = float(hit_rates(errors["a"], (1.0, 500.0)).mean())
    >>> one_se_choice(scores, errors, (1.0, 500.0), np.ones(7))
    'a'
    """
    best = max(scores, key=scores.get)
    top = hit_rates(errors[best], thresholds_km)
    tied = [label for label in scores
            if scores[best] - scores[label]
            <= paired_gap(top, hit_rates(errors[label], thresholds_km), weights)[1]]
    return min(tied, key=lambda label: (weighted_median(errors[label], weights), -scores[label]))


def _kde_predictions(candidates, gps_neighbors, distances, n_neighbors, gate_km, head_kw):
    """:func:`score_heads`' KDE estimates, the geometry of each neighbour count computed once
    (:func:`~dgae._heads.kde_modes`): ``{label: estimate}`` of the KDE candidates set by
    width alone, and ``{k: estimate}`` of the fine KDE at ``gate_km`` over the ``k`` of each
    voting head, which gated queries take (none when ``gate_km`` is None)."""
    jobs = {}  # k -> {label: (sigma_km, refine_km)}; label None: the gates' fine KDE
    for label, (head, params) in candidates.items():
        k = resolve_k(head, n_neighbors, gps_neighbors.shape[1])
        if head == "kde" and set(params) <= {"kde_sigma_km", "kde_refine_km"}:
            jobs.setdefault(k, {})[label] = (params["kde_sigma_km"], params.get("kde_refine_km"))
        if head != "1nn" and gate_km is not None:
            jobs.setdefault(k, {})[None] = (float(gate_km), None)
    kde, fine = {}, {}
    rows = np.arange(len(gps_neighbors))
    for k, todo in jobs.items():
        nbrs = gps_neighbors[:, :k].astype(np.float64)
        found = kde_modes(nbrs, distances[:, :k], list(todo.values()),
                          head_kw.get("kde_power", 10.0))
        for label, best in zip(todo, found):
            if label is None:
                fine[k] = nbrs[rows, best]
            else:
                kde[label] = nbrs[rows, best]
    return kde, fine


def check_groups(groups, n):
    """The place of each of ``n`` photos (``fit(..., groups=)``) as an array, or a ValueError.

    Examples
    --------
    >>> check_groups(["a", "a", "b"], 3).tolist()
    ['a', 'a', 'b']
    """
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
    return groups


def region_blocks(gps, confidence_km, max_size=None):
    """Spatial blocks of a gallery, held out whole as *new regions*.

    Photos linked by chains of photos at most ``REGION_FACTOR`` confidence radii apart form a
    block (single linkage over each photo's 16 nearest positions: 50 km world-wide, where a
    block is a city; 2 km in a country; 200 m in a city), so that a held-out block has no
    training photo within twice the confidence radius -- as a city the gallery has never
    seen.  Where no such block has at most ``max_size`` photos (a dense gallery chains into
    one), mean-shift clusters at the link distance (:class:`dgae.graphs.POIMiner`) instead:
    districts of the chain, with neighbours across their borders.

    Parameters
    ----------
    gps : ndarray of shape (n, 2)
    confidence_km : float
        The gallery's fine scale.
    max_size : int or None
        The most photos a block held out may have (None: any).

    Returns
    -------
    labels : ndarray of shape (n,), int64

    Examples
    --------
    >>> gps = np.array([[45.0, 15.0], [45.3, 15.0], [48.0, 2.0], [48.01, 2.0]])
    >>> region_blocks(gps, 25.0).tolist()
    [0, 0, 1, 1]
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import BallTree

    from .utils import EARTH_RADIUS_KM

    gps = np.asarray(gps, dtype=np.float64)
    link = REGION_FACTOR * float(confidence_km)
    spots, inv = np.unique(np.round(gps, 5), axis=0, return_inverse=True)
    rad = np.radians(spots)
    k = min(REGION_LINKS + 1, len(spots))
    dist, idx = BallTree(rad, metric="haversine").query(rad, k=k)
    near = dist * EARTH_RADIUS_KM <= link
    rows = np.repeat(np.arange(len(spots)), k)[near.ravel()]
    graph = sp.csr_matrix((np.ones(rows.size), (rows, idx.ravel()[near.ravel()])),
                          shape=(len(spots),) * 2)
    labels = connected_components(graph, directed=False)[1][inv.ravel()].astype(np.int64)
    if max_size is not None and np.bincount(labels).min() > max_size:
        from dgae.graphs import POIMiner

        labels = POIMiner(bandwidth_km=link).fit(gps).labels_.astype(np.int64)
    return labels


def kind_budget(n, fraction, max_photos=MAX_HELD_OUT, kinds=3):
    """Photos held out of each kind (:func:`held_out_split`): ``fraction`` of ``n``, at most
    ``max_photos`` in all, shared by ``kinds`` kinds.

    Examples
    --------
    >>> kind_budget(3000, 0.1), kind_budget(664720, 0.1)
    (100.0, 1666.6666666666667)
    """
    return min(fraction, max_photos / n) * n / kinds


def held_out_split(groups, fraction, random_state, max_photos=MAX_HELD_OUT, regions=None):
    """The photos ``head="auto"`` (and DGAE's early stopping) hold out, a third of ``fraction``
    of each kind -- whole regions (``regions``: :func:`region_blocks`), whole places
    (:func:`place_validation_split`) and single views of places that stay
    (:func:`view_validation_split`) -- at most about ``max_photos`` in all.

    A region is taken with every photo of the places (``groups``) it touches, so that no
    held-out region nor place shares a photo or a place with training.  Without ``regions``
    the places and views get half each.

    Parameters
    ----------
    groups : ndarray of shape (n,)
    fraction : float
    random_state : int or Generator
    max_photos : int, default=MAX_HELD_OUT
    regions : ndarray of shape (n,) or None
        Spatial block of each photo.

    Returns
    -------
    train, places, views, regions : ndarray of int
        Sorted rows: trained on, of held-out places, held-out views, of held-out regions.

    Examples
    --------
    >>> groups = np.repeat(np.arange(12), 4)
    >>> blocks = groups // 3                       # 4 regions of 3 places
    >>> train, places, views, regions = held_out_split(groups, 0.6, 0, regions=blocks)
    >>> len(train) + len(places) + len(views) + len(regions)
    48
    >>> set(blocks[regions]) & set(blocks[train]), set(groups[places]) & set(groups[train])
    (set(), set())
    """
    groups = np.asarray(groups)
    n = len(groups)
    rng = np.random.default_rng(random_state)
    share = kind_budget(n, fraction, max_photos, kinds=2 if regions is None else 3) / n
    rows = np.arange(n)
    held_regions, want = rows[:0], round(share * n)
    if regions is not None and want > 0:  # blocks larger than the share must not take the gallery
        held_regions = np.flatnonzero(_whole_groups(np.asarray(regions), want, rng, max_size=want))
        held_regions = np.flatnonzero(np.isin(groups, groups[held_regions]))  # whole places
        if held_regions.size == n:
            held_regions = rows[:0]
        rows = np.setdiff1d(rows, held_regions)
    keep, places = place_validation_split(groups[rows], share * n / max(rows.size, 1), rng)
    train, places = rows[keep], rows[places]
    train, views = view_validation_split(groups, train, round(share * n), rng)
    return train, places, views, held_regions


def gallery_held_out(groups, gps, confidence_km, fraction, random_state,
                     max_photos=MAX_HELD_OUT):
    """:func:`held_out_split` with the gallery's own regions: :func:`region_blocks` at its
    confidence radius, none larger than one kind's share (:func:`kind_budget`).  What DGAE
    and ``GeoKNN(head="auto")`` hold out.

    Returns
    -------
    train, places, views, regions : ndarray of int

    Examples
    --------
    >>> towns = np.array([[45, 15], [48, 2], [40, -3], [52, 13], [41, 12], [50, 4], [38, 23],
    ...                   [59, 18]], float)
    >>> gps = np.repeat(towns, 3, axis=0)             # 8 towns 300+ km apart, 3 photos each
    >>> train, places, views, regions = gallery_held_out(np.arange(24) // 3, gps, 25.0, 0.5, 0)
    >>> len(train) + len(places) + len(views) + len(regions), len(regions) > 0
    (24, True)
    """
    blocks = region_blocks(gps, confidence_km,
                           max_size=kind_budget(len(groups), fraction, max_photos))
    return held_out_split(groups, fraction, random_state, max_photos, regions=blocks)


def held_out_kinds(places, views, regions):
    """The held-out rows, sorted, and the kind of each (:data:`VIEW`, :data:`PLACE`,
    :data:`REGION`).

    Examples
    --------
    >>> held, kind = held_out_kinds(np.array([4]), np.array([1, 7]), np.array([2, 3]))
    >>> held.tolist(), kind.tolist()
    ([1, 2, 3, 4, 7], [0, 2, 2, 1, 0])
    """
    held = np.concatenate([views, places, regions]).astype(np.int64)
    kind = np.repeat([VIEW, PLACE, REGION], [len(views), len(places), len(regions)])
    order = np.argsort(held, kind="stable")
    return held[order], kind[order]


def confidence_share(new_place_share=None):
    """The share of new ground the confidence is calibrated for: the one stated, else
    :data:`CONFIDENCE_NEW_SHARE`.

    Examples
    --------
    >>> confidence_share(), confidence_share(0.25)
    (1.0, 0.25)
    """
    return CONFIDENCE_NEW_SHARE if new_place_share is None else float(new_place_share)


def mix_shares(new_place_share=None):
    """The query mix ``(views, places, regions)``: ``new_place_share`` on new ground, half on
    new places and half on new regions (None: :data:`DEFAULT_NEW_SHARE`).

    Examples
    --------
    >>> mix_shares(1.0), [round(s, 3) for s in mix_shares()]
    ((0.0, 0.5, 0.5), [0.333, 0.333, 0.333])
    """
    s = DEFAULT_NEW_SHARE if new_place_share is None else float(new_place_share)
    return (1.0 - s, s / 2.0, s / 2.0)


def present_shares(counts, new_place_share=None):
    """The query mix (:func:`mix_shares`) over the kinds held out: a missing kind of new
    ground (places, regions) leaves its share to the other, missing views leave theirs to
    new ground and missing new ground to the views; shares sum to 1 (all 0 without photos).

    Examples
    --------
    >>> present_shares([5, 3, 0], 0.5), present_shares([0, 3, 2], 0.0)
    ((0.5, 0.5, 0.0), (0.0, 0.5, 0.5))
    """
    have = np.asarray(counts)[:3] > 0
    v, p, r = mix_shares(new_place_share)
    if not (have[PLACE] and have[REGION]):  # one kind of new ground stands for both
        new = p + r
        p, r = (new if have[PLACE] else 0.0), (new if have[REGION] else 0.0)
        if not (have[PLACE] or have[REGION]):
            v += new
    v = v if have[VIEW] else 0.0
    shares = np.array([v, p, r])
    if shares.sum() == 0:  # the mix weighs only kinds that are missing: as they fall
        shares = have.astype(np.float64)
    total = shares.sum()
    return tuple(float(x) for x in (shares / total if total else shares))


def mix_weights(kind, new_place_share=None):
    """Weights of held-out photos that make them stand for the query mix of
    :func:`present_shares`: each kind's weights sum to its share of ``len(kind)``.

    Parameters
    ----------
    kind : ndarray of int, shape (n,)
        :data:`VIEW`, :data:`PLACE` or :data:`REGION` (a bool array: True for a place).
    new_place_share : float or None

    Returns
    -------
    weights : ndarray of shape (n,), float64

    Examples
    --------
    >>> mix_weights(np.array([1, 0, 0, 0]), 0.5).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    >>> mix_weights(np.array([2, 1, 0]), None).round(3).tolist()
    [1.0, 1.0, 1.0]
    """
    kind = np.asarray(kind).astype(np.int64)
    counts = np.bincount(kind, minlength=3)[:3].astype(np.float64)
    shares = np.asarray(present_shares(counts, new_place_share))
    per_photo = np.divide(shares * kind.size, counts, out=np.zeros(3), where=counts > 0)
    return per_photo[kind]


def held_out_k(candidates, n_neighbors, n_train):
    """Neighbours each held-out photo is searched for: every candidate head's and the
    confidence's (``CONFIDENCE_POOL``), at most the training photos.

    Examples
    --------
    >>> held_out_k({"1nn": ("1nn", {})}, "auto", 50)
    50
    """
    return min(max(neighbors_needed(candidates, n_neighbors), CONFIDENCE_POOL), n_train)


def choose_head(features, gps, train, held, kind, candidates, thresholds_km, gate_km, *,
                n_neighbors="auto", min_votes=4, kde_power=10.0, device="cpu",
                new_place_share=None, neighbors=None):
    """The head that best locates held-out photos among the training photos, in two stages,
    both scored by the mean accuracy at ``thresholds_km`` weighted to the query mix
    (:func:`mix_weights`), so that a head that serves every kind (coarse to fine: the region
    most neighbours vote for, then the spot inside it) is preferred to one that serves new
    ground alone and needs the gate for views:

    1. the candidate: of those within one paired standard error of the best score, the one
       with the smallest weighted median error (:func:`one_se_choice`);
    2. its ``match_gate``: the best-scoring of none and :func:`match_gates` (queries with a
       close match go to 1-NN or the fine KDE).

    Parameters
    ----------
    features : ndarray of shape (n, d)
        The retrieval space (features or codes) of the gallery.
    gps : ndarray of shape (n, 2)
    train, held : ndarray of int
        Rows searched among, rows located.
    kind : ndarray of int, shape (len(held),)
        :data:`VIEW`, :data:`PLACE` or :data:`REGION` of each held-out row (a bool array:
        True for a place).
    candidates : dict
        :func:`head_candidates`.
    thresholds_km : sequence of float
    gate_km : float
    n_neighbors, min_votes, kde_power
        As the estimator's.
    device : {"cpu", "gpu"}
    new_place_share : float or None, default=None
        The share of new ground in the queries chosen for (:func:`mix_shares`).
    neighbors : tuple of ndarray or None, default=None
        ``(distances, indices)`` of the held-out rows among the training rows, at least
        :func:`neighbors_needed` and ``CONFIDENCE_POOL`` of them, if already searched.

    Returns
    -------
    choice : sklearn.utils.Bunch
        ``head``, ``params`` (the candidate's, with its gate), ``label``, ``score`` (its
        weighted score on all held-out photos), ``best_score`` (the best of any head and
        gate scored: the space's score in :func:`choose_retrieval`), ``head_scores``,
        ``gate_scores`` (the chosen head's, ungated and gated), and
        ``neighbors`` (locations), ``distances``, ``truth``, ``weights``, ``kind`` of the
        held-out photos (to calibrate a confidence on).

    Examples
    --------
    >>> gps = np.repeat([[45.0, 15.0], [10.0, 10.0], [45.0, 16.0]], 4, axis=0)
    >>> X = np.repeat(np.eye(3), 4, axis=0) + 0.01 * np.arange(12)[:, None]
    >>> cands = head_candidates({"kde_sigmas_km": (25.0, 200.0), "meanshift_km": 750.0})
    >>> c = choose_head(X, gps, np.arange(0, 12, 2), np.arange(1, 12, 2), np.zeros(6, int),
    ...                 cands, (1.0, 25.0), 25.0)
    >>> c.label
    '1nn'
    """
    from sklearn.utils import Bunch

    from dgae.utils import nearest_neighbors

    kind = np.asarray(kind).astype(np.int64)
    label = next(iter(candidates))
    if neighbors is None:
        k = held_out_k(candidates, n_neighbors, len(train))
        neighbors = nearest_neighbors(features[held], features[train], k, device=device)
    dist, idx = neighbors
    nbrs, truth = gps[train][idx], gps[held]
    kw = dict(min_votes=min_votes, kde_power=kde_power, n_neighbors=n_neighbors)
    weights = mix_weights(kind, new_place_share)
    head_scores, top = {}, label
    if len(held):
        head_scores, _, errors = score_heads(candidates, nbrs, dist, truth, thresholds_km,
                                             weights=weights, return_errors=True, **kw)
        top = max(head_scores, key=head_scores.get)
        label = one_se_choice(head_scores, errors, thresholds_km, weights)
    scored = {name: candidates[name] for name in dict.fromkeys((label, top))}
    scores, heads = score_heads(scored, nbrs, dist, truth, thresholds_km, gate_km=gate_km,
                                gates=match_gates(nbrs, dist, gate_km), weights=weights, **kw)
    gate_scores = {key: v for key, v in scores.items() if key.split("|")[0] == label}
    label = max(gate_scores, key=gate_scores.get)
    return Bunch(head=heads[label][0], params=dict(heads[label][1]), label=label,
                 score=float(gate_scores[label]), best_score=float(max(scores.values())),
                 head_scores=head_scores,
                 gate_scores=gate_scores, neighbors=nbrs, distances=dist, truth=truth,
                 weights=weights, kind=kind)


def confidence_by_kind(confidence, within, kind, seen=None):
    """The confidence against the outcome on held-out photos, kind by kind.

    Parameters
    ----------
    confidence : ndarray of shape (n,)
    within : ndarray of bool, shape (n,)
    kind : ndarray of int, shape (n,)
        :data:`VIEW`, :data:`PLACE` or :data:`REGION`.
    seen : ndarray of shape (n,) or None, default=None
        The confidence if the photo is a view of a known place (``confidence_seen``).

    Returns
    -------
    table : dict
        ``{name: {"n", "observed", "confidence"}}`` for each kind present (names of
        :data:`KIND_NAMES`; with ``seen``, also ``"confidence_seen"``: its mean), and
        ``"auroc"``: ``{"views / new ground", "places / regions"}``, the AUROC of the confidence for telling the first from the second (NaN where a side
        is missing).

    Examples
    --------
    >>> t = confidence_by_kind(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0], bool),
    ...                        np.array([0, 0, 1, 2]))
    >>> t["views"]["observed"], t["auroc"]["views / new ground"]
    (1.0, 1.0)
    """
    from sklearn.metrics import roc_auc_score

    confidence, within, kind = np.asarray(confidence), np.asarray(within), np.asarray(kind)
    table = {}
    for k, name in enumerate(KIND_NAMES):
        s = kind == k
        if s.any():
            table[name] = {"n": int(s.sum()), "observed": float(within[s].mean()),
                           "confidence": float(confidence[s].mean())}
            if seen is not None:
                table[name]["confidence_seen"] = float(np.asarray(seen)[s].mean())

    def auroc(rows, target):
        y = target[rows]
        return float(roc_auc_score(y, confidence[rows])) if 0 < y.sum() < y.size else float("nan")

    table["auroc"] = {"views / new ground": auroc(slice(None), kind == VIEW),
                      "places / regions": auroc(kind != VIEW, kind == PLACE)}
    return table


#: Rows per block of :func:`block_scale`'s passes.
SCALE_CHUNK = 4096


def block_scale(X, rows=None):
    """``1 / sqrt(mean squared distance between two rows of X)``: the factor that gives a block
    of features unit mean squared distance (``2 * total variance``; 1 for a constant block).

    Two passes over blocks of ``SCALE_CHUNK`` rows (the mean, then the squared deviations), in
    float64 a block at a time: neither a float64 copy of ``X`` (16 GiB for 664,720 Im2GPS
    rows) nor a copy of the ``rows`` taken.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    rows : ndarray of int or None
        The rows measured (None: all).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [9.0, 9.0]])  # rows 0, 1: squared distances 0, 4
    >>> round(block_scale(X, rows=np.array([0, 1])), 4), round(block_scale(10 * X[:2]) * 10, 4)
    (0.7071, 0.7071)
    """
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    if rows.size < 2:
        return 1.0
    blocks = [rows[r0:r0 + SCALE_CHUNK] for r0 in range(0, rows.size, SCALE_CHUNK)]
    mean = sum(np.asarray(X[b], dtype=np.float64).sum(axis=0) for b in blocks) / rows.size
    sq = sum(float(((np.asarray(X[b], dtype=np.float64) - mean) ** 2).sum()) for b in blocks)
    msd = 2.0 * sq / rows.size
    return float(1.0 / np.sqrt(msd)) if msd > 0 else 1.0


def retrieval_label(input_share):
    """The printed name of a retrieval space.

    Examples
    --------
    >>> retrieval_label(0.0), retrieval_label(1.0), retrieval_label(0.25)
    ('code', 'input', 'code+input@0.25')
    """
    share = float(input_share)
    return "code" if share == 0 else "input" if share == 1 else f"code+input@{share:g}"


def retrieval_features(codes, inputs, input_share, scales):
    """The space the head searches: ``[sqrt(1 - s) * a * codes, sqrt(s) * b * inputs]`` with
    ``s = input_share`` and ``(a, b) = scales`` (:func:`block_scale` of each block on the
    gallery) -- a squared distance that is ``1 - s`` parts code and ``s`` parts input; a block
    of weight 0 is left out (``s = 0``: the codes as they are; ``s = 1``: the input as it is).

    Parameters
    ----------
    codes : ndarray of shape (n, d_code)
    inputs : ndarray of shape (n, d_input)
    input_share : float in [0, 1]
    scales : tuple of float

    Returns
    -------
    features : ndarray of shape (n, d), float32

    Examples
    --------
    >>> F = retrieval_features(np.ones((2, 3)), np.zeros((2, 5)), 0.5, (1.0, 1.0))
    >>> F.shape, retrieval_features(np.ones((2, 3)), np.zeros((2, 5)), 0.0, (2.0, 1.0)).shape
    ((2, 8), (2, 3))
    """
    s = float(input_share)
    if s == 0:
        return np.asarray(codes, dtype=np.float32)
    if s == 1:
        return np.asarray(inputs, dtype=np.float32)
    a = np.float32(np.sqrt(1.0 - s) * scales[0])
    b = np.float32(np.sqrt(s) * scales[1])
    dc = codes.shape[1]
    out = np.empty((len(codes), dc + inputs.shape[1]), dtype=np.float32)
    for r0 in range(0, len(out), SCALE_CHUNK):  # filled in place: no scaled copy of a block
        rows = slice(r0, r0 + SCALE_CHUNK)        # (an 8 GiB temporary at 664,720 photos)
        np.multiply(np.asarray(codes[rows], np.float32), a, out=out[rows, :dc])
        np.multiply(np.asarray(inputs[rows], np.float32), b, out=out[rows, dc:])
    return out


#: Held-out rows per block of :func:`space_neighbors` (two (rows, n_train) float32 tiles).
SPACE_BLOCK = 128
#: Training rows :func:`space_neighbors` copies at once (Im2GPS: 780 MB).
TRAIN_CHUNK = 65_536
#: Training rows from which :func:`space_neighbors`, given the input's principal components,
#: searches them instead of the input and re-ranks the candidates exactly: the exact search of
#: 5,000 held-out photos among 660,000 in the 2,971-d Im2GPS input was ~3/4 of a 459 s head
#: stage (docs/scaling.md).  Below it the search stays exact: it takes under ~85 s there
#: (102.6 s at 245,000, ``benchmarks/bench_space_search.py``), and the re-rank's fixed ~15 s
#: for 5,000 held-out photos would take much of what the reduced pass saves.
REDUCED_MIN_TRAIN = 200_000
#: Candidates per held-out row and space that the reduced search keeps for the exact re-rank:
#: this many times ``k`` (on world_streetview's Im2GPS descriptors, 256 components, every one
#: of the 120 exact nearest was among 4 x 120; on the bench replica at 245,000 photos, whose
#: 256 components hold 59 % of the variance, 91-100 % by input share).
REDUCED_RERANK = 4


def space_neighbors(codes, inputs, train, held, shares, scales, k, device="cpu", reduced=None,
                    reduced_min_train=None):
    """The ``k`` nearest training rows of each held-out row in each retrieval space
    (:func:`retrieval_features` at each of ``shares``).

    On the CPU the squared distances of the two blocks are computed once per block of held-out
    rows and mixed for every share (a space's squared distance is ``(1 - s) a^2 |dh|^2 + s b^2
    |dX|^2``): one pass over the input instead of one per share -- the input is the wide
    block (2,971 Im2GPS values against a 128-wide code) -- and the training rows are copied
    ``TRAIN_CHUNK`` at a time, the best ``k`` kept across chunks (a copy of all of them took
    7 GiB at 664,720 photos).  From ``REDUCED_MIN_TRAIN`` training rows on, given the input's
    principal components (``reduced``), that pass runs on them instead, keeps
    ``REDUCED_RERANK * k`` candidates a space, and re-ranks them by exact distances: the
    result is exact wherever the true neighbours are among the candidates.  On a GPU, one
    exact search per space.

    Parameters
    ----------
    codes, inputs : ndarray of shape (n, d_code) and (n, d_input)
    train, held : ndarray of int
        Training and held-out rows.
    shares : sequence of float
    scales : tuple of float
        :func:`block_scale` of the codes and the input.
    k : int
    device : str, default="cpu"
    reduced : tuple (Z, factor), optional
        ``Z`` of shape (n, r): the input's principal-component scores times ``1 / factor``
        (e.g. ``ShrunkWhitening``'s output and ``1 / scale_``): ``Z * factor`` has the input's
        units.
    reduced_min_train : int, optional
        Training rows from which ``reduced`` is searched (default ``REDUCED_MIN_TRAIN``).

    Returns
    -------
    found : dict
        ``{share: (distances, indices)}``, float32 and int64 of shape (len(held), k), nearest
        first; indices are positions in ``train``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> C, X = rng.normal(size=(30, 3)), rng.normal(size=(30, 5))
    >>> found = space_neighbors(C, X, np.arange(10, 30), np.arange(10), (0.0, 0.5), (1.0, 1.0), 4)
    >>> from dgae.utils import nearest_neighbors
    >>> F = retrieval_features(C, X, 0.5, (1.0, 1.0))
    >>> bool((found[0.5][1] == nearest_neighbors(F[:10], F[10:], 4)[1]).all())
    True
    """
    from dgae.utils import nearest_neighbors

    if device != "cpu" or len(shares) == 1:
        out = {}
        for share in shares:
            space = retrieval_features(codes, inputs, share, scales)
            out[share] = nearest_neighbors(space[held], space[train], k, device=device)
        return out
    train, held = np.asarray(train), np.asarray(held)
    least = REDUCED_MIN_TRAIN if reduced_min_train is None else reduced_min_train
    if (reduced is not None and len(train) >= least
            and 2 * reduced[0].shape[1] <= inputs.shape[1]):
        Z, factor = reduced
        wide = min(REDUCED_RERANK * k, len(train))
        factor = (np.float32(scales[1]) * np.asarray(factor, np.float32)).astype(np.float32)
        found = _mixed_search(((codes, np.float32(scales[0])), (Z, factor)), train, held,
                              shares, wide)
        best = _rerank_spaces(codes, inputs, train, held, found, scales, k)
    else:
        best = _mixed_search(((codes, np.float32(scales[0])), (inputs, np.float32(scales[1]))),
                             train, held, shares, k)
    # a lone block is searched as it is (retrieval_features), unscaled: distances in its units
    unit = {0.0: scales[0], 1.0: scales[1]}
    out = {}
    for share, (d2, idx) in best.items():
        order = np.argsort(d2, axis=1, kind="stable")
        dist = np.sqrt(np.take_along_axis(d2, order, axis=1))
        out[share] = ((dist / np.float32(unit.get(float(share), 1.0))).astype(np.float32),
                      np.take_along_axis(idx, order, axis=1))
    return out


def _mixed_search(blocks, train, held, shares, k):
    """``{share: (squared distances, positions in train)}``, the ``k`` smallest of each held-out
    row in each share's mix of the two ``(array, scale)`` blocks (a scale is a number or one
    per column), unsorted; see :func:`space_neighbors`."""
    starts = range(0, len(train), TRAIN_CHUNK)

    def chunk(X, c0):  # own float32 copy of a chunk of training rows (centred in place)
        return np.array(X[train[c0:c0 + TRAIN_CHUNK]], dtype=np.float32)

    prepped = []  # per block: its array, the held-out rows centred and scaled, centre, scale,
    for X, scale in blocks:  # and the first chunk's copy
        first = chunk(X, 0)
        if len(starts) == 1:  # the training rows' own float32 mean
            mu = first.mean(axis=0)
        else:                 # a float64 mean a chunk at a time: no copy of every training row
            mu = (sum(np.asarray(X[train[c0:c0 + TRAIN_CHUNK]], np.float64).sum(axis=0)
                      for c0 in starts) / len(train)).astype(np.float32)
        H = np.array(X[held], dtype=np.float32)
        H -= mu
        H *= scale
        prepped.append([X, H, np.einsum("ij,ij->i", H, H), mu, scale, first])
    best = {share: (np.full((len(held), k), np.inf, np.float32),
                    np.full((len(held), k), -1, np.int64)) for share in shares}
    for c0 in starts:  # the training rows a chunk at a time (7 GiB of Im2GPS at 664,720)
        prepared = []
        for block in prepped:
            X, H, hn, mu, scale, first = block
            T = chunk(X, c0) if first is None else first
            block[5] = None  # the first chunk's copy serves once
            T -= mu
            T *= scale
            prepared.append((H, hn, T, np.einsum("ij,ij->i", T, T)))
        for r0 in range(0, len(held), SPACE_BLOCK):
            rows = slice(r0, r0 + SPACE_BLOCK)
            sq = []
            for H, hn, T, tn in prepared:  # |h|^2 + |t|^2 - 2 h.t, in place
                d2 = H[rows] @ T.T
                d2 *= -2.0
                d2 += tn[None, :]
                d2 += hn[rows, None]
                sq.append(np.maximum(d2, 0.0, out=d2))
            mixed, part = np.empty_like(sq[0]), np.empty_like(sq[0])
            for share in shares:
                if share in (0.0, 1.0):
                    d2 = sq[int(share)]
                else:  # (1 - s) sq0 + s sq1, without temporaries
                    d2 = np.multiply(sq[0], np.float32(1.0 - share), out=mixed)
                    d2 += np.multiply(sq[1], np.float32(share), out=part)
                _merge_below(*best[share], rows, d2, c0, k)
    return best


def _merge_below(best_d, best_i, rows, d2, c0, k):
    """Merge one tile's entries below each row's current ``k``-th best into ``best_d`` /
    ``best_i`` (in place).  After the first chunk few entries pass the threshold: they are
    gathered and merged, instead of partitioning every tile (~a fifth of the search at
    250,000 photos)."""
    bd, bi = best_d[rows], best_i[rows]
    if c0 == 0 and d2.shape[1] > k:  # the first chunk: its own best k
        top = np.argpartition(d2, k - 1, axis=1)[:, :k]
        best_d[rows], best_i[rows] = np.take_along_axis(d2, top, axis=1), top + c0
        return
    hit = d2 < bd.max(axis=1)[:, None]
    counts = np.count_nonzero(hit, axis=1)
    most = int(counts.max()) if counts.size else 0
    if most == 0:
        return
    if most > d2.shape[1] // 8:  # many pass (a narrow first chunk): the tile's own best k first
        top = (np.argpartition(d2, k - 1, axis=1)[:, :k] if d2.shape[1] > k else
               np.broadcast_to(np.arange(d2.shape[1]), d2.shape))
        cd = np.concatenate([bd, np.take_along_axis(d2, top, axis=1)], axis=1)
        ci = np.concatenate([bi, top + c0], axis=1)
    else:
        r, c = np.nonzero(hit)  # row-major: each row's hits together
        pos = np.arange(r.size) - np.repeat(np.cumsum(counts) - counts, counts)
        cd = np.full((len(d2), k + most), np.inf, np.float32)
        ci = np.full((len(d2), k + most), -1, np.int64)
        cd[:, :k], ci[:, :k] = bd, bi
        cd[r, k + pos], ci[r, k + pos] = d2[r, c], c + c0
    best_d[rows], best_i[rows] = _top_k(cd, ci, k)


def _rerank_spaces(codes, inputs, train, held, found, scales, k):
    """Each held-out row's ``k`` nearest in each share among the union of its candidates in
    every share (``found``: :func:`_mixed_search`'s), by exact squared distances (differences,
    not the expanded dot products: no cancellation)."""
    a2, b2 = np.float32(scales[0]) ** 2, np.float32(scales[1]) ** 2
    # the code alone (share 0) was searched exactly in the reduced pass: its own best k
    out = {0.0: _top_k(*found[0.0], k)} if 0.0 in found else {}
    mixed = {share: (np.empty((len(held), k), np.float32), np.empty((len(held), k), np.int64))
             for share in found if share != 0.0}
    pool = np.concatenate([found[share][1] for share in mixed], axis=1)
    for i, row in enumerate(held):
        cand = np.unique(pool[i])
        rows = train[cand]
        dc = np.asarray(codes[rows], np.float32) - np.asarray(codes[row], np.float32)
        dx = np.asarray(inputs[rows], np.float32) - np.asarray(inputs[row], np.float32)
        dc, dx = a2 * np.einsum("ij,ij->i", dc, dc), b2 * np.einsum("ij,ij->i", dx, dx)
        for share, (d_out, i_out) in mixed.items():
            d2 = np.float32(1.0 - share) * dc + np.float32(share) * dx
            top = np.argpartition(d2, k - 1)[:k] if k < d2.size else np.arange(d2.size)
            d_out[i], i_out[i] = d2[top], cand[top]
    return {**out, **mixed}


def _top_k(d2, idx, k):
    """Each row's ``k`` smallest of ``(squared distances, indices)``, unsorted (all of them
    where a row has at most ``k``)."""
    if d2.shape[1] <= k:
        return d2, idx
    keep = np.argpartition(d2, k - 1, axis=1)[:, :k]
    return np.take_along_axis(d2, keep, axis=1), np.take_along_axis(idx, keep, axis=1)


def choose_retrieval(codes, inputs, gps, train, held, kind, candidates, thresholds_km, gate_km,
                     shares=INPUT_SHARES, reduced=None, **kw):
    """The retrieval space (:func:`retrieval_features` at each of ``shares``) in which a head
    scores best on all held-out photos, weighted to the query mix (``best_score`` of
    :func:`choose_head`); on a tie the smaller input share.  Block scales are measured on the
    training rows.

    Parameters
    ----------
    codes, inputs : ndarray of shape (n, d_code) and (n, d_input), or None
        The gallery's codes and raw input; ``inputs=None``: the codes are the one space
        (``GeoKNN``'s features: ``shares`` is ``(0.0,)``, nothing to scale, ``scales`` 1).
    gps, train, held, kind, candidates, thresholds_km, gate_km
        As :func:`choose_head`'s.
    shares : sequence of float
    reduced : tuple (Z, factor), optional
        The input's principal components, for :func:`space_neighbors` on large galleries.
    **kw
        :func:`choose_head`'s keywords.

    Returns
    -------
    choice : sklearn.utils.Bunch
        :func:`choose_head`'s, with ``input_share``, ``scales`` (code, input) and
        ``retrieval_scores`` (``{label: score}``).

    Examples
    --------
    >>> gps = np.repeat([[45.0, 15.0], [10.0, 10.0], [45.0, 16.0]], 4, axis=0)
    >>> X = np.repeat(np.eye(3), 4, axis=0) + 0.01 * np.arange(12)[:, None]
    >>> noise = np.random.default_rng(0).normal(size=(12, 2))    # codes that learned nothing
    >>> cands = head_candidates({"kde_sigmas_km": (25.0, 200.0), "meanshift_km": 750.0})
    >>> c = choose_retrieval(noise, X, gps, np.arange(0, 12, 2), np.arange(1, 12, 2),
    ...                      np.zeros(6, int), cands, (1.0, 25.0), 25.0)
    >>> c.input_share > 0, c.retrieval_scores["input"] == 1.0
    (True, True)
    """
    if inputs is None:
        shares, scales = (0.0,), (1.0, 1.0)
    else:
        scales = (block_scale(codes, train), block_scale(inputs, train))
    k = held_out_k(candidates, kw.get("n_neighbors", "auto"), len(train))
    found = space_neighbors(codes, inputs, train, held, shares, scales, k, kw.get("device", "cpu"),
                            reduced=reduced)
    best, scores = None, {}
    for share in shares:
        choice = choose_head(None, gps, train, held, kind, candidates, thresholds_km, gate_km,
                             neighbors=found[share], **kw)
        scores[retrieval_label(share)] = choice.best_score
        if best is None or choice.best_score > best.best_score:
            best, best.input_share = choice, float(share)
    best.scales, best.retrieval_scores = scales, scores
    return best


#: ``match_gate`` values ``head="auto"`` tries: these quantiles of the held-out photos'
#: :func:`~dgae._heads.match_ratio` (the ratios of learned codes bunch near 1).  Few on purpose:
#: the best of many options on 60 held-out photos (Croatia) is mostly luck -- with eleven
#: quantiles the chosen gate cost 5 points at 1 km there (docs/experiments.md).
GATE_QUANTILES = (0.5, 0.8, 0.9, 1.0)


def match_gates(gps_neighbors, distances, gate_km):
    """``match_gate`` values to try: :data:`GATE_QUANTILES` of the queries' match ratios.

    Parameters
    ----------
    gps_neighbors : ndarray of shape (n, k, 2)
        Each query's neighbours' locations, nearest first.
    distances : ndarray of shape (n, k)
    gate_km : float
        The ratio's distance (:func:`~dgae._heads.match_ratio`).

    Returns
    -------
    gates : ndarray of shape (len(GATE_QUANTILES),)

    Examples
    --------
    >>> nbrs = np.array([[[0.0, 0.0], [0.0, 1.0]]] * 3)
    >>> match_gates(nbrs, np.array([[1.0, 2.0], [1.0, 4.0], [3.0, 4.0]]), 25.0)[[0, -1]].round(3).tolist()
    [0.5, 0.75]
    """
    return np.quantile(match_ratio(gps_neighbors, distances, gate_km), GATE_QUANTILES)


#: Most training photos the early-stopping score searches among: every call encodes them and
#: searches the held-out photos there (at 664,720 photos, ~35 s of each 68 s epoch when it
#: searched all of them).  Below it, all.
MONITOR_GALLERY = 50_000


def monitor_rows(train_groups, view_groups, random_state, max_rows=None):
    """Positions of the training photos :class:`GeoMonitor` searches among: all of them up to
    ``max_rows``; beyond, every photo of the places of the held-out views (whose score is the
    rank of their own place) and a random sample of the others up to ``max_rows``.

    Parameters
    ----------
    train_groups : ndarray of shape (n_train,)
        Place of each training photo.
    view_groups : ndarray
        Places of the held-out views.
    random_state : int, RandomState or None
    max_rows : int or None
        None: :data:`MONITOR_GALLERY`.

    Returns
    -------
    rows : ndarray of int, sorted

    Examples
    --------
    >>> g = np.repeat(np.arange(50), 4)                   # 50 places of 4 photos
    >>> rows = monitor_rows(g, np.array([7]), 0, max_rows=40)
    >>> len(rows), set(range(28, 32)) <= set(rows.tolist())
    (40, True)
    >>> len(monitor_rows(g, np.array([7]), 0))
    200
    """
    from sklearn.utils import check_random_state

    n = len(train_groups)
    max_rows = MONITOR_GALLERY if max_rows is None else int(max_rows)
    if n <= max_rows:
        return np.arange(n)
    keep = np.isin(train_groups, view_groups)
    rest = np.flatnonzero(~keep)
    room = max(0, max_rows - int(keep.sum()))
    pick = check_random_state(random_state).choice(rest, size=min(room, rest.size), replace=False)
    keep[pick] = True
    return np.flatnonzero(keep)


class GeoMonitor:
    """Early-stopping score: how well the held-out photos are located among the training photos.

    On the held-out places and on the held-out regions, each: the mean, over the
    candidate heads (Mean-Shift and the coarse-to-fine KDE left out: the
    slowest), of their mean accuracy at the gallery's thresholds -- a mean, not
    the best: the best of several noisy scores is biased upwards and stops
    training on a lucky iteration; on the held-out views of trained places, the
    mean reciprocal rank of the first training photo of the same place among the
    10 nearest (smoother than a hit rate on a few dozen photos).  The three parts
    are weighted by the query mix (:func:`mix_shares`; a kind without photos
    gives its share to the others).  The score returned is the mean of the last
    ``MONITOR_SMOOTHING`` iterations' (``raw_scores_`` keeps each): on a small
    gallery one lucky iteration would otherwise stop training early.

    Parameters
    ----------
    X_train, X_val : ndarray
        Network inputs (any device) of the training and the held-out photos.
    gps_train, gps_val : ndarray
    kind : ndarray of int, shape (n_val,)
        :data:`VIEW`, :data:`PLACE` or :data:`REGION` of each held-out photo (a bool array:
        True for a place, False for a view).
    groups_train, groups_val : ndarray
        Places of the training and the held-out photos.
    encode : callable
        ``encode(coefs, intercepts, X) -> codes``.
    candidates : dict
    thresholds_km : sequence of float
    n_neighbors : int or "auto"
        Neighbours each head votes over (as at ``predict``).
    new_place_share : float or None
        The query mix (:func:`mix_shares`).
    """

    def __init__(self, X_train, X_val, gps_train, gps_val, kind, groups_train, groups_val,
                 encode, candidates, thresholds_km, n_neighbors="auto", new_place_share=None):
        self.X_train, self.X_val, self.encode = X_train, X_val, encode
        self.gps_train, self.gps_val = np.asarray(gps_train), np.asarray(gps_val)
        self.kind = np.asarray(kind).astype(np.int64)
        self.groups_train, self.groups_val = np.asarray(groups_train), np.asarray(groups_val)
        fast = {k: v for k, v in candidates.items()
                if v[0] != "meanshift" and "kde_refine_km" not in v[1]}
        self.candidates = fast or candidates
        self.thresholds_km, self.n_neighbors = thresholds_km, n_neighbors
        self.k = max(neighbors_needed(self.candidates, n_neighbors), MONITOR_K)
        self.weights = present_shares(np.bincount(self.kind, minlength=3)[:3], new_place_share)
        self.raw_scores_ = []

    def __call__(self, coefs, intercepts):
        from .utils import knn_search

        xp = array_module(self.X_train)
        train = self.encode(coefs, intercepts, self.X_train)
        val = self.encode(coefs, intercepts, self.X_val)
        dist, idx = knn_search(val, train, min(self.k, train.shape[0]), xp)
        dist, idx = np.asarray(to_host(dist)), np.asarray(to_host(idx))
        score = 0.0
        for kind in (PLACE, REGION):
            rows = self.kind == kind
            if rows.any():
                scores, _ = score_heads(self.candidates, self.gps_train[idx[rows]], dist[rows],
                                        self.gps_val[rows], self.thresholds_km,
                                        n_neighbors=self.n_neighbors)
                score += self.weights[kind] * float(np.mean(list(scores.values())))
        views = self.kind == VIEW
        if views.any():
            top = idx[views, :MONITOR_K]
            hit = (self.groups_train[np.maximum(top, 0)] == self.groups_val[views, None]) & (top >= 0)
            first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)
            score += self.weights[VIEW] * float(np.mean(1.0 / first))
        self.raw_scores_.append(score)
        return float(np.mean(self.raw_scores_[-MONITOR_SMOOTHING:]))


def confidence_features(gps_neighbors, distances, pred, radius_km, power=10.0):
    """What the confidence is learned from, per query: ``[share of the first
    CONFIDENCE_VOTES neighbours within radius_km of the prediction, share of the
    first CONFIDENCE_POOL, their (d_1 / d)^power-weighted share, match distance d_1]``.

    Parameters
    ----------
    gps_neighbors : ndarray of shape (n, k, 2)
    distances : ndarray of shape (n, k)
    pred : ndarray of shape (n, 2)
    radius_km : float
    power : float
        The KDE head's weight exponent.

    Returns
    -------
    features : ndarray of shape (n, 4), float64

    Examples
    --------
    >>> nbrs = np.array([[[0.0, 0.0], [0.0, 0.1], [5.0, 5.0]]])
    >>> confidence_features(nbrs, np.array([[1.0, 2.0, 2.0]]), np.array([[0.0, 0.0]]), 25.0).round(3)
    array([[0.667, 0.667, 0.999, 1.   ]])
    """
    d = np.asarray(distances, dtype=np.float64)[:, :CONFIDENCE_POOL]
    near = great_circle_km(gps_neighbors[:, :CONFIDENCE_POOL], pred[:, None, :]) <= radius_km
    logw = vote_log_weights(d, power)
    w = np.exp(logw - logw[:, :1])  # relative to the nearest: no overflow
    return np.column_stack([near[:, :CONFIDENCE_VOTES].mean(axis=1), near.mean(axis=1),
                            (w * near).sum(axis=1) / w.sum(axis=1), d[:, 0]])


def _check_confidence_features(features):
    """The (n, 4) layout of :func:`confidence_features`, or a ValueError."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] != 4:
        raise ValueError("expected the 4 columns of confidence_features (share10, share100, "
                         f"weighted share, match distance), got shape {features.shape}")
    return features


class ConfidenceCalibrator:
    """P(error <= radius) from :func:`confidence_features`: increasing in the vote shares,
    decreasing in the match distance.

    scikit-learn's ``HistGradientBoostingClassifier`` with monotonic
    constraints, shallow and slow-learning (a few hundred held-out photos).
    With fewer than ``MIN_CALIBRATION`` photos of either outcome (a small
    gallery), scikit-learn's ``IsotonicRegression`` on the weighted vote share
    alone; with a single outcome, the observed rate for every query.

    Parameters
    ----------
    radius_km : float
        The radius the probability refers to (recorded; the outcomes given to
        ``fit`` define it).
    random_state : int or None

    Attributes
    ----------
    model_ : HistGradientBoostingClassifier, IsotonicRegression or None
    rate_ : float
        The held-out photos' observed rate.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> share = rng.random(400)  # the four confidence features: three shares, one distance
    >>> F = np.column_stack([share, share, share, rng.random(400)])
    >>> ok = rng.random(400) < share
    >>> cal = ConfidenceCalibrator(25.0, 0).fit(F, ok)
    >>> p = cal.predict(np.array([[0.1, 0.1, 0.1, 0.5], [0.9, 0.9, 0.9, 0.5]]))
    >>> bool(p[0] < p[1])
    True
    """

    def __init__(self, radius_km, random_state=None):
        self.radius_km = radius_km
        self.random_state = random_state

    def fit(self, features, within, sample_weight=None):
        """Learn P(within) from held-out photos' features, weighted by ``sample_weight``
        (:func:`mix_weights`: the query mix it is calibrated for; photos of weight 0 are
        left out)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        features = _check_confidence_features(features)
        within = np.asarray(within, dtype=bool)
        if sample_weight is not None:
            keep = np.asarray(sample_weight, dtype=np.float64) > 0
            features, within, sample_weight = features[keep], within[keep], sample_weight[keep]
        self.rate_ = float(np.average(within, weights=sample_weight)) if within.size else 0.0
        self.model_ = None
        fewest = min(within.sum(), (~within).sum())
        if fewest >= MIN_CALIBRATION:
            self.model_ = HistGradientBoostingClassifier(
                monotonic_cst=[1, 1, 1, -1], max_depth=3, learning_rate=0.05,
                max_iter=100, min_samples_leaf=max(10, len(within) // 20), early_stopping=False,
                random_state=self.random_state).fit(features, within, sample_weight=sample_weight)
        elif fewest > 0:
            from sklearn.isotonic import IsotonicRegression

            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                self._shares(features), within.astype(np.float64), sample_weight=sample_weight)
        return self

    @staticmethod
    def _shares(features):
        """The KDE-weighted vote share (the third confidence feature)."""
        return np.asarray(features)[:, 2]

    def predict(self, features):
        """Calibrated probabilities, shape (n,)."""
        features = _check_confidence_features(features)
        if self.model_ is None:
            return np.full(len(features), self.rate_)
        if hasattr(self.model_, "predict_proba"):
            return self.model_.predict_proba(features)[:, 1]
        return self.model_.predict(self._shares(features))
