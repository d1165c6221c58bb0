"""What a fit chooses on places it has not trained on: held-out places, the head, the confidence.

- :func:`place_validation_split`: whole places (POIs, or the user's groups)
  held out of training, so that every score below is one of *new* places.
- :func:`head_candidates` and :func:`score_heads`: the heads ``head="auto"``
  tries (1-NN, KDE at the gallery's scales, Mean-Shift), scored by the mean
  accuracy at the gallery's thresholds of the held-out photos located among
  the training photos.
- :func:`view_validation_split`: single photos of places kept in training,
  the other kind of query (another view of a known place).
- :class:`GeoMonitor`: those scores as early stopping's criterion.
- :class:`ConfidenceCalibrator`: the probability that a prediction is within
  the confidence radius, learned on the held-out photos from the vote shares
  (increasing) and the match distance (decreasing) with scikit-learn's
  monotone gradient boosting.
"""
import numpy as np

from .utils import array_module, great_circle_km, to_host
from ._heads import apply_head, match_ratio, resolve_k, vote_log_weights
from ._metrics import mean_within

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
#: Most photos held out (places and views together), whatever ``validation_fraction``: every
#: early-stopping iteration searches them among all training photos, so their cost grows with
#: held-out x gallery -- at 664,720 photos a 10 % share made each iteration ~100 s of search
#: on 2 cores; 5,000 (2,500 of each kind) keep a score's standard error near one point.
MAX_HELD_OUT = 5000


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
    n = groups.size
    places, inv, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(random_state).permutation(len(places))[:-1]  # one stays
    want = int(round(fraction * n))
    taken = order[: int(np.searchsorted(np.cumsum(sizes[order]), want)) + 1] if want else order[:0]
    held = np.isin(inv, taken)
    return np.flatnonzero(~held), np.flatnonzero(held)


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
                n_neighbors="auto", weights=None, **head_kw):
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
    **head_kw
        Other head parameters (``min_votes``, ``kde_power``).

    Returns
    -------
    scores : dict
        ``{label: score}``; a gated head's label ends in ``|fine<gate`` (the fine KDE
        locates the gated queries) or ``|1nn<gate`` (the nearest neighbour).
    heads : dict
        ``{label: (head, parameters)}``, the gated ones with ``match_gate``.
    """
    scores, heads = {}, {}
    ratio = match_ratio(gps_neighbors, distances, gate_km)
    fine = {}  # the fine KDE that gated queries take, over as many neighbours as the head
    first = gps_neighbors[:, 0].astype(np.float64)
    for label, (head, params) in candidates.items():
        k = resolve_k(head, n_neighbors, gps_neighbors.shape[1])
        pred = apply_head(head, gps_neighbors[:, :k], distances[:, :k], **{**head_kw, **params})
        scores[label] = mean_within(great_circle_km(gps_true, pred), thresholds_km, weights)
        heads[label] = (head, params)
        for gate in gates if head != "1nn" else ():
            if k not in fine:
                fine[k] = apply_head("kde", gps_neighbors[:, :k], distances[:, :k],
                                     **{**head_kw, "kde_sigma_km": gate_km})
            for gate_head, close_pred in (("kde", fine[k]), ("1nn", first)):
                gated = np.where((ratio <= gate)[:, None], close_pred, pred)
                key = f"{label}|{'fine' if gate_head == 'kde' else '1nn'}<{gate:.4g}"
                scores[key] = mean_within(great_circle_km(gps_true, gated), thresholds_km, weights)
                heads[key] = (head, {**params, "match_gate": float(gate), "gate_km": float(gate_km),
                                     "gate_head": gate_head})
    return scores, heads


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


def held_out_split(groups, fraction, random_state, max_photos=MAX_HELD_OUT):
    """The photos ``head="auto"`` (and DGAE's early stopping) hold out: half of ``fraction``
    whole places (:func:`place_validation_split`), half single views of places that stay
    (:func:`view_validation_split`) -- at most about ``max_photos`` in all (the last place
    is taken whole).

    Parameters
    ----------
    groups : ndarray of shape (n,)
    fraction : float
    random_state : int or Generator
    max_photos : int, default=MAX_HELD_OUT

    Returns
    -------
    train, places, views : ndarray of int
        Sorted rows: trained on, of held-out places, held-out views.

    Examples
    --------
    >>> groups = np.repeat(np.arange(10), 4)
    >>> train, places, views = held_out_split(groups, 0.4, 0)
    >>> len(train) + len(places) + len(views), set(groups[places]) & set(groups[train])
    (40, set())
    """
    n = len(groups)
    share = min(fraction, max_photos / n) / 2
    train, places = place_validation_split(groups, share, random_state)
    train, views = view_validation_split(groups, train, round(share * n), random_state)
    return train, places, views


def mix_weights(new_place, new_place_share=None):
    """Weights of held-out photos that make them stand for a query mix with ``new_place_share``
    of new places (``None``: the held-out photos as they are -- returned as None, equal
    weights).  Each side's weights sum to its share of ``len(new_place)``; a side without
    photos leaves all the weight to the other.

    Examples
    --------
    >>> mix_weights(np.array([True, False, False, False]), 0.5).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    >>> mix_weights(np.array([True, False]), 1.0).tolist(), mix_weights(np.array([True]), 0.0).tolist()
    ([2.0, 0.0], [1.0])
    """
    if new_place_share is None:
        return None
    new_place = np.asarray(new_place, dtype=bool)
    n, n_new = new_place.size, int(new_place.sum())
    if n_new in (0, n):
        return np.ones(n)
    share = float(new_place_share)
    return np.where(new_place, share * n / n_new, (1.0 - share) * n / (n - n_new))


def choose_head(features, gps, train, held, new_place, candidates, thresholds_km, gate_km, *,
                n_neighbors="auto", min_votes=4, kde_power=10.0, device="cpu",
                new_place_share=None):
    """The head that best locates held-out photos among the training photos, in two stages:
    the candidate best on the held-out *places* (mean accuracy at ``thresholds_km``), then its
    ``match_gate`` on all held-out photos (weighted by :func:`mix_weights`).

    Parameters
    ----------
    features : ndarray of shape (n, d)
        The retrieval space (features or codes) of the gallery.
    gps : ndarray of shape (n, 2)
    train, held : ndarray of int
        Rows searched among, rows located.
    new_place : ndarray of bool, shape (len(held),)
        Which held-out rows are of held-out places (the rest: views).
    candidates : dict
        :func:`head_candidates`.
    thresholds_km : sequence of float
    gate_km : float
    n_neighbors, min_votes, kde_power
        As the estimator's.
    device : {"cpu", "gpu"}
    new_place_share : float or None, default=None
        The share of new places in the queries the gate is chosen for (:func:`mix_weights`).

    Returns
    -------
    choice : sklearn.utils.Bunch
        ``head``, ``params`` (the candidate's, with its gate), ``label``, ``head_scores``,
        ``gate_scores``, and ``neighbors`` (locations), ``distances``, ``truth``, ``weights``
        of the held-out photos (to calibrate a confidence on).

    Examples
    --------
    >>> gps = np.repeat([[45.0, 15.0], [10.0, 10.0], [45.0, 16.0]], 4, axis=0)
    >>> X = np.repeat(np.eye(3), 4, axis=0) + 0.01 * np.arange(12)[:, None]
    >>> cands = head_candidates({"kde_sigmas_km": (25.0, 200.0), "meanshift_km": 750.0})
    >>> c = choose_head(X, gps, np.arange(0, 12, 2), np.arange(1, 12, 2), np.zeros(6, bool),
    ...                 cands, (1.0, 25.0), 25.0)
    >>> c.label
    '1nn'
    """
    from sklearn.utils import Bunch

    from dgae.utils import nearest_neighbors

    label = next(iter(candidates))
    k = min(max(neighbors_needed(candidates, n_neighbors), CONFIDENCE_POOL), len(train))
    dist, idx = nearest_neighbors(features[held], features[train], k, device=device)
    nbrs, truth = gps[train][idx], gps[held]
    kw = dict(min_votes=min_votes, kde_power=kde_power, n_neighbors=n_neighbors)
    head_scores = {}
    if new_place.any():
        head_scores, _ = score_heads(candidates, nbrs[new_place], dist[new_place],
                                     truth[new_place], thresholds_km, **kw)
        label = max(head_scores, key=head_scores.get)
    weights = mix_weights(new_place, new_place_share)
    gate_scores, heads = score_heads({label: candidates[label]}, nbrs, dist, truth, thresholds_km,
                                     gate_km=gate_km, gates=match_gates(nbrs, dist, gate_km),
                                     weights=weights, **kw)
    label = max(gate_scores, key=gate_scores.get)
    return Bunch(head=heads[label][0], params=dict(heads[label][1]), label=label,
                 head_scores=head_scores, gate_scores=gate_scores, neighbors=nbrs,
                 distances=dist, truth=truth, weights=weights)


#: ``match_gate`` values ``head="auto"`` tries: these quantiles of the held-out photos'
#: :func:`~dgae._heads.match_ratio` (the ratios of learned codes bunch near 1).  Few on purpose:
#: the best of many options on 60 held-out photos (Croatia) is mostly luck -- with eleven
#: quantiles the chosen gate cost 5 points at 1 km there (docs/experiments.md).
GATE_QUANTILES = (0.5, 0.8, 0.9, 1.0)


def match_gates(gps_neighbors, distances, gate_km):
    """``match_gate`` values to try: :data:`GATE_QUANTILES` of the queries' match ratios.

    Examples
    --------
    >>> nbrs = np.array([[[0.0, 0.0], [0.0, 1.0]]] * 3)
    >>> match_gates(nbrs, np.array([[1.0, 2.0], [1.0, 4.0], [3.0, 4.0]]), 25.0)[[0, -1]].round(3).tolist()
    [0.5, 0.75]
    """
    return np.quantile(match_ratio(gps_neighbors, distances, gate_km), GATE_QUANTILES)


class GeoMonitor:
    """Early-stopping score: how well the held-out photos are located among the training photos.

    The mean, over the candidate heads (Mean-Shift and the coarse-to-fine KDE
    left out: the slowest), of their mean accuracy at the gallery's thresholds
    on the held-out places -- a mean, not the best: the best of several noisy
    scores is biased upwards and stops training on a lucky iteration --, plus,
    on the held-out views of trained places, the mean reciprocal rank of the
    first training photo of the same place among the 10 nearest (smoother
    than a hit rate on a few dozen photos).  The score returned is the mean of
    the last ``MONITOR_SMOOTHING`` iterations' (``raw_scores_`` keeps each):
    on a small gallery one lucky iteration would otherwise stop training early.

    Parameters
    ----------
    X_train, X_val : ndarray
        Network inputs (any device) of the training and the held-out photos.
    gps_train, gps_val : ndarray
    new_place : ndarray of bool, shape (n_val,)
        Which held-out photos are of held-out places (the rest: views).
    groups_train, groups_val : ndarray
        Places of the training and the held-out photos.
    encode : callable
        ``encode(coefs, intercepts, X) -> codes``.
    candidates : dict
    thresholds_km : sequence of float
    n_neighbors : int or "auto"
        Neighbours each head votes over (as at ``predict``).
    new_place_share : float or None
        The places' part weighs ``2 * share``, the views' ``2 * (1 - share)`` (None: 1 each).
    """

    def __init__(self, X_train, X_val, gps_train, gps_val, new_place, groups_train, groups_val,
                 encode, candidates, thresholds_km, n_neighbors="auto", new_place_share=None):
        self.X_train, self.X_val, self.encode = X_train, X_val, encode
        self.gps_train, self.gps_val = np.asarray(gps_train), np.asarray(gps_val)
        self.new_place = np.asarray(new_place, dtype=bool)
        self.groups_train, self.groups_val = np.asarray(groups_train), np.asarray(groups_val)
        fast = {k: v for k, v in candidates.items()
                if v[0] != "meanshift" and "kde_refine_km" not in v[1]}
        self.candidates = fast or candidates
        self.thresholds_km, self.n_neighbors = thresholds_km, n_neighbors
        self.k = max(neighbors_needed(self.candidates, n_neighbors), MONITOR_K)
        share = 0.5 if new_place_share is None else float(new_place_share)
        self.weights = (2.0 * share, 2.0 * (1.0 - share))
        self.raw_scores_ = []

    def __call__(self, coefs, intercepts):
        from .utils import knn_search

        xp = array_module(self.X_train)
        train = self.encode(coefs, intercepts, self.X_train)
        val = self.encode(coefs, intercepts, self.X_val)
        dist, idx = knn_search(val, train, min(self.k, train.shape[0]), xp)
        dist, idx = np.asarray(to_host(dist)), np.asarray(to_host(idx))
        new, score = self.new_place, 0.0
        if new.any():
            scores, _ = score_heads(self.candidates, self.gps_train[idx[new]], dist[new],
                                    self.gps_val[new], self.thresholds_km,
                                    n_neighbors=self.n_neighbors)
            score += self.weights[0] * float(np.mean(list(scores.values())))
        if (~new).any():
            top = idx[~new, :MONITOR_K]
            hit = (self.groups_train[np.maximum(top, 0)] == self.groups_val[~new, None]) & (top >= 0)
            first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)
            score += self.weights[1] * float(np.mean(1.0 / first))
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
