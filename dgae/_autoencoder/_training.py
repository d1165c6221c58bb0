"""Training: partner sampling for mini-batches, full-batch (Algorithm 1) and mini-batch steps with
the optimisers of :mod:`dgae._optim`, early stopping on a monitor, input dropout."""
import numpy as np
import scipy.sparse as sp

from ..utils import array_module, progress, to_device, to_host, warn
from .._optim import BestWeights, Optimizer
from ._network import ROW_CHUNK, Buffers, init_params
from ._objective import LOSS_DTYPE, LOSS_FIELDS, PairBatch, objective, row_normalize


# ------------------------------------------------------------ mini-batches
#: Most optimiser steps between two early-stopping checks with mini-batches: an epoch of more
#: (650 steps at 664,720 photos, batches of 1,024) is cut into equal rounds, each checked.
#: The held-out score peaks within a few hundred steps at any size (docs/scaling.md): checked
#: once an epoch, at 664,720 photos the first check was the best and five more epochs were
#: patience.
ROUND_STEPS = 100


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
    return PairBatch(to_device(X_rows, xp, dtype), b, *pairs)


# ---------------------------------------------------------------- training
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
    loss : LossWeights
    learning_rate : float
        Initial step; multiplied by ``lr_decay`` after every iteration (full
        batch, Algorithm 1 line 11) or every epoch (mini-batches: by its
        ``1 / rounds``-th power after each round).
    optimizer : {"gd", "sgd", "adam"}, default="gd"
        Plain steps (with ``batch_size=None``: Algorithm 1), heavy-ball
        momentum, or Adam.
    lr_decay, momentum, adam_betas
        See :class:`Optimizer`.
    max_iter : int
        Iterations (full batch) or rounds (mini-batches: an epoch, or one of its
        :func:`rounds_per_epoch` parts of at most ``ROUND_STEPS`` steps).
    tol : float
        Stop when ``|J_k - J_{k-1}| < tol`` (round means for mini-batches).
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
        after every iteration (round) on the device weights.  Given one, the
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
        ``per_epoch`` (rounds an epoch; 1 in full batch).
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
    best = BestWeights()
    if full:
        steps = _full_batch_steps(PairBatch.full(to_device(X, xp, dtype), P, Q), hyper, corrupt,
                                  None if monitor else best)
    else:
        anchors = np.arange(X.shape[0]) if anchors is None else np.asarray(anchors)
        steps = _batch_steps(X, P, Q, anchors, int(batch_size), hyper, rng, xp, dtype, corrupt)
    opt = Optimizer(optimizer, coefs + intercepts, momentum, adam_betas)
    per_epoch = getattr(steps, "per_epoch", 1)
    curve, scores, lr, prev_J = [], [], float(learning_rate), np.inf
    bar = progress(range(int(max_iter)), verbose=verbose, desc="DGAE", unit="it" if full else "round")
    try:
        for it in bar:
            terms = steps(coefs, intercepts, lr, opt)
            curve.append(tuple(terms[f] for f in LOSS_FIELDS))
            post = {f: f"{terms[f]:.4g}" for f in LOSS_FIELDS}
            if not np.isfinite(terms["J"]):
                warn(f"the objective became {terms['J']} at iteration {it}; "
                     "keeping the best weights (lower learning_rate)", RuntimeWarning)
                break
            if monitor is not None:
                scores.append(float(monitor(coefs, intercepts)))
                post["score"] = f"{scores[-1]:.4g}"
                best.offer(-scores[-1], coefs + intercepts, it)
            elif not full:
                best.offer(terms["J"], coefs + intercepts, it)
            bar.set_postfix(post, refresh=False)
            lr *= lr_decay ** (1.0 / per_epoch)  # lr_decay an epoch
            if abs(prev_J - terms["J"]) < tol or (monitor is not None
                                                 and best.stale >= n_iter_no_change):
                break
            prev_J = terms["J"]
    finally:  # Ctrl-C propagates, as in scikit-learn: no half-trained model is returned
        bar.close()
    kept = best.params if best.params is not None else coefs + intercepts  # none evaluated yet
    return {
        "coefs": [to_host(W) for W in kept[:len(coefs)]],
        "intercepts": [to_host(b) for b in kept[len(coefs):]],
        "loss_curve": np.array(curve, dtype=LOSS_DTYPE), "scores": np.array(scores),
        "n_iter": len(curve), "best_iter": best.iteration, "per_epoch": per_epoch,
    }


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


def _full_batch_steps(problem, hyper, corrupt, best=None):
    """One exact gradient step per iteration (Algorithm 1 with ``"gd"``); ``best``
    (:class:`~dgae._optim.BestWeights`) is offered the weights each step starts from."""

    buffers = Buffers()  # the work arrays of one iteration serve the next
    iteration = [0]

    def step(coefs, intercepts, lr, opt):
        terms, gW, gb = objective(coefs, intercepts, corrupt(problem), buffers=buffers, **hyper)
        # J_k is the value at the weights *before* this step: keep them if best
        if best is not None:
            best.offer(terms["J"], coefs + intercepts, iteration[0])
        iteration[0] += 1
        if np.isfinite(terms["J"]):
            opt.step(coefs + intercepts, gW + gb, lr)
        return terms

    return step


def rounds_per_epoch(n_anchors, batch_size):
    """Rounds an epoch of mini-batch training is cut into: one up to ``ROUND_STEPS`` steps,
    else as many as keep each round at most that many steps.

    Examples
    --------
    >>> rounds_per_epoch(100_000, 1024), rounds_per_epoch(664_720, 1024)
    (1, 7)
    """
    steps = -(-int(n_anchors) // max(1, min(int(batch_size), int(n_anchors))))
    return max(1, -(-steps // ROUND_STEPS))


def _batch_steps(X, P, Q, anchors, batch_size, hyper, rng, xp, dtype, corrupt):
    """One round of mini-batch steps over ``anchors`` (sampled partners): an epoch, or the
    next of the :func:`rounds_per_epoch` parts of one (``.per_epoch`` of them), each a
    fresh permutation's share."""
    batch_size = max(1, min(batch_size, len(anchors)))
    samplers = (PartnerSampler(P), PartnerSampler(Q))
    if xp is not np:
        X = to_device(X, xp, dtype)  # gather batches on the device
    buffers = Buffers()
    starts = np.arange(0, len(anchors), batch_size)
    parts = np.array_split(starts, rounds_per_epoch(len(anchors), batch_size))
    state = {"order": None, "part": 0}

    def step_round(coefs, intercepts, lr, opt):
        if state["part"] == 0:
            state["order"] = rng.permutation(anchors)
        order, part = state["order"], parts[state["part"]]
        state["part"] = (state["part"] + 1) % len(parts)
        seen = min(len(order), part[-1] + batch_size) - part[0]
        acc = dict.fromkeys(LOSS_FIELDS, 0.0)
        for r0 in part:
            batch = order[r0:r0 + batch_size]
            problem = corrupt(batch_problem(X, batch, samplers, rng, xp, dtype))
            terms, gW, gb = objective(coefs, intercepts, problem, buffers=buffers, **hyper)
            if not np.isfinite(terms["J"]):
                return terms
            opt.step(coefs + intercepts, gW + gb, lr)
            for f in LOSS_FIELDS:  # |B|/N-weighted: an estimate of J over the round
                acc[f] += terms[f] * len(batch) / seen
        return acc

    step_round.per_epoch = len(parts)
    return step_round
