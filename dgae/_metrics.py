"""Geolocation error metrics (the DGAE paper's §6.3 criteria)."""
import numpy as np

from .utils import check_gps, great_circle_km

#: The paper's thresholds (street 1 km, city 25 km, region 200 km, country 750 km, continent 2500 km).
DEFAULT_THRESHOLDS_KM = (1, 25, 200, 750, 2500)


def _pair(y_true, y_pred):
    y_true = check_gps(y_true, "y_true")
    y_pred = check_gps(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} != {len(y_pred)}")
    return y_true, y_pred


def geolocation_errors_km(y_true, y_pred):
    """Great-circle error of each prediction, in km.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.

    Returns
    -------
    errors : ndarray of shape (n,), float64

    Examples
    --------
    >>> geolocation_errors_km([[0, 0]], [[0, 1]]).round(2).tolist()
    [111.19]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return great_circle_km(y_true, y_pred)


def accuracy_at(y_true, y_pred, thresholds_km=DEFAULT_THRESHOLDS_KM):
    """Fraction of predictions within each distance threshold (``<=``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, 2)
    thresholds_km : sequence of float, default=(1, 25, 200, 750, 2500)

    Returns
    -------
    accuracy : dict
        ``{threshold_km: fraction}`` in the order given.

    Examples
    --------
    >>> accuracy_at([[0, 0], [0, 0]], [[0, 0], [0, 1]], thresholds_km=(1, 200))
    {1: 0.5, 200: 1.0}
    """
    errors = geolocation_errors_km(y_true, y_pred)
    return {t: float(np.mean(errors <= t)) if errors.size else float("nan") for t in thresholds_km}


def error_curve(y_true, y_pred):
    """Sorted errors: the x-axis of the paper's Figs. 5–6.

    The fraction of queries within ``e`` km is ``searchsorted(curve, e,
    side="right") / n``.

    Returns
    -------
    errors : ndarray of shape (n,), ascending

    Examples
    --------
    >>> error_curve([[0, 0], [0, 0]], [[0, 2], [0, 1]]).round(1).tolist()
    [111.2, 222.4]
    """
    return np.sort(geolocation_errors_km(y_true, y_pred))


def _geo_score(estimator, X, y, threshold_km):
    return accuracy_at(y, estimator.predict(X), (threshold_km,))[threshold_km]


def geo_scorer(threshold_km=200):
    """A scorer for ``GridSearchCV(scoring=...)``: fraction within ``threshold_km``.

    The paper cross-validates at 200 km (region level).

    Parameters
    ----------
    threshold_km : float, default=200

    Returns
    -------
    scorer : callable ``scorer(estimator, X, gps) -> float``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> X = np.arange(4.0)[:, None]
    >>> gps = np.array([[0, 0], [0, 0.1], [10, 10], [10, 10.1]])
    >>> est = KNeighborsRegressor(n_neighbors=1).fit(X, gps)
    >>> geo_scorer(25)(est, X, gps)
    1.0
    """
    if not threshold_km > 0:
        raise ValueError(f"threshold_km must be positive, got {threshold_km}")

    def scorer(estimator, X, y):
        return _geo_score(estimator, X, y, threshold_km)

    scorer.__name__ = f"geo_scorer_{threshold_km}km"
    return scorer


def mean_accuracy(y_true, y_pred, thresholds_km=DEFAULT_THRESHOLDS_KM):
    """Mean of the accuracies at the thresholds: one number that rewards every scale.

    What ``DGAE(head="auto")`` and its early stopping maximise on held-out places
    (with the gallery's own thresholds, :func:`thresholds_for_gallery`).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, 2)
    thresholds_km : sequence of float

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> mean_accuracy([[0, 0], [0, 0]], [[0, 0], [0, 1]], thresholds_km=(1, 200))
    0.75
    """
    return mean_within(geolocation_errors_km(y_true, y_pred), thresholds_km)


def hit_rates(errors_km, thresholds_km):
    """Each query's share of ``thresholds_km`` its error is within: the per-query terms of
    :func:`mean_within`.

    Examples
    --------
    >>> hit_rates(np.array([0.5, 10.0, 100.0]), (1.0, 25.0)).tolist()
    [1.0, 0.5, 0.0]
    """
    e = np.asarray(errors_km, dtype=np.float64)
    return np.mean(e[:, None] <= np.asarray(thresholds_km, dtype=np.float64), axis=1)


def mean_within(errors_km, thresholds_km, weights=None):
    """Mean over the thresholds of the share of errors within each: :func:`mean_accuracy`
    on errors already computed (no input checks; ``fit``'s scoring loops call it), the
    errors weighted by ``weights`` (None: equally).

    Examples
    --------
    >>> mean_within(np.array([0.0, 111.2]), (1, 200))
    0.75
    >>> mean_within(np.array([0.0, 111.2]), (1, 200), weights=np.array([3.0, 1.0]))
    0.875
    """
    if weights is None:  # the mean over every (query, threshold) at once
        e = np.asarray(errors_km, dtype=np.float64)
        return float(np.mean(e[:, None] <= np.asarray(thresholds_km, dtype=np.float64)))
    return float(np.average(hit_rates(errors_km, thresholds_km), weights=weights))


def reliability(confidence, hit, n_bins=5):
    """How often predictions of each confidence were right: the reliability table.

    Parameters
    ----------
    confidence : array-like of shape (n,)
        Predicted probabilities in [0, 1] (e.g. ``predict_details(X).confidence``).
    hit : array-like of bool, shape (n,)
        Whether each prediction was right (e.g. its error at most ``confidence_km``).
    n_bins : int, default=5
        Equal-width bins of ``[0, 1]``.

    Returns
    -------
    table : dict of ndarray of shape (n_bins,)
        ``lower``, ``upper`` (bin edges), ``count``, ``predicted`` (mean confidence) and
        ``observed`` (fraction right); NaN in an empty bin.  A calibrated confidence has
        ``observed`` close to ``predicted``.

    Examples
    --------
    >>> t = reliability([0.1, 0.15, 0.9, 0.95], [False, False, True, False], n_bins=2)
    >>> t["count"].tolist(), t["observed"].tolist()
    ([2, 2], [0.0, 0.5])
    """
    c = np.asarray(confidence, dtype=np.float64).ravel()
    h = np.asarray(hit, dtype=bool).ravel()
    if c.shape != h.shape:
        raise ValueError(f"confidence and hit must have the same length, got {c.size} and {h.size}")
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    bins = np.clip(np.digitize(c, edges[1:-1]), 0, int(n_bins) - 1)
    count = np.bincount(bins, minlength=int(n_bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(bins, weights=c, minlength=int(n_bins)) / count
        observed = np.bincount(bins, weights=h.astype(float), minlength=int(n_bins)) / count
    return {"lower": edges[:-1], "upper": edges[1:], "count": count, "predicted": predicted,
            "observed": observed}
