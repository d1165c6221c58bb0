"""What a fit learned, measured on the gallery: early-stopping validation and code diagnostics.

- :func:`validation_split` and :class:`RetrievalMonitor`: a held-out share of the
  gallery and the score early stopping follows (how soon each held-out photo
  finds a photo of its own POI among the training photos' codes).
- :func:`code_diagnostics`: per layer, how much the codes vary and how close
  the same-area (P) and easy-confusing (Q) pairs are relative to random pairs;
  it tells an optimisation failure (collapsed or unmoved codes on the training
  pairs) from a generalisation failure (training pairs fine, queries not).
"""
import numpy as np

from ._backend import array_module, to_host
from ._whitening import column_mean

#: Neighbours the retrieval monitor looks at (reciprocal rank 0 beyond them).
MONITOR_K = 10
#: Random pairs the diagnostics' reference distance is averaged over.
N_RANDOM_PAIRS = 20000
#: P / Q pairs the ratios are averaged over (a random subset above it: 10 M pairs at
#: 664,720 photos took 90 s per fit for a mean known to < 1 % from 200,000).
MAX_GRAPH_PAIRS = 200_000
#: Pairs (or rows) whose distances (or moments) are formed at once: bounded temporaries
#: (P holds ~15 pairs per photo).
PAIR_CHUNK = 65536


def validation_split(labels, fraction, random_state, min_left=2):
    """Held-out photos for early stopping: each leaves same-area pairs in training.

    Photos are drawn in random order among those whose POI keeps at least
    ``min_left`` photos in the training part, up to ``round(fraction * n)``
    photos.  With ``min_left=2`` every held-out photo's POI still has a
    same-area pair to learn from, so the score measures how well the learned
    metric carries to a new photo of a trained place (a POI of two photos
    that lost one would have none, and scores nothing but noise).

    Parameters
    ----------
    labels : ndarray of shape (n,), int
        POI of each photo.
    fraction : float
    random_state : int or Generator

    Returns
    -------
    train, validation : ndarray of int
        Sorted row indices (``validation`` may be empty).

    Examples
    --------
    >>> labels = np.array([0, 0, 0, 1, 2, 2, 2, 2])
    >>> tr, va = validation_split(labels, 0.25, 0)
    >>> len(va), np.bincount(labels[tr]).tolist()
    (2, [2, 1, 3])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(random_state)
    n = labels.size
    order = rng.permutation(n)
    _, inv, sizes = np.unique(labels[order], return_inverse=True, return_counts=True)
    # rank of each photo within its POI in the random order; the last one stays
    rank = np.empty(n, dtype=np.int64)
    by_poi = np.argsort(inv, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    rank[by_poi] = np.arange(n) - np.repeat(starts, sizes)
    eligible = order[rank < sizes[inv] - min_left]
    val = np.sort(eligible[: int(round(fraction * n))])
    return np.setdiff1d(np.arange(n), val), val


class RetrievalMonitor:
    """Early-stopping score: mean reciprocal rank of the first same-POI training photo.

    Each held-out photo's ``MONITOR_K`` nearest training codes are searched
    (exact, on the codes' device); a photo whose nearest same-POI training
    photo ranks ``r`` scores ``1 / r`` (0 beyond ``MONITOR_K``).  At ``r = 1``
    for all it is the 1-NN "same POI" rate, the proxy of 1 km accuracy.

    Parameters
    ----------
    X_train, X_val : ndarray
        Network inputs of the training and held-out photos (any device).
    labels_train, labels_val : ndarray of int
    encode : callable
        ``encode(coefs, intercepts, X) -> codes`` (the retrieval codes).
    """

    def __init__(self, X_train, X_val, labels_train, labels_val, encode):
        self.X_train, self.X_val, self.encode = X_train, X_val, encode
        self.labels_train = np.asarray(labels_train)
        self.labels_val = np.asarray(labels_val)

    def __call__(self, coefs, intercepts):
        from dgae.graphs._search import knn_search

        xp = array_module(self.X_train)
        train = self.encode(coefs, intercepts, self.X_train)
        val = self.encode(coefs, intercepts, self.X_val)
        k = min(MONITOR_K, train.shape[0])
        _, idx = knn_search(val, train, k, xp)
        hit = self.labels_train[np.maximum(idx, 0)] == self.labels_val[:, None]
        hit &= idx >= 0
        first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)
        return float(np.mean(1.0 / first))


def code_diagnostics(layers, P, Q, random_state=0):
    """Spread and pair-distance ratios of each layer's codes.

    Parameters
    ----------
    layers : list of ndarray of shape (n, d_l)
        Codes of the gallery, one array per layer (the network input first).
    P, Q : sparse (n, n) or None
        Same-area and easy-confusing pairs.
    random_state : int

    Returns
    -------
    diagnostics : dict of ndarray of shape (n_layers,)
        ``width``; ``spread`` (mean standard deviation of a unit);
        ``effective_dim`` (participation ratio of the covariance eigenvalues,
        ``(sum l)^2 / sum l^2``: 1 when the codes lie on a line, ``width``
        when they are white); ``p_ratio`` and ``q_ratio`` (mean Euclidean
        distance of the P / Q pairs -- 200,000 random ones of them on larger
        graphs -- over that of random pairs; NaN without pairs).  A P ratio well under 1 says same-area photos were pulled
        together, a Q ratio near 1 that look-alikes were pushed apart.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> H = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 1.0], [5.1, 1.0]])
    >>> P = sp.csr_matrix(([1.0, 1.0], ([0, 2], [1, 3])), shape=(4, 4))
    >>> d = code_diagnostics([H], P, None)
    >>> bool(d["p_ratio"][0] < 0.1), bool(np.isnan(d["q_ratio"][0]))
    (True, True)
    """
    rng = np.random.default_rng(random_state)
    n = layers[0].shape[0]
    a, b = rng.integers(0, n, N_RANDOM_PAIRS), rng.integers(0, n, N_RANDOM_PAIRS)
    keep = a != b
    a, b = a[keep], b[keep]
    graph_pairs = {key: _some_pairs(A, rng) for key, A in (("p_ratio", P), ("q_ratio", Q))
                   if A is not None and A.nnz}
    out = {k: [] for k in ("width", "spread", "effective_dim", "p_ratio", "q_ratio")}
    for H in layers:
        H = np.asarray(to_host(H))
        var, eig = _variances(H)
        rand = _mean_pair_distance(H, a, b) if a.size else np.nan
        out["width"].append(H.shape[1])
        out["spread"].append(np.sqrt(var).mean())
        out["effective_dim"].append(eig.sum() ** 2 / max((eig ** 2).sum(), 1e-300))
        for key, A in (("p_ratio", P), ("q_ratio", Q)):
            if A is None or A.nnz == 0 or not rand > 0:
                out[key].append(np.nan)
                continue
            out[key].append(_mean_pair_distance(H, *graph_pairs[key]) / rand)
    return {k: np.array(v) for k, v in out.items()}


def _some_pairs(A, rng):
    """The nonzero pairs of ``A``; MAX_GRAPH_PAIRS random ones of them when it has more."""
    s, t = A.nonzero()
    if s.size > MAX_GRAPH_PAIRS:
        pick = np.sort(rng.choice(s.size, MAX_GRAPH_PAIRS, replace=False))
        s, t = s[pick], t[pick]
    return s, t


def _variances(H):
    """(population variance of each column, eigenvalues of the sample covariance), float64.

    Accumulated PAIR_CHUNK rows at a time: a float64 copy of a wide layer
    at the paper's scale (664,720 x 512) is 2.7 GB, and ``np.cov`` makes another.
    """
    n, d = H.shape
    mean = column_mean(H, PAIR_CHUNK)
    scatter = np.zeros((d, d))
    for r0 in range(0, n, PAIR_CHUNK):
        c = H[r0:r0 + PAIR_CHUNK].astype(np.float64) - mean
        scatter += c.T @ c
    eig = np.clip(np.linalg.eigvalsh(scatter / (n - 1)), 0, None) if n > 1 else np.full(d, np.nan)
    return np.diag(scatter) / n, eig


def _mean_pair_distance(H, s, t):
    """Mean Euclidean distance between rows ``H[s]`` and ``H[t]`` (in float64), PAIR_CHUNK
    pairs at a time."""
    total = 0.0
    for c0 in range(0, s.size, PAIR_CHUNK):
        c = slice(c0, c0 + PAIR_CHUNK)
        total += np.linalg.norm(H[s[c]].astype(np.float64) - H[t[c]], axis=1).sum()
    return total / s.size


def format_diagnostics(diagnostics):
    """The diagnostics as a small text table (one row per layer; layer 0 = the input).

    Examples
    --------
    >>> d = {"width": np.array([4, 2]), "spread": np.array([1.0, 0.5]),
    ...      "effective_dim": np.array([4.0, 1.9]), "p_ratio": np.array([0.9, 0.4]),
    ...      "q_ratio": np.array([0.8, np.nan])}
    >>> print(format_diagnostics(d))
    layer  width   spread  eff.dim  P ratio  Q ratio
        0      4    1.000      4.0    0.900    0.800
        1      2    0.500      1.9    0.400      nan
    """
    lines = ["layer  width   spread  eff.dim  P ratio  Q ratio"]
    for m in range(len(diagnostics["width"])):
        lines.append(f"{m:5d} {diagnostics['width'][m]:6d} {diagnostics['spread'][m]:8.3f} "
                     f"{diagnostics['effective_dim'][m]:8.1f} {diagnostics['p_ratio'][m]:8.3f} "
                     f"{diagnostics['q_ratio'][m]:8.3f}")
    return "\n".join(lines)
