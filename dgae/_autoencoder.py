"""The geo-constrained stacked autoencoder: network, objectives, gradients, optimisers.

Paper §4.3–§4.4 and Algorithm 1, and the library's default deviation from it,
on NumPy or CuPy (the array module is chosen by :mod:`dgae._backend`;
everything here works on whatever module the arrays belong to).

The network has ``M`` encoder layers ``f`` and a mirrored decoder ``g``; the
constraints act on the top encoder layer ``H = h^(M)`` of a set of rows ``B``
(``B`` = all ``N`` gallery rows for full-batch training).  Two objectives:

``"paper"`` — Eq. 4 as written, every layer a sigmoid, inputs scaled into [0, 1]::

    J = J1 + alpha * J2 - beta * J3 + gamma * R
    J1 = 1/(2|B|) sum_{s in B} ||x_s - g(f(x_s))||^2
    J2 = 1/(|B| k1) sum_{s in B} sum_t P_st ||h_s - h_t||^2
    J3 = 1/(|B| k2) sum_{s in B} sum_t Q_st ||h_s - h_t||^2
    R  = sum_m ||W^(m)||_F^2 + ||b^(m)||^2          (all 2M layers)

  Nothing holds the codes apart: the pull of J2 is minimised by codes that do
  not vary (a trivial solution), and ``gamma R`` (a sum over millions of
  weights against J1's per-photo mean) shrinks every unit to a constant.

``"whitened"`` (the library's default) — the same three ideas, made scale-free
and given what keeps the codes apart.  Inputs are PCA-whitened (by the
estimator), the top encoder layer and the decoder's output layer are linear,
P and Q are normalised per row (``P~ = diag(P 1)^-1 P``), and with the
covariance ``C`` of the codes of ``B`` (``T = tr C``, ``d`` code units)::

    J  = J1 + alpha * J2 - beta * J3 + lambda * K + gamma * R
    J1 = 1/(2|B|D) sum_{s in B} ||x_s - g(f(x_s))||^2        (per input unit)
    J2 = 1/|B| sum_s sum_t P~_st ||h_s - h_t||^2 / (2T)       (P pairs / random pairs)
    J3 = 1/|B| sum_s sum_t Q~_st min(1, ||h_s - h_t||^2 / (2T))
    K  = ||C d / T - I||_F^2 / d                              (codes use every direction)
    R  = mean of the squared weights (biases excluded)

  ``2T`` is the mean squared distance of two random codes, so J2 and J3 are
  distance ratios in [0, 1] and no term depends on the scale of the codes.
  ``K`` is zero exactly when the codes are white up to a scale; with it, J2
  is the trace-ratio criterion of linear discriminant analysis (a linear top
  layer over whitened inputs, ``K = 0``, J1 off and P = all same-POI pairs
  spans the LDA subspace; ``tests/test_autoencoder.py`` checks it).  J3 pushes
  an easy-confusing pair apart only until it is as far apart as a random
  pair: the unbounded push of Eq. 4 lets a few codes run away and swamps the
  others (measured: the Q ratio grew to 30 and the 1 km accuracy fell from
  41 % to 8 % on ``world_streetview``).

Both: the pair terms depend on the encoder only, so the decoder is trained
by the reconstruction (and weight decay) alone, as §4.4 states.

Pair terms as a graph-Laplacian product (``"paper"``).  For a (possibly
non-symmetric) weight matrix ``A`` and codes ``H``::

    sum_st A_st ||h_s - h_t||^2 = tr(H^T L H),   L = Lap(A + A^T) = diag((A + A^T) 1) - (A + A^T)
    gradient with respect to H  = 2 L H

(expand ``||h_s - h_t||^2``: row ``s`` receives ``2 sum_t (A_st + A_ts)(h_s - h_t)``).
One sparse product ``L @ H`` gives both the value and the gradient.  The
capped J3 of ``"whitened"`` needs each pair's distance, so that objective
works on the edge list (:class:`Edges`): ``diff = H[s] - H[t]``, the gradient
scattered back by one sparse incidence product.

Mini-batches with sampled partners.  A batch ``B`` of anchor rows is drawn by
a random permutation.  For every anchor ``s`` one P-partner ``t`` is sampled
with probability ``P_st / p_s`` (``p_s = sum_t P_st``) and one Q-partner ``u``
with probability ``Q_su / q_s``; the batch objective is::

    J_B = 1/(2|B|) sum_{s in B} ||x_s - g(f(x_s))||^2
          + alpha/(|B| k1) sum_{s in B} p_s ||f(x_s) - f(x_t)||^2
          - beta /(|B| k2) sum_{s in B} q_s ||f(x_s) - f(x_u)||^2 + gamma R

and the forward pass runs the encoder on ``B`` and the sampled partners
(partners outside ``B`` included, so their codes are exact and the pair
gradient flows into both ends of every edge).  For ``"paper"`` this is
unbiased: ``E_t[p_s ||h_s - h_t||^2] = sum_t P_st ||h_s - h_t||^2`` for every
anchor, so ``E[J_B]`` is the objective restricted to ``B`` with all its pairs;
and over one epoch (the permutation splits all ``N`` rows into batches)
``sum_B (|B|/N) J_B`` has the expectation ``J`` of Eq. 4.  Sampling does not
depend on the weights, so the same holds for the gradients.  For
``"whitened"`` the same draw (``p_s = 1`` after the row normalisation) is
unbiased for the pair sums at a fixed ``T``; ``T`` and ``C`` are estimated on
the batch's anchors, as batch normalisation estimates its statistics.  The
encoder runs on ``3|B|`` rows per batch (not ``|B|(1 + k1 + k2)``).
"""
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._backend import array_module, to_device, to_host
from ._progress import progress

#: Rows per GEMM block (bounds the memory of full-batch passes and of encoding).
ROW_CHUNK = 65536

OBJECTIVES = ("whitened", "paper")
OPTIMIZERS = ("adam", "sgd", "gd")
#: Fields of ``loss_curve_`` (one record per iteration / epoch); ``K`` is 0 for "paper".
LOSS_FIELDS = ("J", "J1", "J2", "J3", "K", "R")
LOSS_DTYPE = np.dtype([(name, np.float64) for name in LOSS_FIELDS])


# ------------------------------------------------------ element-wise kernels
#: Elements per cache block of the fused element-wise kernels (256 KiB of float32).
_BLOCK_ELEMS = 1 << 16
#: Below this many elements the kernels run in the calling thread only.
_THREAD_MIN_ELEMS = 1 << 18
_POOLS = {}  # by process id: a forked child must not use its parent's (absent) threads


def _n_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _row_map(kernel, n_rows, n_cols, xp, block_rows=None):
    """``[kernel(r0, r1) for each row block]``, in row order.

    Hand-written because NumPy's ufuncs are single-threaded and each one makes
    a full pass through memory: a chain of them on an ``(N, 2000)`` array is
    memory-bound and uses one core.  Here the chain runs on cache-sized row
    blocks (``block_rows``, default about :data:`_BLOCK_ELEMS` elements), the
    blocks split in contiguous spans over a thread per core (ufuncs and BLAS
    release the GIL).  CuPy: one call on all rows (the device parallelises).
    """
    if xp is not np:
        return [kernel(0, n_rows)]
    step = block_rows or max(1, _BLOCK_ELEMS // max(1, n_cols))
    blocks = [(r0, min(r0 + step, n_rows)) for r0 in range(0, n_rows, step)]
    n_threads = min(_n_threads(), len(blocks))
    if n_threads < 2 or n_rows * n_cols < _THREAD_MIN_ELEMS:
        return [kernel(r0, r1) for r0, r1 in blocks]
    pool = _POOLS.get(os.getpid())
    if pool is None:
        pool = _POOLS[os.getpid()] = ThreadPoolExecutor(_n_threads(), thread_name_prefix="dgae")
    spans = np.array_split(np.arange(len(blocks)), n_threads)
    parts = pool.map(lambda span: [kernel(*blocks[i]) for i in span], spans)
    return [r for part in parts for r in part]


class Buffers:
    """Free work arrays by shape and dtype, handed out again instead of fresh ones.

    Why: a fresh ``(20000, 2000)`` float32 array costs its page faults (and
    huge-page zeroing) on first touch, measured 0.03-0.6 s on the 2-core CPU,
    and one full-batch evaluation makes about twenty such arrays.  Passing
    the same pool to every evaluation of a training run (as :func:`train`
    does) reuses the previous iteration's memory; within one evaluation the
    backward pass reuses arrays that are already dead.  Only arrays that own
    their memory are taken back (views never are).
    """

    def __init__(self):
        self._free = {}

    def take(self, shape, dtype, xp):
        """An uninitialised array of this shape (a recycled one when free)."""
        free = self._free.get((tuple(shape), np.dtype(dtype)))
        return free.pop() if free else xp.empty(shape, dtype=dtype)

    def give(self, *arrays):
        """Return arrays that are no longer used (``None`` and views are ignored)."""
        for a in arrays:
            if a is not None and a.base is None:
                self._free.setdefault((a.shape, np.dtype(a.dtype)), []).append(a)


def _activation_delta(out, g, activation="sigmoid", target=None, scale=None):
    """dJ/dz of a layer, in place in ``g``: ``g *= out * (1 - out)`` for a sigmoid.

    With ``target`` (the reconstruction's output layer) ``g`` is ``out``
    itself, overwritten by ``(out - target) * scale`` times the derivative:
    the error, its scaling and the derivative in one pass, no error array.
    A ``"linear"`` layer's derivative is 1.

    Returns
    -------
    db : ndarray
        Column sums of the result (the bias gradient).
    sse : float
        ``sum((out - target) ** 2)`` (0 without ``target``).
    """
    xp = array_module(g)
    linear = activation == "linear"

    def kernel(r0, r1):
        o, d = out[r0:r1], g[r0:r1]
        if not linear:
            s = xp.subtract(1.0, o)  # sigmoid' = s (1 - s), before d (maybe o) is overwritten
            s *= o
        sse = 0.0
        if target is not None:
            xp.subtract(o, target[r0:r1], out=d)
            sse = float(xp.square(d).sum())
            d *= scale
        if not linear:
            d *= s
        return d.sum(axis=0), sse

    parts = _row_map(kernel, *g.shape, xp)
    db = parts[0][0] if len(parts) == 1 else xp.stack([p[0] for p in parts]).sum(axis=0)
    return db, sum(p[1] for p in parts)


# --------------------------------------------------------------------- network
def sigmoid(z, out=None):
    """Logistic sigmoid, evaluated as ``(1 + tanh(z / 2)) / 2``.

    The identity is exact and ``tanh`` saturates instead of overflowing, so
    no ``exp`` of a large argument is ever formed (NumPy and CuPy alike).

    Parameters
    ----------
    z : ndarray
    out : ndarray, optional
        Where to write (``z`` itself for an in-place update).

    Returns
    -------
    s : ndarray, same shape and dtype as ``z``

    Examples
    --------
    >>> sigmoid(np.array([-1e6, 0.0, 1e6])).tolist()
    [0.0, 0.5, 1.0]
    """
    xp = array_module(z)
    out = xp.multiply(z, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def layer_sizes(n_features, hidden_layer_sizes):
    """Widths of all ``2M + 1`` activations: input, encoder, mirrored decoder.

    Examples
    --------
    >>> layer_sizes(10, (6, 3))
    [10, 6, 3, 6, 10]
    """
    hidden = [int(h) for h in hidden_layer_sizes]
    return [int(n_features), *hidden, *hidden[-2::-1], int(n_features)]


def layer_activations(n_hidden, objective="paper"):
    """Activation of each of the ``2M`` layers: ``"sigmoid"`` or ``"linear"``.

    ``"paper"``: all sigmoid (Eq. 6).  ``"whitened"``: sigmoid hidden layers,
    a linear top encoder layer (the codes) and a linear output layer (the
    whitened inputs are not confined to [0, 1]).

    Examples
    --------
    >>> layer_activations(2, "whitened")
    ['sigmoid', 'linear', 'sigmoid', 'linear']
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective == "paper":
        return ["sigmoid"] * (2 * n_hidden)
    half = ["sigmoid"] * (n_hidden - 1) + ["linear"]
    return half + half


def init_params(n_features, hidden_layer_sizes, random_state, dtype=np.float32,
                activations=None, sigmoid_gain=4.0):
    """Glorot-uniform weights, zero biases (NumPy).

    ``W`` is drawn from ``U(-r, r)`` with ``r = sqrt(6 / (fan_in + fan_out))``
    for linear layers and ``sigmoid_gain`` times that for sigmoid ones.  The
    default 4 is Glorot & Bengio's (2010) rule for logistic units
    (sigmoid'(0) = 1/4) on inputs in [0, 1] (the paper's min-max scaling):
    smaller weights leave every unit near 0.5 and the codes collapse onto the
    mean under gradient descent.  Whitened inputs (unit variance in every
    direction) need gain 1: at 4 the first layer's units saturate.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : sequence of int
    random_state : int, Generator or None
    dtype : numpy dtype, default=float32
    activations : list of str, optional
        Per layer (:func:`layer_activations`); all sigmoid by default.
    sigmoid_gain : float, default=4.0

    Returns
    -------
    coefs : list of ndarray, ``coefs[l]`` of shape (n_in, n_out)
    intercepts : list of ndarray, ``intercepts[l]`` of shape (n_out,)

    Examples
    --------
    >>> coefs, intercepts = init_params(5, (3,), np.random.default_rng(0))
    >>> [c.shape for c in coefs]
    [(5, 3), (3, 5)]
    """
    rng = np.random.default_rng(random_state)
    sizes = layer_sizes(n_features, hidden_layer_sizes)
    activations = activations or ["sigmoid"] * (len(sizes) - 1)
    coefs, intercepts = [], []
    for fan_in, fan_out, act in zip(sizes[:-1], sizes[1:], activations):
        bound = (sigmoid_gain if act == "sigmoid" else 1.0) * np.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(np.zeros(fan_out, dtype=dtype))
    return coefs, intercepts


def _layer(a, W, b, buffers=None, activation="sigmoid"):
    """``act(a @ W + b)``, in place on the product (cache-blocked, threaded)."""
    xp = array_module(a)
    out = None if buffers is None else buffers.take((a.shape[0], W.shape[1]), W.dtype, xp)
    z = xp.matmul(a, W, out=out)

    def kernel(r0, r1):
        blk = z[r0:r1]
        blk += b
        if activation == "sigmoid":
            sigmoid(blk, out=blk)

    _row_map(kernel, *z.shape, xp)
    return z


def encode(coefs, intercepts, X, chunk_size=ROW_CHUNK, buffers=None, activations=None):
    """All encoder hidden layers of ``X`` (the first ``M = len(coefs) // 2`` layers).

    Parameters
    ----------
    coefs, intercepts : lists of arrays (on X's device)
    X : ndarray of shape (n, D)
        Network inputs (scaled as the model was trained).
    chunk_size : int
        Rows per GEMM block (bounds the memory).
    buffers : Buffers, optional
        Pool the activations are taken from (fresh arrays by default).
    activations : list of str, optional
        Per layer (:func:`layer_activations`); all sigmoid by default.

    Returns
    -------
    hidden : list of M ndarrays, ``hidden[m]`` of shape (n, h_{m+1})

    Examples
    --------
    >>> coefs, intercepts = init_params(4, (3, 2), 0, dtype=np.float64)
    >>> [h.shape for h in encode(coefs, intercepts, np.ones((5, 4)))]
    [(5, 3), (5, 2)]
    """
    n_enc = len(coefs) // 2
    activations = activations or ["sigmoid"] * len(coefs)
    blocks = []
    for r0 in range(0, X.shape[0], chunk_size):
        a, acts = X[r0:r0 + chunk_size], []
        for W, b, act in zip(coefs[:n_enc], intercepts[:n_enc], activations):
            a = _layer(a, W, b, buffers, act)
            acts.append(a)
        blocks.append(acts)
    if len(blocks) == 1:
        return blocks[0]
    xp = array_module(X)
    enc = [xp.concatenate([blk[m] for blk in blocks]) for m in range(n_enc)]
    if buffers is not None:
        buffers.give(*(a for blk in blocks for a in blk))
    return enc


# ---------------------------------------------------------------- pair terms
def pair_laplacian(A):
    """``Lap(A + A^T)`` of a sparse pair matrix (SciPy CSR, float64).

    ``tr(H^T L H) = sum_st A_st ||h_s - h_t||^2`` for any, also non-symmetric, ``A``.

    Examples
    --------
    >>> A = sp.csr_matrix(np.array([[0, 1.0], [0, 0]]))
    >>> pair_laplacian(A).toarray().tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    S = sp.csr_matrix(A, dtype=np.float64)
    S = S + S.T
    return (sp.diags(np.asarray(S.sum(axis=1)).ravel()) - S).tocsr()


def row_normalize(A):
    """``diag(A 1)^-1 A``: each non-empty row of a sparse pair matrix sums to 1.

    The ``"whitened"`` objective's per-row normalisation: a photo with three
    same-POI partners weighs as much as one with twenty.

    Examples
    --------
    >>> row_normalize(sp.csr_matrix(np.array([[0, 1.0, 3.0], [0, 0, 0]]))).toarray().tolist()
    [[0.0, 0.25, 0.75], [0.0, 0.0, 0.0]]
    """
    if A is None:
        return None
    A = sp.csr_matrix(A, dtype=np.float64)
    sums = np.asarray(A.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv) @ A)


def _sparse_to(L, xp, dtype):
    """A SciPy CSR matrix on the array module ``xp`` (cupyx.scipy.sparse on GPU)."""
    L = L.astype(dtype)
    if xp is np:
        return L
    import cupyx.scipy.sparse as csp

    return csp.csr_matrix(L)


def _pair_term(L, H, buffers):
    """Value ``tr(H^T L H)`` and gradient ``2 L H`` (L is None: no pairs)."""
    if L is None or L.nnz == 0:
        return 0.0, None
    xp = array_module(H)
    G = buffers.take(H.shape, H.dtype, xp)

    def kernel(r0, r1):  # one span of rows per thread
        LH = L @ H if r1 - r0 == H.shape[0] else L[r0:r1] @ H
        value = float((H[r0:r1] * LH).sum())
        xp.multiply(LH, 2.0, out=G[r0:r1])
        return value

    n = H.shape[0]
    return sum(_row_map(kernel, n, H.shape[1], xp, block_rows=-(-n // _n_threads()))), G


class Edges:
    """Weighted pairs ``(s, t, w)`` among the rows of a code matrix, for per-pair terms.

    Parameters
    ----------
    A : sparse (n_rows, n_rows)
        Pair weights (explicit zeros are dropped).
    xp : module
    dtype : numpy dtype

    Examples
    --------
    >>> e = Edges(sp.csr_matrix(np.array([[0, 2.0], [0, 0]])), np, np.float64)
    >>> S, G, rest = e.sum_sq(np.array([[0.0, 0.0], [3.0, 4.0]]))
    >>> S, G.tolist(), rest
    (50.0, [[-12.0, -16.0], [12.0, 16.0]], 0.0)
    """

    def __init__(self, A, xp, dtype):
        A = sp.coo_matrix(A)
        keep = A.data != 0
        s, t, w = A.row[keep], A.col[keep], A.data[keep]
        n_rows, n_edges = A.shape[0], s.size
        # incidence: +1 at (e, s), -1 at (e, t); B^T (w diff) scatters each pair's gradient
        B = sp.csr_matrix((np.r_[np.ones(n_edges), -np.ones(n_edges)],
                           (np.r_[np.arange(n_edges), np.arange(n_edges)], np.r_[s, t])),
                          shape=(n_edges, n_rows))
        self.n_edges = n_edges
        self.s, self.t = to_device(s, xp, np.int64), to_device(t, xp, np.int64)
        self.w = to_device(w, xp, dtype)
        self.BT = _sparse_to(B.T.tocsr(), xp, dtype)

    def sum_sq(self, H, cap=None):
        """``S = sum w ||h_s - h_t||^2`` over the pairs closer than ``cap`` (squared).

        Returns
        -------
        S : float
        grad : ndarray, same shape as ``H``
            ``dS/dH``.
        rest : float
            ``sum w`` over the pairs at or beyond ``cap`` (0 without one).
        """
        xp = array_module(H)
        diff = H[self.s] - H[self.t]
        d2 = (diff * diff).sum(axis=1)
        w, rest = self.w, 0.0
        if cap is not None:
            active = d2 < cap
            rest = float(w[~active].sum())
            w = w * active
        diff *= (2.0 * w)[:, None]
        return float((w * d2).sum()), xp.asarray(self.BT @ diff), rest


@dataclass(frozen=True)
class Loss:
    """Which objective, and its weights (see the module docstring).

    Parameters
    ----------
    alpha, beta, gamma : float
        Same-area, easy-confusing and weight-decay weights.
    k1, k2 : int
        Normalisers of the ``"paper"`` pair terms.
    objective : {"paper", "whitened"}
    covariance_weight : float
        ``lambda`` of the whitening penalty ``K`` (``"whitened"``).
    reconstruction : float
        Weight of J1 (0 turns the reconstruction off; the LDA reference test).

    Examples
    --------
    >>> Loss(alpha=1.0, objective="whitened").activations(2)
    ['sigmoid', 'linear', 'sigmoid', 'linear']
    """

    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0
    k1: int = 1
    k2: int = 1
    objective: str = "paper"
    covariance_weight: float = 0.0
    reconstruction: float = 1.0

    def activations(self, n_hidden):
        return layer_activations(n_hidden, self.objective)

    @property
    def whitened(self):
        return self.objective == "whitened"


class Problem:
    """The rows and pair structure one objective evaluation works on.

    Parameters
    ----------
    X : ndarray of shape (n_rows, D)
        Network inputs of the rows the encoder runs on (and the
        reconstruction targets; ``X_in``, set by input dropout, is what the
        encoder then sees).
    n_recon : int
        The first ``n_recon`` rows are the anchors ``B``: they get the
        reconstruction term, the code statistics are taken over them, and the
        objective is normalised by ``n_recon``.
    P, Q : sparse (n_rows, n_rows) or None
        Pair weights among the rows (row-normalised already for
        ``"whitened"``: :func:`train` does it).
    """

    def __init__(self, X, n_recon, P=None, Q=None):
        self.X, self.n_recon = X, int(n_recon)
        self.X_in = X  # what the encoder sees (a corrupted copy under input dropout)
        self.P = None if P is None or P.nnz == 0 else sp.csr_matrix(P)
        self.Q = None if Q is None or Q.nnz == 0 else sp.csr_matrix(Q)
        self._cache = {}

    @classmethod
    def full(cls, X, P, Q):
        """All ``N`` rows with all their pairs: the full-batch objective."""
        return cls(X, X.shape[0], P, Q)

    def laplacians(self):
        """``(Lap(P + P^T), Lap(Q + Q^T))`` on the rows' device (None where no pairs)."""
        return tuple(self._on_device("lap", i, lambda A, xp: _sparse_to(pair_laplacian(A), xp, self.X.dtype))
                     for i in range(2))

    def edges(self):
        """``(Edges(P), Edges(Q))`` on the rows' device (None where no pairs)."""
        return tuple(self._on_device("edges", i, lambda A, xp: Edges(A, xp, self.X.dtype))
                     for i in range(2))

    def _on_device(self, kind, i, build):
        """``build(A, xp)`` of pair matrix ``i`` (0: P, 1: Q), made once."""
        A = (self.P, self.Q)[i]
        if A is None:
            return None
        if (kind, i) not in self._cache:
            self._cache[kind, i] = build(A, array_module(self.X))
        return self._cache[kind, i]


# ---------------------------------------------------------------- objective
def objective(coefs, intercepts, problem, loss, chunk_size=ROW_CHUNK, buffers=None):
    """Value of the objective, its terms and the analytic gradient.

    Parameters
    ----------
    coefs, intercepts : lists of 2M arrays (on the problem's device)
    problem : Problem
    loss : Loss
        The objective and its weights.
    chunk_size : int
        Rows per block in the backward pass: the encoder activations of all
        rows are kept (the pair gradient needs every code), the decoder and
        the backward GEMMs run block by block.
    buffers : Buffers, optional
        Pool of work arrays shared by the evaluations of one training run
        (a private one by default); every work array goes back to it.

    Returns
    -------
    terms : dict
        :data:`LOSS_FIELDS` (floats).
    grad_coefs, grad_intercepts : lists of arrays, same shapes as the parameters

    Examples
    --------
    >>> X = np.random.default_rng(0).random((6, 4))
    >>> coefs, intercepts = init_params(4, (3,), 0, dtype=np.float64)
    >>> P = sp.csr_matrix(([1.0], ([0], [1])), shape=(6, 6))
    >>> terms, gW, gb = objective(coefs, intercepts, Problem.full(X, P, None),
    ...                           Loss(0.2, 0.1, 0.05, 1, 1))
    >>> sorted(terms), gW[0].shape
    (['J', 'J1', 'J2', 'J3', 'K', 'R'], (4, 3))
    """
    X, n_recon = problem.X, problem.n_recon
    n_enc = len(coefs) // 2
    activations = loss.activations(n_enc)
    buffers = Buffers() if buffers is None else buffers
    enc = encode(coefs, intercepts, problem.X_in, chunk_size, buffers, activations)
    code_terms = _whitened_terms if loss.whitened else _paper_terms
    J2, J3, K, G_H = code_terms(enc[-1], problem, loss, buffers)
    gW = [None] * len(coefs)
    gb = [None] * len(coefs)
    recon_scale = loss.reconstruction / (n_recon * (X.shape[1] if loss.whitened else 1))
    sse = 0.0
    for r0 in range(0, X.shape[0], chunk_size):
        r1 = min(r0 + chunk_size, X.shape[0])
        acts = [problem.X_in[r0:r1]] + [a[r0:r1] for a in enc]
        # decoder (reconstruction) on the anchor rows of this block
        n_rec = max(0, min(r1, n_recon) - r0) if loss.reconstruction else 0
        g_top = None if G_H is None else G_H[r0:r1]  # each row block once: no copy
        if n_rec:
            dec = [acts[-1][:n_rec]]
            for W, b, act in zip(coefs[n_enc:], intercepts[n_enc:], activations[n_enc:]):
                dec.append(_layer(dec[-1], W, b, buffers, act))
            # dJ1 / dz of the output layer, in place in its activations
            top = dec[-1]
            db_top, sse_blk = _activation_delta(top, top, activations[-1], X[r0:r0 + n_rec],
                                                recon_scale)
            sse += sse_blk
            g_dec = _backward(coefs, dec, top, gW, gb, n_enc, True, buffers, activations, db_top)
            if g_top is None:
                g_top = g_dec
            else:
                _add_rows(g_top, g_dec)
                buffers.give(g_dec)
        if g_top is not None:
            # without pair gradients only the anchor rows carry a gradient
            acts = [a[: g_top.shape[0]] for a in acts]
            _backward(coefs, acts, g_top, gW, gb, 0, False, buffers, activations)
    buffers.give(G_H, *enc)
    R = _weight_decay(coefs, intercepts, gW, gb, loss)
    J1 = sse * recon_scale / 2.0 if loss.reconstruction else 0.0
    J = J1 + loss.alpha * J2 - loss.beta * J3 + loss.covariance_weight * K + loss.gamma * R
    return {"J": J, "J1": J1, "J2": J2, "J3": J3, "K": K, "R": R}, gW, gb


def _weight_decay(coefs, intercepts, gW, gb, loss):
    """``R`` and its gradient added into ``gW`` / ``gb`` (zeros where none arrived).

    ``"paper"``: ``sum ||W||^2 + ||b||^2``.  ``"whitened"``: the mean squared
    weight (biases excluded), so that ``gamma`` means the same whatever the
    layer sizes.
    """
    xp = array_module(coefs[0])
    n_weights = sum(W.size for W in coefs)
    w_scale = 1.0 / n_weights if loss.whitened else 1.0
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        # layers that received no gradient (no pairs, no anchors) still decay
        gW[l] = xp.zeros_like(W) if gW[l] is None else gW[l]
        gb[l] = xp.zeros_like(b) if gb[l] is None else gb[l]
        if loss.gamma:
            gW[l] += (2.0 * loss.gamma * w_scale) * W
            if not loss.whitened:
                gb[l] += (2.0 * loss.gamma) * b
    R = float(sum((W * W).sum() for W in coefs)) * w_scale
    if not loss.whitened:
        R += float(sum((b * b).sum() for b in intercepts))
    return R


def _paper_terms(H, problem, loss, buffers):
    """Eq. 4's pair terms: ``(J2, J3, 0, dJ/dH)`` (the gradient None without pairs)."""
    LP, LQ = problem.laplacians()
    n = problem.n_recon
    S_P, G_P = _pair_term(LP, H, buffers)
    S_Q, G_Q = _pair_term(LQ, H, buffers)
    c2, c3 = loss.alpha / (n * loss.k1), loss.beta / (n * loss.k2)
    G_H = None
    for c, G in ((c2, G_P), (-c3, G_Q)):
        if G is not None and c != 0:
            G *= c
            G_H = G if G_H is None else G_H.__iadd__(G)
    buffers.give(*(G for G in (G_P, G_Q) if G is not None and G is not G_H))
    return S_P / (n * loss.k1), S_Q / (n * loss.k2), 0.0, G_H


def _whitened_terms(H, problem, loss, buffers):
    """The scale-free terms: ``(J2, J3, K, dJ/dH)`` (see the module docstring).

    With ``T = tr C`` over the anchor rows ``a`` (``dT/dH_a = 2 Hc / n``):
    ``dJ2/dH = dS_P/dH / (2Tn) - S_P / (2T^2 n) dT/dH``, the same for the
    pairs of J3 that are closer than a random pair (the others are constant),
    and ``dK/dC = (2/T)(M - tr(MC)/T I)`` with ``M = C d / T - I``, which
    reaches the codes as ``2 Hc dK/dC / n``.
    """
    xp = array_module(H)
    n, d = problem.n_recon, H.shape[1]
    Hc = H[:n] - H[:n].mean(axis=0)
    C = (Hc.T @ Hc) / n
    T = max(float(xp.trace(C)), float(np.finfo(np.float32).tiny))
    G = xp.zeros_like(H)
    coef_T = 0.0  # multiplies dT/dH
    J2 = J3 = 0.0
    LP = problem.laplacians()[0]
    EQ = problem.edges()[1]
    if LP is not None:  # uncapped: one Laplacian product, as for "paper"
        S, grad = _pair_term(LP, H, buffers)
        J2 = S / (2 * T * n)
        if loss.alpha:
            G += grad * (loss.alpha / (2 * T * n))
            coef_T -= loss.alpha * S / (2 * T * T * n)
        buffers.give(grad)
    if EQ is not None:
        S, grad, rest = EQ.sum_sq(H, cap=2 * T)
        J3 = (S / (2 * T) + rest) / n
        if loss.beta:
            G -= grad * (loss.beta / (2 * T * n))
            coef_T += loss.beta * S / (2 * T * T * n)
    M = C * (d / T) - xp.eye(d, dtype=C.dtype)
    K = float((M * M).sum()) / d
    if loss.covariance_weight:
        dK_dC = (M - (float((M * C).sum()) / T) * xp.eye(d, dtype=C.dtype)) * (2.0 / T)
        G[:n] += (Hc @ dK_dC) * (2.0 * loss.covariance_weight / n)
    if coef_T:
        G[:n] += Hc * (2.0 * coef_T / n)
    return J2, J3, K, G


def _add_rows(g, g_head):
    """``g`` with ``g_head`` added to its first rows."""
    g[: g_head.shape[0]] += g_head
    return g


def _backward(coefs, acts, g_out, gW, gb, first_layer, need_input_grad, buffers, activations,
              top_db=None):
    """Back-propagate ``g_out`` (dJ/d of the last activation) through the layers.

    ``acts`` are the activations ``[input, out_1, ..., out_n]`` of the layers
    ``first_layer ... first_layer + n - 1`` (``activations[l]`` says whether
    layer ``l`` is a sigmoid or linear); gradients are accumulated into
    ``gW`` / ``gb``.  Returns dJ/d input when ``need_input_grad``.  ``g_out``
    is overwritten (it becomes dJ/dz of the last layer); with ``top_db`` it
    already is dJ/dz and ``top_db`` its column sums.  Work arrays that
    own their memory (``g_out``, the deltas, activations other than the
    input) are given to ``buffers`` once dead; the returned gradient is not.
    """
    xp = array_module(g_out)
    n = len(acts) - 1
    for i in range(n - 1, -1, -1):
        l, out = first_layer + i, acts[i + 1]
        delta = g_out
        if i == n - 1 and top_db is not None:
            db = top_db
        else:
            db = _activation_delta(out, delta, activations[l])[0]
        dW = acts[i].T @ delta
        gW[l] = dW if gW[l] is None else gW[l].__iadd__(dW)
        gb[l] = db if gb[l] is None else gb[l].__iadd__(db)
        if i or need_input_grad:
            W = coefs[l]
            g_out = xp.matmul(delta, W.T, out=buffers.take((delta.shape[0], W.shape[0]), W.dtype, xp))
        buffers.give(delta, None if out is delta else out)
    return g_out if need_input_grad else None


# ------------------------------------------------------------ mini-batches
class PartnerSampler:
    """Draws one partner per row of a sparse pair matrix, ``t ~ A_st / sum_t A_st``.

    The cumulative weights are computed once (not per batch), so a draw
    costs O(batch) whatever ``nnz(A)``.

    Parameters
    ----------
    A : sparse (N, N) or None

    Examples
    --------
    >>> A = sp.csr_matrix(np.array([[0, 2.0, 2.0], [0, 0, 0], [1.0, 0, 0]]))
    >>> t, w = PartnerSampler(A).sample(np.array([0, 1, 2]), np.random.default_rng(0))
    >>> t[1:].tolist(), w.tolist()
    ([1, 0], [4.0, 0.0, 1.0])
    """

    def __init__(self, A):
        self.empty = A is None or A.nnz == 0
        if not self.empty:
            A = sp.csr_matrix(A)
            self.indptr, self.indices = A.indptr, A.indices
            self.cum = np.concatenate([[0.0], np.cumsum(A.data, dtype=np.float64)])

    def sample(self, rows, rng):
        """Partners (the row itself where the row is empty) and row sums (0 there).

        ``E[weights * ||h_s - h_partner||^2] = sum_t A_st ||h_s - h_t||^2``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        partners, weights = rows.copy(), np.zeros(len(rows))
        if self.empty:
            return partners, weights
        start, stop = self.indptr[rows], self.indptr[rows + 1]
        has = stop > start
        # inverse-CDF sampling inside each row's slice of the cumulative weights
        lo, hi = self.cum[start[has]], self.cum[stop[has]]
        u = lo + rng.random(int(has.sum())) * (hi - lo)
        pos = np.clip(np.searchsorted(self.cum, u, side="right") - 1, start[has], stop[has] - 1)
        partners[has] = self.indices[pos]
        weights[has] = hi - lo
        return partners, weights


def batch_problem(X, anchors, samplers, rng, xp, dtype):
    """The sampled-partner problem of one mini-batch (see the module docstring).

    Rows are ``[anchors, P-partners, Q-partners]`` (duplicates allowed: each
    copy is a separate row of the forward pass, which sums correctly).
    ``X`` may already live on ``xp`` (it is gathered there).
    """
    b = len(anchors)
    (t, wp), (u, wq) = (s.sample(anchors, rng) for s in samplers)
    rows = np.concatenate([anchors, t, u])
    pairs = []
    for offset, w in ((b, wp), (2 * b, wq)):
        i = np.flatnonzero(w > 0)
        pairs.append(sp.csr_matrix((w[i], (i, offset + i)), shape=(3 * b, 3 * b)) if i.size else None)
    X_rows = X[rows] if array_module(X) is np else X[xp.asarray(rows)]
    return Problem(to_device(X_rows, xp, dtype), b, *pairs)


# ---------------------------------------------------------------- optimisers
class Optimizer:
    """In-place parameter updates: plain steps (``"gd"``), heavy-ball momentum
    (``"sgd"``) or Adam (Kingma & Ba 2015, with bias correction).

    Parameters
    ----------
    kind : {"gd", "sgd", "adam"}
    params : list of arrays
        The parameters the state is shaped after.
    momentum : float
        ``"sgd"``'s momentum.
    adam_betas : (float, float)
        Adam's decay rates of the first and second moment estimates.
    adam_epsilon : float

    Examples
    --------
    >>> p = [np.array([1.0, -2.0])]
    >>> opt = Optimizer("adam", p)
    >>> opt.step(p, [np.array([0.5, -0.1])], 0.1)
    >>> p[0].round(6).tolist()   # Adam's first step has size lr in every coordinate
    [0.9, -1.9]
    """

    def __init__(self, kind, params, momentum=0.9, adam_betas=(0.9, 0.999), adam_epsilon=1e-8):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}")
        self.kind, self.momentum = kind, float(momentum)
        self.b1, self.b2 = (float(b) for b in adam_betas)
        self.eps, self.t = float(adam_epsilon), 0
        xp = array_module(params[0])
        moments = kind == "adam" or (kind == "sgd" and self.momentum)
        self.m = [xp.zeros_like(p) for p in params] if moments else None
        self.v = [xp.zeros_like(p) for p in params] if kind == "adam" else None

    def step(self, params, grads, lr):
        """Update ``params`` in place from ``grads`` (which may be overwritten)."""
        self.t += 1
        if self.kind == "adam":
            xp = array_module(params[0])
            c1, c2 = 1.0 - self.b1 ** self.t, 1.0 - self.b2 ** self.t
            for p, g, m, v in zip(params, grads, self.m, self.v):
                m *= self.b1
                m += (1.0 - self.b1) * g
                v *= self.b2
                g *= g
                v += (1.0 - self.b2) * g
                denom = xp.sqrt(v / c2)
                denom += self.eps
                p -= (lr / c1) * m / denom
        elif self.m is None:  # plain gradient steps (Algorithm 1 on full batches)
            for p, g in zip(params, grads):
                g *= lr
                p -= g
        else:  # heavy ball: v = mu v - lr g; p += v
            for p, g, v in zip(params, grads, self.m):
                v *= self.momentum
                v -= lr * g
                p += v


# ---------------------------------------------------------------- training
class _Best:
    """The best weights seen so far (device copies): the highest score, else the lowest J."""

    def __init__(self):
        self.key, self.params, self.iteration = np.inf, None, -1

    def offer(self, key, coefs, intercepts, iteration):
        """Keep these weights when ``key`` (lower is better) beats the best so far."""
        if np.isfinite(key) and key < self.key:
            self.key, self.iteration = key, iteration
            # device copies: no host transfer per improvement
            self.params = ([W.copy() for W in coefs], [b.copy() for b in intercepts])
            return True
        return False


def train(X, P, Q, *, hidden_layer_sizes, loss, learning_rate, optimizer="gd", lr_decay=0.95,
          momentum=0.9, adam_betas=(0.9, 0.999), max_iter=100, tol=1e-5, batch_size=None,
          xp=np, dtype=np.float32, init=None, anchors=None, random_state=None,
          chunk_size=ROW_CHUNK, monitor=None, n_iter_no_change=10, input_dropout=0.0, verbose=0):
    """Minimise the objective by full-batch or mini-batch descent.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Network inputs (host array; moved to ``xp`` here).
    P, Q : sparse (N, N) or None
        Same-area and easy-confusing pair matrices (row-normalised here for
        ``"whitened"``).
    hidden_layer_sizes : tuple of int
    loss : Loss
    learning_rate : float
        Initial step; multiplied by ``lr_decay`` after every iteration (full
        batch, Algorithm 1 line 11) or every epoch (mini-batches).
    optimizer : {"gd", "sgd", "adam"}, default="gd"
        Plain steps (with ``batch_size=None``: Algorithm 1), heavy-ball
        momentum, or Adam.
    lr_decay, momentum, adam_betas
        See :class:`Optimizer`.
    max_iter : int
        Iterations (full batch) or epochs (mini-batches).
    tol : float
        Stop when ``|J_k - J_{k-1}| < tol`` (epoch means for mini-batches).
    batch_size : int or None
        ``None``: full batch.
    xp : module
        ``numpy`` or ``cupy``.
    init : (coefs, intercepts), optional
        Start from these weights (host arrays) instead of a fresh init.
    anchors : int array, optional
        Mini-batches only: the rows drawn as anchors (all rows by default;
        :meth:`DGAE.partial_fit` passes the new rows).
    random_state : int, Generator or None
    chunk_size : int
        Rows per GEMM block in the full-batch pass.
    monitor : callable, optional
        ``monitor(coefs, intercepts) -> score`` (higher is better), called
        after every iteration (epoch) on the device weights.  Given one, the
        weights of the best score are returned and training stops after
        ``n_iter_no_change`` iterations without a better one (early
        stopping); otherwise the weights of the lowest ``J``.
    n_iter_no_change : int
    input_dropout : float, default=0
        Share of input units zeroed (and the rest scaled by ``1 / (1 - rate)``)
        afresh for every step, the reconstruction target staying clean: a
        denoising autoencoder (the paper's §4.5 reading of DGAE), which keeps
        a small gallery's POIs from being memorised.
    verbose : int
        tqdm bar with the current loss terms (and score).

    Returns
    -------
    result : dict
        ``coefs``, ``intercepts`` (host, the best weights), ``loss_curve``
        (structured array of :data:`LOSS_FIELDS`), ``scores`` (the monitor's,
        one per iteration; empty without one), ``n_iter``, ``best_iter``,
        ``interrupted``, ``times`` (seconds per iteration).
    """
    rng = np.random.default_rng(random_state)
    activations = loss.activations(len(hidden_layer_sizes))
    if init is None:
        init = init_params(X.shape[1], hidden_layer_sizes, rng, dtype, activations,
                           sigmoid_gain=1.0 if loss.whitened else 4.0)
    coefs = [to_device(W, xp, dtype) for W in init[0]]
    intercepts = [to_device(b, xp, dtype) for b in init[1]]
    if loss.whitened:
        P, Q = row_normalize(P), row_normalize(Q)
    hyper = dict(loss=loss, chunk_size=chunk_size)
    full = batch_size is None
    corrupt = _Dropout(input_dropout, rng)
    if full:
        steps = _full_batch_steps(Problem.full(to_device(X, xp, dtype), P, Q), hyper, corrupt)
    else:
        anchors = np.arange(X.shape[0]) if anchors is None else np.asarray(anchors)
        steps = _batch_steps(X, P, Q, anchors, int(batch_size), hyper, rng, xp, dtype, corrupt)
    opt = Optimizer(optimizer, coefs + intercepts, momentum, adam_betas)
    best, curve, scores, times = _Best(), [], [], []
    lr, prev_J, interrupted, since_best = float(learning_rate), np.inf, False, 0
    bar = progress(range(int(max_iter)), verbose=verbose, desc="DGAE", unit="it" if full else "epoch")
    try:
        for it in bar:
            t0 = time.perf_counter()
            terms = steps(coefs, intercepts, lr, opt, None if monitor else best, it)
            _sync(xp)
            times.append(time.perf_counter() - t0)
            curve.append(tuple(terms[f] for f in LOSS_FIELDS))
            post = {f: f"{terms[f]:.4g}" for f in LOSS_FIELDS}
            if not np.isfinite(terms["J"]):
                warnings.warn(f"the objective became {terms['J']} at iteration {it}; "
                              "keeping the best weights (lower learning_rate)", RuntimeWarning, stacklevel=3)
                break
            if monitor is not None:
                scores.append(float(monitor(coefs, intercepts)))
                post["score"] = f"{scores[-1]:.4g}"
                since_best = 0 if best.offer(-scores[-1], coefs, intercepts, it) else since_best + 1
            elif not full:
                best.offer(terms["J"], coefs, intercepts, it)
            bar.set_postfix(post, refresh=False)
            lr *= lr_decay
            if abs(prev_J - terms["J"]) < tol or (monitor is not None and since_best >= n_iter_no_change):
                break
            prev_J = terms["J"]
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(f"training interrupted after {len(curve)} iteration(s); keeping the "
                      "best weights so far", RuntimeWarning, stacklevel=3)
    finally:
        bar.close()
    if best.params is None:  # interrupted before any evaluation
        best.params = (coefs, intercepts)
    return {
        "coefs": [to_host(W) for W in best.params[0]],
        "intercepts": [to_host(b) for b in best.params[1]],
        "loss_curve": np.array(curve, dtype=LOSS_DTYPE), "scores": np.array(scores),
        "n_iter": len(curve), "best_iter": best.iteration, "interrupted": interrupted,
        "times": np.array(times),
    }


def _sync(xp):
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()


class _Dropout:
    """Input dropout: ``problem.X_in`` = the inputs with a random share zeroed (inverted scaling)."""

    def __init__(self, rate, rng):
        self.rate, self.rng = float(rate), rng

    def __call__(self, problem):
        if not self.rate:
            return problem
        X = problem.X
        keep = self.rng.random(X.shape, dtype=np.float32) >= self.rate
        xp = array_module(X)
        problem.X_in = X * to_device(keep, xp, X.dtype) * (1.0 / (1.0 - self.rate))
        return problem


def _full_batch_steps(problem, hyper, corrupt):
    """One exact gradient step per iteration (Algorithm 1 with ``"gd"``)."""

    buffers = Buffers()  # the work arrays of one iteration serve the next

    def step(coefs, intercepts, lr, opt, best, it):
        terms, gW, gb = objective(coefs, intercepts, corrupt(problem), buffers=buffers, **hyper)
        # J_k is the value at the weights *before* this step: keep them if best
        if best is not None:
            best.offer(terms["J"], coefs, intercepts, it)
        if np.isfinite(terms["J"]):
            opt.step(coefs + intercepts, gW + gb, lr)
        return terms

    return step


def _batch_steps(X, P, Q, anchors, batch_size, hyper, rng, xp, dtype, corrupt):
    """One epoch of mini-batch steps over ``anchors`` (sampled partners)."""
    batch_size = max(1, min(batch_size, len(anchors)))
    samplers = (PartnerSampler(P), PartnerSampler(Q))
    if xp is not np:
        X = to_device(X, xp, dtype)  # gather batches on the device
    buffers = Buffers()

    def epoch(coefs, intercepts, lr, opt, best, it):
        order = rng.permutation(anchors)
        acc = dict.fromkeys(LOSS_FIELDS, 0.0)
        for r0 in range(0, len(order), batch_size):
            batch = order[r0:r0 + batch_size]
            problem = corrupt(batch_problem(X, batch, samplers, rng, xp, dtype))
            terms, gW, gb = objective(coefs, intercepts, problem, buffers=buffers, **hyper)
            if not np.isfinite(terms["J"]):
                return terms
            opt.step(coefs + intercepts, gW + gb, lr)
            for f in LOSS_FIELDS:  # |B|/N-weighted: an estimate of J over the epoch
                acc[f] += terms[f] * len(batch) / len(order)
        return acc

    return epoch
