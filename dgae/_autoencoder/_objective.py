"""The objectives (Eq. 4 and the whitened one), their pair terms and their gradients."""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..utils import array_module, to_device
from . import _network  # _network._n_threads: looked up at call time (tests patch it)
from ._network import ROW_CHUNK, Buffers, _activation_delta, _backward, encode, _layer, _row_map


OBJECTIVES = ("whitened", "paper")
#: Fields of ``loss_curve_`` (one record per iteration / epoch); ``K`` is 0 for "paper".
LOSS_FIELDS = ("J", "J1", "J2", "J3", "K", "R")
LOSS_DTYPE = np.dtype([(name, np.float64) for name in LOSS_FIELDS])


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
    return sum(_row_map(kernel, n, H.shape[1], xp, block_rows=-(-n // _network._n_threads()))), G


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
class LossWeights:
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
    >>> LossWeights(alpha=1.0, objective="whitened").activations(2)
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


class PairBatch:
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
    problem : PairBatch
    loss : LossWeights
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
    >>> from dgae._autoencoder import init_params
    >>> coefs, intercepts = init_params(4, (3,), 0, dtype=np.float64)
    >>> P = sp.csr_matrix(([1.0], ([0], [1])), shape=(6, 6))
    >>> terms, gW, gb = objective(coefs, intercepts, PairBatch.full(X, P, None),
    ...                           LossWeights(0.2, 0.1, 0.05, 1, 1))
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
