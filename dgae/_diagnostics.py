"""What a fit learned, measured on the gallery: code diagnostics.

(Early stopping's held-out places and score live in :mod:`dgae._selection`.)

- :func:`code_diagnostics`: per layer, how much the codes vary and how close
  the same-area (P) and easy-confusing (Q) pairs are relative to random pairs;
  it tells an optimisation failure (collapsed or unmoved codes on the training
  pairs) from a generalisation failure (training pairs fine, queries not).
"""
import numpy as np

from .utils import to_host
from ._whitening import column_mean

#: Random pairs the diagnostics' reference distance is averaged over.
N_RANDOM_PAIRS = 20000
#: P / Q pairs the ratios are averaged over (a random subset above it: 10 M pairs at
#: 664,720 photos took 90 s per fit for a mean known to < 1 % from 200,000).
MAX_GRAPH_PAIRS = 200_000
#: Pairs (or rows) whose distances (or moments) are formed at once: bounded temporaries
#: (P holds ~15 pairs per photo).
PAIR_CHUNK = 65536


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
