"""The geo-constrained stacked autoencoder: network, objective, gradients, optimisers.

Paper §4.3–§4.4 and Algorithm 1, on NumPy or CuPy (the array module is chosen
by :mod:`dgae._backend`; everything here works on whatever module the arrays
belong to).

Objective (Eq. 4), on a set of rows ``B`` of the gallery (``B`` = all ``N``
rows for full-batch training)::

    J = J1 + alpha * J2 - beta * J3 + gamma * R
    J1 = 1/(2|B|) sum_{s in B} ||x_s - g(f(x_s))||^2
    J2 = 1/(|B| k1) sum_{s in B} sum_t P_st ||f(x_s) - f(x_t)||^2
    J3 = 1/(|B| k2) sum_{s in B} sum_t Q_st ||f(x_s) - f(x_t)||^2
    R  = sum_m ||W^(m)||_F^2 + ||b^(m)||^2          (all 2M layers)

``f`` is the encoder (``M`` sigmoid layers, the constraints sit on its top
layer ``h^(M)``), ``g`` the mirrored sigmoid decoder.  The pair terms depend
on the encoder only, so their gradient flows only into the encoder and the
decoder is trained by the reconstruction (and weight decay) alone, as §4.4
states.

Pair terms as a graph-Laplacian product.  For a (possibly non-symmetric)
weight matrix ``A`` and codes ``H``::

    sum_st A_st ||h_s - h_t||^2 = tr(H^T L H),   L = Lap(A + A^T) = diag((A + A^T) 1) - (A + A^T)
    gradient with respect to H  = 2 L H

(expand ``||h_s - h_t||^2``: row ``s`` receives ``2 sum_t (A_st + A_ts)(h_s - h_t)``).
One sparse product ``L @ H`` gives both the value and the gradient.

Mini-batch SGD with an unbiased gradient.  A batch ``B`` of anchor rows is
drawn by a random permutation.  For every anchor ``s`` one P-partner ``t`` is
sampled with probability ``P_st / p_s`` (``p_s = sum_t P_st``) and one
Q-partner ``u`` with probability ``Q_su / q_s``; the batch objective is::

    J_B = 1/(2|B|) sum_{s in B} ||x_s - g(f(x_s))||^2
          + alpha/(|B| k1) sum_{s in B} p_s ||f(x_s) - f(x_t)||^2
          - beta /(|B| k2) sum_{s in B} q_s ||f(x_s) - f(x_u)||^2 + gamma R

and the forward pass runs the encoder on ``B`` and the sampled partners
(partners outside ``B`` included, so their codes are exact and the pair
gradient flows into both ends of every edge).  Unbiasedness:
``E_t[p_s ||h_s - h_t||^2] = sum_t P_st ||h_s - h_t||^2`` for every anchor, so
``E[J_B]`` is the objective restricted to ``B`` with all its pairs; and over
one epoch (the permutation splits all ``N`` rows into batches)
``sum_B (|B|/N) J_B`` has the expectation ``J`` of Eq. 4.  Sampling does not
depend on the weights, so the same holds for the gradients.  The encoder then
runs on ``3|B|`` rows per batch (not ``|B|(1 + k1 + k2)``).
"""
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from ._backend import array_module, to_device, to_host
from ._progress import progress

#: Fields of ``loss_curve_`` (one record per iteration / epoch).
LOSS_FIELDS = ("J", "J1", "J2", "J3", "R")
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


def _sigmoid_delta(out, g, target=None, scale=None):
    """dJ/dz of a sigmoid layer, in place in ``g``: ``g *= out * (1 - out)``.

    With ``target`` (the reconstruction's output layer) ``g`` is ``out``
    itself, overwritten by ``(out - target) * scale * out * (1 - out)``: the
    error, its scaling and the derivative in one pass, no error array.

    Returns
    -------
    db : ndarray
        Column sums of the result (the bias gradient).
    sse : float
        ``sum((out - target) ** 2)`` (0 without ``target``).
    """
    xp = array_module(g)

    def kernel(r0, r1):
        o, d = out[r0:r1], g[r0:r1]
        s = xp.subtract(1.0, o)  # sigmoid' = s (1 - s), before d (maybe o) is overwritten
        s *= o
        sse = 0.0
        if target is not None:
            xp.subtract(o, target[r0:r1], out=d)
            sse = float(xp.square(d).sum())
            d *= scale
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


def init_params(n_features, hidden_layer_sizes, random_state, dtype=np.float32):
    """Glorot-uniform weights for sigmoid units, zero biases (NumPy).

    ``W`` is drawn from ``U(-r, r)`` with ``r = 4 sqrt(6 / (fan_in + fan_out))``,
    Glorot & Bengio's (2010) rule for logistic units (4x the tanh range, as
    sigmoid'(0) = 1/4): smaller weights leave every unit near 0.5 and the
    codes collapse onto the mean under gradient descent.

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
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 4.0 * np.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(np.zeros(fan_out, dtype=dtype))
    return coefs, intercepts


def _layer(a, W, b, buffers=None):
    """``sigmoid(a @ W + b)``, in place on the product (cache-blocked, threaded)."""
    xp = array_module(a)
    out = None if buffers is None else buffers.take((a.shape[0], W.shape[1]), W.dtype, xp)
    z = xp.matmul(a, W, out=out)

    def kernel(r0, r1):
        blk = z[r0:r1]
        blk += b
        sigmoid(blk, out=blk)

    _row_map(kernel, *z.shape, xp)
    return z


def encode(coefs, intercepts, X, chunk_size=65536, buffers=None):
    """All encoder hidden layers of ``X`` (the first ``M = len(coefs) // 2`` layers).

    Parameters
    ----------
    coefs, intercepts : lists of arrays (on X's device)
    X : ndarray of shape (n, D), scaled into [0, 1]
    chunk_size : int
        Rows per GEMM block (bounds the memory).
    buffers : Buffers, optional
        Pool the activations are taken from (fresh arrays by default).

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
    blocks = []
    for r0 in range(0, X.shape[0], chunk_size):
        a, acts = X[r0:r0 + chunk_size], []
        for W, b in zip(coefs[:n_enc], intercepts[:n_enc]):
            a = _layer(a, W, b, buffers)
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


# ---------------------------------------------------------------- objective
class Problem:
    """The rows and pair structure one objective evaluation works on.

    Parameters
    ----------
    X : ndarray of shape (n_rows, D)
        Inputs (scaled into [0, 1]) of the rows the encoder runs on.
    n_recon : int
        The first ``n_recon`` rows are the anchors ``B``: they get the
        reconstruction term, and the objective is normalised by ``n_recon``.
    LP, LQ : sparse (n_rows, n_rows) or None
        Laplacians ``Lap(A + A^T)`` of the P and Q pairs among the rows.
    """

    def __init__(self, X, n_recon, LP=None, LQ=None):
        self.X, self.n_recon, self.LP, self.LQ = X, int(n_recon), LP, LQ

    @classmethod
    def full(cls, X, P, Q):
        """All ``N`` rows with all their pairs: Eq. 4 itself."""
        xp = array_module(X)
        laps = [None if A is None or A.nnz == 0 else _sparse_to(pair_laplacian(A), xp, X.dtype)
                for A in (P, Q)]
        return cls(X, X.shape[0], *laps)


def objective(coefs, intercepts, problem, alpha, beta, gamma, k1, k2, chunk_size=65536,
              buffers=None):
    """Value of the objective, its four terms and the analytic gradient.

    Parameters
    ----------
    coefs, intercepts : lists of 2M arrays (on the problem's device)
    problem : Problem
    alpha, beta, gamma : float
    k1, k2 : int
        Normalisers of the pair terms (Eq. 4).
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
        ``J``, ``J1``, ``J2``, ``J3``, ``R`` (floats).
    grad_coefs, grad_intercepts : lists of arrays, same shapes as the parameters

    Examples
    --------
    >>> X = np.random.default_rng(0).random((6, 4))
    >>> coefs, intercepts = init_params(4, (3,), 0, dtype=np.float64)
    >>> P = sp.csr_matrix(([1.0], ([0], [1])), shape=(6, 6))
    >>> terms, gW, gb = objective(coefs, intercepts, Problem.full(X, P, None),
    ...                           0.2, 0.1, 0.05, 1, 1)
    >>> sorted(terms), gW[0].shape
    (['J', 'J1', 'J2', 'J3', 'R'], (4, 3))
    """
    X, n_recon = problem.X, problem.n_recon
    n_enc = len(coefs) // 2
    buffers = Buffers() if buffers is None else buffers
    enc = encode(coefs, intercepts, X, chunk_size, buffers)
    H = enc[-1]
    # pair terms on the top encoder layer: value and gradient w.r.t. H
    S_P, G_P = _pair_term(problem.LP, H, buffers)
    S_Q, G_Q = _pair_term(problem.LQ, H, buffers)
    c2, c3 = alpha / (n_recon * k1), beta / (n_recon * k2)
    G_H = None
    for c, G in ((c2, G_P), (-c3, G_Q)):
        if G is not None and c != 0:
            G *= c
            G_H = G if G_H is None else G_H.__iadd__(G)
    buffers.give(*(G for G in (G_P, G_Q) if G is not None and G is not G_H))
    gW = [None] * len(coefs)
    gb = [None] * len(coefs)
    sse = 0.0
    for r0 in range(0, X.shape[0], chunk_size):
        r1 = min(r0 + chunk_size, X.shape[0])
        acts = [X[r0:r1]] + [a[r0:r1] for a in enc]
        # decoder (reconstruction) on the anchor rows of this block
        n_rec = max(0, min(r1, n_recon) - r0)
        g_top = None if G_H is None else G_H[r0:r1]  # each row block once: no copy
        if n_rec:
            dec = [acts[-1][:n_rec]]
            for W, b in zip(coefs[n_enc:], intercepts[n_enc:]):
                dec.append(_layer(dec[-1], W, b, buffers))
            # dJ1 / dz of the output layer, in place in its activations
            top = dec[-1]
            db_top, sse_blk = _sigmoid_delta(top, top, X[r0:r0 + n_rec], 1.0 / n_recon)
            sse += sse_blk
            g_dec = _backward(coefs, dec, top, gW, gb, n_enc, True, buffers, db_top)
            if g_top is None:
                g_top = g_dec
            else:
                _add_rows(g_top, g_dec)
                buffers.give(g_dec)
        if g_top is not None:
            # without pair gradients only the anchor rows carry a gradient
            acts = [a[: g_top.shape[0]] for a in acts]
            _backward(coefs, acts, g_top, gW, gb, 0, False, buffers)
    buffers.give(G_H, *enc)
    xp = array_module(X)
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        # layers that received no gradient (no pairs, no anchors) still decay
        gW[l] = xp.zeros_like(W) if gW[l] is None else gW[l]
        gb[l] = xp.zeros_like(b) if gb[l] is None else gb[l]
        if gamma:
            gW[l] += (2.0 * gamma) * W
            gb[l] += (2.0 * gamma) * b
    R = float(sum((W * W).sum() + (b * b).sum() for W, b in zip(coefs, intercepts)))
    J1 = sse / (2.0 * n_recon)
    J2, J3 = S_P / (n_recon * k1), S_Q / (n_recon * k2)
    terms = {"J": J1 + alpha * J2 - beta * J3 + gamma * R, "J1": J1, "J2": J2, "J3": J3, "R": R}
    return terms, gW, gb


def _add_rows(g, g_head):
    """``g`` with ``g_head`` added to its first rows."""
    g[: g_head.shape[0]] += g_head
    return g


def _backward(coefs, acts, g_out, gW, gb, first_layer, need_input_grad, buffers, top_db=None):
    """Back-propagate ``g_out`` (dJ/d of the last activation) through sigmoid layers.

    ``acts`` are the activations ``[input, out_1, ..., out_n]`` of the layers
    ``first_layer ... first_layer + n - 1``; gradients are accumulated into
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
        db = top_db if i == n - 1 and top_db is not None else _sigmoid_delta(out, delta)[0]
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
    laps = []
    for offset, w in ((b, wp), (2 * b, wq)):
        keep = w > 0
        if not keep.any():
            laps.append(None)
            continue
        i = np.flatnonzero(keep)
        A = sp.csr_matrix((w[keep], (i, offset + i)), shape=(3 * b, 3 * b))
        laps.append(_sparse_to(pair_laplacian(A), xp, dtype))
    X_rows = X[rows] if array_module(X) is np else X[xp.asarray(rows)]
    return Problem(to_device(X_rows, xp, dtype), b, *laps)


# ---------------------------------------------------------------- training
class _Best:
    """The lowest-J weights seen so far (host copies)."""

    def __init__(self):
        self.J, self.params, self.iteration = np.inf, None, -1

    def offer(self, J, coefs, intercepts, iteration):
        if np.isfinite(J) and J < self.J:
            self.J, self.iteration = J, iteration
            # device copies: no host transfer per improvement
            self.params = ([W.copy() for W in coefs], [b.copy() for b in intercepts])


def train(X, P, Q, *, hidden_layer_sizes, alpha, beta, gamma, k1, k2, learning_rate,
          lr_decay=0.95, momentum=0.9, max_iter=100, tol=1e-5, batch_size=None,
          xp=np, dtype=np.float32, init=None, anchors=None, random_state=None,
          chunk_size=65536, verbose=0):
    """Minimise Eq. 4 by Algorithm 1 (``batch_size=None``) or mini-batch SGD.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Scaled inputs in [0, 1] (host array; moved to ``xp`` here).
    P, Q : sparse (N, N) or None
        Same-area and easy-confusing pair matrices.
    hidden_layer_sizes : tuple of int
    alpha, beta, gamma, k1, k2 : float, int
        Eq. 4.
    learning_rate : float
        Initial step ``lambda``; multiplied by ``lr_decay`` after every
        iteration (full batch, Algorithm 1 line 11) or every epoch (SGD).
    momentum : float
        Heavy-ball momentum of the SGD updates (full batch: plain gradient
        steps, as Algorithm 1).
    max_iter : int
        Iterations (full batch) or epochs (SGD).
    tol : float
        Stop when ``|J_k - J_{k-1}| < tol`` (epoch means for SGD).
    batch_size : int or None
        ``None``: full-batch gradient descent.
    xp : module
        ``numpy`` or ``cupy``.
    init : (coefs, intercepts), optional
        Start from these weights (host arrays) instead of a fresh init.
    anchors : int array, optional
        SGD only: the rows that are drawn as anchors (all rows by default;
        :meth:`DGAE.partial_fit` passes the new rows).
    random_state : int, Generator or None
    chunk_size : int
        Rows per GEMM block in the full-batch pass.
    verbose : int
        tqdm bar with the current loss terms.

    Returns
    -------
    result : dict
        ``coefs``, ``intercepts`` (host, lowest-J weights), ``loss_curve``
        (structured array of :data:`LOSS_FIELDS`), ``n_iter``,
        ``best_iter``, ``interrupted``, ``times`` (seconds per iteration).
    """
    rng = np.random.default_rng(random_state)
    if init is None:
        init = init_params(X.shape[1], hidden_layer_sizes, rng, dtype)
    coefs = [to_device(W, xp, dtype) for W in init[0]]
    intercepts = [to_device(b, xp, dtype) for b in init[1]]
    hyper = dict(alpha=alpha, beta=beta, gamma=gamma, k1=k1, k2=k2, chunk_size=chunk_size)
    full = batch_size is None
    if full:
        problem = Problem.full(to_device(X, xp, dtype), P, Q)
        steps = _full_batch_steps(problem, hyper)
    else:
        anchors = np.arange(X.shape[0]) if anchors is None else np.asarray(anchors)
        steps = _sgd_steps(X, P, Q, anchors, int(batch_size), hyper, rng, xp, dtype)
    velocity = None if full or not momentum else [xp.zeros_like(a) for a in coefs + intercepts]
    best, curve, times = _Best(), [], []
    lr, prev_J, interrupted = float(learning_rate), np.inf, False
    bar = progress(range(int(max_iter)), verbose=verbose, desc="DGAE", unit="epoch" if not full else "it")
    try:
        for it in bar:
            t0 = time.perf_counter()
            terms = steps(coefs, intercepts, lr, momentum, velocity, best, it)
            _sync(xp)
            times.append(time.perf_counter() - t0)
            curve.append(tuple(terms[f] for f in LOSS_FIELDS))
            bar.set_postfix({f: f"{terms[f]:.4g}" for f in LOSS_FIELDS}, refresh=False)
            if not np.isfinite(terms["J"]):
                warnings.warn(f"the objective became {terms['J']} at iteration {it}; "
                              "keeping the best weights (lower learning_rate)", RuntimeWarning, stacklevel=3)
                break
            if not full:
                best.offer(terms["J"], coefs, intercepts, it)
            lr *= lr_decay
            if abs(prev_J - terms["J"]) < tol:
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
        "loss_curve": np.array(curve, dtype=LOSS_DTYPE), "n_iter": len(curve),
        "best_iter": best.iteration, "interrupted": interrupted, "times": np.array(times),
    }


def _sync(xp):
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()


def _update(params, grads, lr, momentum, velocity):
    """``p -= lr * g`` (plain) or heavy-ball ``v = mu v - lr g; p += v`` (in place)."""
    for i, (p, g) in enumerate(zip(params, grads)):
        if velocity is None:
            g *= lr
            p -= g
        else:
            v = velocity[i]
            v *= momentum
            v -= lr * g
            p += v


def _full_batch_steps(problem, hyper):
    """Algorithm 1: one exact gradient step per iteration on J of Eq. 4."""

    buffers = Buffers()  # the work arrays of one iteration serve the next

    def step(coefs, intercepts, lr, momentum, velocity, best, it):
        terms, gW, gb = objective(coefs, intercepts, problem, buffers=buffers, **hyper)
        # J_k is the value at the weights *before* this step: keep them if best
        best.offer(terms["J"], coefs, intercepts, it)
        if np.isfinite(terms["J"]):
            _update(coefs + intercepts, gW + gb, lr, 0.0, None)
        return terms

    return step


def _sgd_steps(X, P, Q, anchors, batch_size, hyper, rng, xp, dtype):
    """One epoch of mini-batch SGD over ``anchors`` (sampled partners, unbiased)."""
    batch_size = max(1, min(batch_size, len(anchors)))
    samplers = (PartnerSampler(P), PartnerSampler(Q))
    if xp is not np:
        X = to_device(X, xp, dtype)  # gather batches on the device
    buffers = Buffers()

    def epoch(coefs, intercepts, lr, momentum, velocity, best, it):
        order = rng.permutation(anchors)
        acc = dict.fromkeys(LOSS_FIELDS, 0.0)
        for r0 in range(0, len(order), batch_size):
            batch = order[r0:r0 + batch_size]
            problem = batch_problem(X, batch, samplers, rng, xp, dtype)
            terms, gW, gb = objective(coefs, intercepts, problem, buffers=buffers, **hyper)
            if not np.isfinite(terms["J"]):
                return terms
            _update(coefs + intercepts, gW + gb, lr, momentum, velocity)
            for f in LOSS_FIELDS:  # |B|/N-weighted: an unbiased estimate of J over the epoch
                acc[f] += terms[f] * len(batch) / len(order)
        return acc

    return epoch
