"""Retrieval heads: neighbours' locations -> one estimated location per query.

Shared by :class:`dgae.GeoKNN` and :class:`dgae.DGAE`.

- ``"1nn"``: the location of the nearest neighbour (paper §5).
- ``"meanshift"``: Im2GPS voting (paper §5 / §6.2): the top ``k = 120``
  neighbours' locations as 3-D points on the earth's surface, flat-kernel
  mean-shift with a 500 km bandwidth (as a chord of the unit sphere), clusters
  with fewer than ``min_votes = 4`` members discarded, the spherical centroid
  of the largest cluster; the 1-NN location when no cluster survives.
- ``"kde"``: Vo, Jacobs & Hays 2017 (Revisiting Im2GPS, Eq. 1): the top
  ``k = 100`` neighbours, weights ``w_i = s_i^m`` with ``s_i = 1 / feature
  distance`` and ``m = 10``, a Gaussian kernel of width ``sigma_km`` on the
  sphere; the neighbour location of highest density is returned.
"""
import numpy as np

from ._vmf import logsumexp
from .utils import (EARTH_RADIUS_KM, from_unit_vectors, great_circle_km, km_to_chord,
                    to_unit_vectors)

HEADS = ("1nn", "meanshift", "kde")
#: Neighbours each head uses by default (``n_neighbors="auto"``).
DEFAULT_K = {"1nn": 1, "meanshift": 120, "kde": 100}
#: Queries a KDE or Mean-Shift head votes for at once at k = 120 neighbours (fewer at larger k:
#: :func:`_vote_rows`): their (queries, k, k) float64 temporaries, several at a time, were
#: 1.2 GiB for early stopping's 2,500 held-out places at k = 120.
_VOTE_ROWS = 256


def _vote_rows(k):
    """Queries voted for at once with ``k`` neighbours: ``_VOTE_ROWS`` up to the Mean-Shift
    default (120), fewer above (the same size of (queries, k, k) temporaries; at least one)."""
    return max(1, min(_VOTE_ROWS, _VOTE_ROWS * DEFAULT_K["meanshift"] ** 2 // max(int(k), 1) ** 2))


def resolve_k(head, n_neighbors, n_fit):
    """Neighbours to retrieve: the head's default for ``"auto"``, at most ``n_fit``.

    Examples
    --------
    >>> resolve_k("meanshift", "auto", 1000), resolve_k("kde", 500, 30)
    (120, 30)
    """
    k = DEFAULT_K[head] if n_neighbors == "auto" else int(n_neighbors)
    return max(1, int(min(k, n_fit)))


def apply_head(head, gps, distances, *, meanshift_bandwidth_km=500.0, min_votes=4,
               kde_sigma_km=50.0, kde_power=10.0, kde_refine_km=None, match_gate=None,
               gate_km=25.0, gate_head="kde"):
    """Estimate one location per query from its neighbours.

    Parameters
    ----------
    head : {"1nn", "meanshift", "kde"}
    gps : ndarray of shape (n, k, 2)
        ``[lat, lon]`` of each query's neighbours, nearest first.
    distances : ndarray of shape (n, k)
        Feature-space distances (used by ``"kde"``).
    meanshift_bandwidth_km, min_votes
        ``"meanshift"`` parameters.
    kde_sigma_km, kde_power, kde_refine_km
        ``"kde"`` parameters (``kde_refine_km``: see :func:`kde_head`).
    match_gate : float, optional
        Queries whose :func:`match_ratio` is at most this are located by
        ``gate_head`` instead, whatever the head: a match much closer than
        anything elsewhere is most likely another view of a place in the
        gallery, and wide votes only blur it.
    gate_km : float, default=25
        "Elsewhere" of :func:`match_ratio` and the fine KDE's width.
    gate_head : {"kde", "1nn"}, default="kde"
        What locates the gated queries: the KDE of width ``gate_km`` or the
        nearest neighbour.

    Returns
    -------
    gps : ndarray of shape (n, 2), float64

    Examples
    --------
    >>> nbrs = np.array([[[45.0, 15.0], [45.1, 15.1], [10.0, 10.0]]])
    >>> apply_head("1nn", nbrs, np.array([[1.0, 2.0, 3.0]])).tolist()
    [[45.0, 15.0]]
    >>> apply_head("kde", nbrs, np.array([[0.5, 2.0, 3.0]]), kde_sigma_km=5000.0, match_gate=0.5)[0]
    array([45., 15.])
    """
    gps = np.asarray(gps, dtype=np.float64)
    out = _vote(head, gps, distances, meanshift_bandwidth_km, min_votes, kde_sigma_km, kde_power,
                kde_refine_km)
    if match_gate is not None:
        close = match_ratio(gps, distances, gate_km) <= match_gate
        if close.any():
            out[close] = (gps[close, 0] if gate_head == "1nn" else
                          kde_head(gps[close], np.asarray(distances)[close], gate_km, kde_power))
    return out


def match_ratio(gps, distances, km):
    """Lowe's ratio test for places: the nearest match's feature distance over that of
    the nearest neighbour lying more than ``km`` from it.

    Small when the query's look-alikes agree on one spot (another view of a
    place in the gallery); near 1 when they are scattered (a new place).  0
    when every neighbour lies within ``km`` of the first.

    Parameters
    ----------
    gps : ndarray of shape (n, k, 2)
    distances : ndarray of shape (n, k)
    km : float

    Returns
    -------
    ratio : ndarray of shape (n,)

    Examples
    --------
    >>> nbrs = np.array([[[45.0, 15.0], [45.0, 15.001], [10.0, 10.0]]])
    >>> match_ratio(nbrs, np.array([[1.0, 1.5, 4.0]]), 25.0).tolist()
    [0.25]
    """
    gps = np.asarray(gps, dtype=np.float64)
    d = np.asarray(distances, dtype=np.float64)
    far = great_circle_km(gps, gps[:, :1]) > km
    first = np.where(far.any(axis=1), far.argmax(axis=1), 0)
    d_far = d[np.arange(len(d)), first]
    ratio = np.divide(d[:, 0], d_far, out=np.ones(len(d)), where=d_far > 0)
    return np.where(far.any(axis=1), ratio, 0.0)


def _vote(head, gps, distances, meanshift_bandwidth_km, min_votes, kde_sigma_km, kde_power,
          kde_refine_km):
    """One head's estimate, ungated (see :func:`apply_head`, which passes float64 ``gps``)."""
    if head == "1nn":
        return gps[:, 0].copy()
    if head == "meanshift":
        return meanshift_head(gps, meanshift_bandwidth_km, min_votes)
    if head == "kde":
        return kde_head(gps, distances, kde_sigma_km, kde_power, kde_refine_km)
    raise ValueError(f"head must be one of {HEADS}, got {head!r}")


def meanshift_head(gps, bandwidth_km=500.0, min_votes=4):
    """Im2GPS mean-shift voting over each query's neighbours (vectorised over queries).

    Each query's neighbours are clustered alone, scikit-learn's algorithm (every neighbour a
    seed), all queries of a block at once (:func:`~dgae.utils.batched_mean_shift`).

    Parameters
    ----------
    gps : ndarray of shape (n, k, 2)
    bandwidth_km : float
        Great-circle bandwidth; the clustering uses the matching chord length.
    min_votes : int
        Clusters with fewer members are discarded.

    Returns
    -------
    gps : ndarray of shape (n, 2)
        The spherical centroid of each query's largest cluster (ties: the
        cluster of highest mean-shift intensity, as scikit-learn ranks them);
        the nearest neighbour's location when no cluster has ``min_votes``.

    Examples
    --------
    >>> nbrs = np.array([[[0, 0], [0, 0.2], [0, 0.4], [0, 0.6], [40, 40]]], float)
    >>> meanshift_head(nbrs, 500, 4).round(6).tolist()
    [[0.0, 0.3]]
    """
    from .utils import batched_mean_shift

    gps = np.asarray(gps, dtype=np.float64)
    n, k = gps.shape[:2]
    out = gps[:, 0].copy()
    bandwidth = float(km_to_chord(bandwidth_km))
    rows = _vote_rows(k)
    for r0 in range(0, n, rows):
        xyz = to_unit_vectors(gps[r0:r0 + rows])  # (rows, k, 3)
        _, kept, labels = batched_mean_shift(xyz, bandwidth)
        votes = (labels[:, :, None] == np.arange(k)).sum(axis=1)  # (rows, centre)
        winner = np.argmax(votes, axis=1)  # ties -> the higher-ranked centre
        ok = votes[np.arange(len(votes)), winner] >= min_votes
        member = labels == winner[:, None]
        sums = (xyz * member[..., None]).sum(axis=1)
        out[r0:r0 + rows][ok] = from_unit_vectors(sums[ok])
    return out


def kde_head(gps, distances, sigma_km=50.0, power=10.0, refine_km=None):
    """Vo et al. 2017 weighted kernel density at the neighbours' locations.

    ``f(x) = sum_i w_i exp(-chord(x, x_i)^2 / (2 sigma^2))`` with
    ``w_i = (1 / d_i)^power`` and ``sigma = sigma_km / R`` (radians).  On the
    unit sphere ``chord^2 = 2 - 2 x.x_i``, so this Gaussian is exactly the von
    Mises–Fisher kernel ``exp(kappa (x.x_i - 1))`` with ``kappa = 1 / sigma^2``.
    Weights are handled in log space (``log w = -power log d``), so zero or
    tiny distances neither divide by zero nor overflow: neighbours at distance
    0 take all the weight, shared equally.

    With ``refine_km``, coarse to fine: the mode at ``sigma_km`` picks the
    region (the neighbours within ``sigma_km`` of it), and the mode of the
    density at ``refine_km`` among those neighbours is returned -- the region
    most neighbours vote for, then the spot inside it they vote for most.

    Parameters
    ----------
    gps : ndarray of shape (n, k, 2)
    distances : ndarray of shape (n, k)
        Feature distances, ``inf`` for padding (weight 0, never chosen).
    sigma_km : float
    power : float
        ``m`` of Vo et al.
    refine_km : float, optional
        Width of the second, fine density.

    Returns
    -------
    gps : ndarray of shape (n, 2)
        The neighbour location with the highest density (ties: the nearer
        neighbour).

    Examples
    --------
    >>> nbrs = np.array([[[0, 0], [0, 5], [0, 5.1], [0, 5.2]]], float)
    >>> kde_head(nbrs, np.ones((1, 4)), sigma_km=50).tolist()
    [[0.0, 5.1]]
    >>> nbrs = np.array([[[0, 0], [0, 0.01], [0, 3], [0, 3.4], [0, 3.8]]], float)
    >>> kde_head(nbrs, np.ones((1, 5)), sigma_km=1000, refine_km=5).tolist()
    [[0.0, 0.0]]
    """
    best, = kde_modes(gps, distances, [(sigma_km, refine_km)], power)
    return np.asarray(gps, dtype=np.float64)[np.arange(len(gps)), best]


def kde_modes(gps, distances, widths, power=10.0):
    """:func:`kde_head`'s chosen neighbour of each query at each of several widths: the
    neighbours' positions, their cosines and their vote weights computed once for all widths
    (``head="auto"`` scores the KDE at every width of the gallery).

    Parameters
    ----------
    gps : ndarray of shape (n, k, 2)
    distances : ndarray of shape (n, k)
    widths : sequence of (float, float or None)
        ``(sigma_km, refine_km)`` pairs.
    power : float

    Returns
    -------
    best : list of ndarray of shape (n,)
        The chosen neighbour (its index among the ``k``) at each width.

    Examples
    --------
    >>> nbrs = np.array([[[0, 0], [0, 0.01], [0, 3], [0, 3.4], [0, 3.8]]], float)
    >>> [b.tolist() for b in kde_modes(nbrs, np.ones((1, 5)), [(1000, 5), (1000, None)])]
    [[0], [2]]
    """
    gps = np.asarray(gps, dtype=np.float64)
    parts = [[] for _ in widths]
    rows = _vote_rows(gps.shape[1])
    for r0 in range(0, len(gps), rows):
        xyz = to_unit_vectors(gps[r0:r0 + rows])  # (rows, k, 3)
        logw = vote_log_weights(distances[r0:r0 + rows], power)
        cos = np.minimum(np.einsum("nkc,njc->nkj", xyz, xyz), 1.0)  # (n, at k, from j)
        for part, (sigma_km, refine_km) in zip(parts, widths):
            best = density_mode(logw, cos, sigma_km)
            if refine_km is not None:
                # the region: neighbours within sigma_km of the coarse mode
                region = cos[np.arange(len(cos)), best] >= np.cos(float(sigma_km) / EARTH_RADIUS_KM)
                best = density_mode(np.where(region, logw, -np.inf), cos, refine_km)
            part.append(best)
    return [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]


def vote_log_weights(distances, power):
    """Vo et al.'s vote weights ``(1 / d)^power`` in log space: ``-power log d``, zero
    distances finite (the smallest float), padding (``inf``) at ``-inf`` (weight 0).

    Examples
    --------
    >>> vote_log_weights(np.array([[1.0, np.e, np.inf]]), 2.0).tolist()
    [[-0.0, -2.0, -inf]]
    """
    d = np.asarray(distances, dtype=np.float64)
    logw = -float(power) * np.log(np.maximum(d, np.finfo(np.float64).tiny))
    logw[~np.isfinite(d)] = -np.inf
    return logw


def density_mode(logw, cos, sigma_km):
    """Index of the neighbour where the weighted density of width ``sigma_km`` peaks
    (neighbours of weight 0 are never chosen).

    Parameters
    ----------
    logw : ndarray of shape (n, k)
        Log vote weights of each query's neighbours (:func:`vote_log_weights`).
    cos : ndarray of shape (n, k, k)
        Cosines of the angles between the neighbours' positions.
    sigma_km : float

    Returns
    -------
    best : ndarray of shape (n,)

    Examples
    --------
    >>> cos = np.array([[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    >>> density_mode(np.zeros((1, 3)), cos, 100.0).tolist()  # two neighbours together win
    [0]
    """
    kappa = (EARTH_RADIUS_KM / float(sigma_km)) ** 2
    with np.errstate(divide="ignore"):  # a row without weight is -inf, masked below
        logf = logsumexp(logw[:, None, :] + kappa * (cos - 1.0), 2)
    logf[~np.isfinite(logw)] = -np.inf
    return np.argmax(logf, axis=1)
