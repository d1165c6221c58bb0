"""The autoencoder maths: gradients vs finite differences, pair terms, SGD unbiasedness."""
import numpy as np
import pytest
import scipy.sparse as sp

from dgae._autoencoder import (
    LOSS_FIELDS,
    LossWeights,
    Optimizer,
    PartnerSampler,
    PairBatch,
    batch_problem,
    encode,
    init_params,
    layer_activations,
    objective,
    pair_laplacian,
    row_normalize,
    sigmoid,
    train,
)


def _obj(coefs, ints, problem, chunk_size=65536, buffers=None, **weights):
    """``objective`` with the weights as keywords (``alpha``, ..., ``objective=``)."""
    return objective(coefs, ints, problem, LossWeights(**weights), chunk_size=chunk_size, buffers=buffers)


def _pairs(n, density, seed, weighted):
    A = sp.random(n, n, density=density, random_state=seed, format="csr")
    A.data[:] = np.random.default_rng(seed).uniform(0.5, 2.0, A.nnz) if weighted else 1.0
    return A


@pytest.fixture
def tiny():
    """9 rows, D=5, hidden (4, 3), float64, weights scaled up so codes differ."""
    rng = np.random.default_rng(0)
    X = rng.random((9, 5))
    coefs, ints = init_params(5, (4, 3), 0, dtype=np.float64)
    coefs = [3.0 * W for W in coefs]
    ints = [rng.normal(0, 0.5, b.shape) for b in ints]
    return X, coefs, ints


def _numeric_grad(coefs, ints, problem, hyper, h=1e-5):
    out = []
    for p in coefs + ints:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            jp = _obj(coefs, ints, problem, **hyper)[0]["J"]
            p[idx] = old - h
            jm = _obj(coefs, ints, problem, **hyper)[0]["J"]
            p[idx] = old
            g[idx] = (jp - jm) / (2 * h)
        out.append(g)
    return out


@pytest.mark.parametrize("alpha,beta,gamma,weighted,chunk", [
    (0.2, 0.1, 0.05, False, 65536),   # the paper's values
    (1.0, 0.0, 0.0, True, 4),         # same-area term only, weighted non-symmetric P, 3 chunks
    (0.0, 1.0, 0.0, True, 65536),     # easy-confusing term only
    (0.0, 0.0, 0.0, False, 5),        # reconstruction only
])
def test_gradient_matches_central_differences(tiny, alpha, beta, gamma, weighted, chunk):
    X, coefs, ints = tiny
    P, Q = _pairs(9, 0.3, 1, weighted), _pairs(9, 0.3, 2, weighted)
    assert P.nnz and Q.nnz
    problem = PairBatch.full(X, P, Q)
    hyper = dict(alpha=alpha, beta=beta, gamma=gamma, k1=3, k2=2, chunk_size=chunk)
    terms, gW, gb = _obj(coefs, ints, problem, **hyper)
    assert terms["J2"] > 1e-3 and terms["J3"] > 1e-3  # the pair terms are really exercised
    for analytic, numeric in zip(gW + gb, _numeric_grad(coefs, ints, problem, hyper)):
        rel = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
        assert rel < 1e-6


@pytest.mark.parametrize("n_threads,block_elems", [(1, 7), (2, 1), (3, 11)])
def test_blocked_threaded_kernels_match_whole_array(tiny, monkeypatch, n_threads, block_elems):
    """Cache-blocked, threaded element-wise / sparse kernels give the whole-array results."""
    import dgae._autoencoder._network as ae

    X, coefs, ints = tiny
    problem = PairBatch.full(X, _pairs(9, 0.3, 1, True), _pairs(9, 0.3, 2, False))
    hyper = dict(alpha=0.3, beta=0.2, gamma=0.05, k1=3, k2=2, chunk_size=4)
    ref_terms, ref_gW, ref_gb = _obj(coefs, ints, problem, **hyper)
    monkeypatch.setattr(ae, "_THREAD_MIN_ELEMS", 0)
    monkeypatch.setattr(ae, "_BLOCK_ELEMS", block_elems)  # 1 .. 3 rows per block
    monkeypatch.setattr(ae, "_n_threads", lambda: n_threads)
    blocks = ae._row_map(lambda r0, r1: (r0, r1), 9, 4, np)
    assert blocks[0][0] == 0 and blocks[-1][1] == 9 and len(blocks) > 2
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))  # in row order, no gap
    terms, gW, gb = _obj(coefs, ints, problem, **hyper)
    for f in LOSS_FIELDS:
        np.testing.assert_allclose(terms[f], ref_terms[f], rtol=1e-12)
    for g, ref in zip(gW + gb, ref_gW + ref_gb):
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("hidden", [(4, 3), (5, 5)])  # (5, 5): every work array has one shape
def test_shared_buffers_give_the_same_results(tiny, hidden):
    """Work arrays recycled across evaluations (as train does) never corrupt a result."""
    import dgae._autoencoder as ae

    X = tiny[0]
    coefs, ints = init_params(5, hidden, 1, dtype=np.float64)
    coefs = [3.0 * W for W in coefs]
    ints = [b + 0.1 * np.arange(b.size) for b in ints]
    P, Q = _pairs(9, 0.3, 1, True), _pairs(9, 0.3, 2, False)
    batch = batch_problem(X, np.array([0, 3, 5]), (PartnerSampler(P), PartnerSampler(Q)),
                          np.random.default_rng(0), np, np.float64)
    cases = [(PairBatch.full(X, P, Q), 65536), (PairBatch.full(X, P, None), 4), (batch, 65536),
             (PairBatch.full(X, None, None), 4)]
    buffers = ae.Buffers()
    for problem, chunk in cases * 2:
        hyper = dict(alpha=0.3, beta=0.2, gamma=0.05, k1=3, k2=2, chunk_size=chunk)
        fresh = _obj(coefs, ints, problem, **hyper)
        shared = _obj(coefs, ints, problem, buffers=buffers, **hyper)
        assert shared[0] == fresh[0]
        for a, b in zip(shared[1] + shared[2], fresh[1] + fresh[2]):
            np.testing.assert_array_equal(a, b)
    assert buffers._free  # arrays really went back to the pool


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_threaded_kernels_work_in_a_forked_child():
    """A child forked after the parent used the thread pool gets its own (no hang)."""
    import os
    import signal
    import time

    import dgae._autoencoder._network as ae

    z = np.ones((2000, 1000), dtype=np.float32)
    assert sum(ae._row_map(lambda r0, r1: float(z[r0:r1].sum()), *z.shape, np)) == z.size
    pid = os.fork()
    if pid == 0:  # child: exit status 0 when the kernels ran and were right
        ok = sum(ae._row_map(lambda r0, r1: float(z[r0:r1].sum()), *z.shape, np)) == z.size
        os._exit(0 if ok else 1)
    for _ in range(200):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in the thread pool")
    assert os.waitstatus_to_exitcode(status) == 0


def test_pair_terms_against_direct_sums(tiny):
    X, coefs, ints = tiny
    P, Q = _pairs(9, 0.3, 1, True), _pairs(9, 0.4, 2, True)
    terms = objective(coefs, ints, PairBatch.full(X, P, Q), LossWeights(0.3, 0.2, 0.1, 3, 2))[0]
    H = encode(coefs, ints, X)[-1]
    direct = [sum(A[s, t] * np.sum((H[s] - H[t]) ** 2) for s, t in zip(*A.nonzero())) for A in (P, Q)]
    np.testing.assert_allclose(terms["J2"], direct[0] / (9 * 3), rtol=1e-12)
    np.testing.assert_allclose(terms["J3"], direct[1] / (9 * 2), rtol=1e-12)
    Xhat = X
    for W, b in zip(coefs, ints):
        Xhat = 1 / (1 + np.exp(-(Xhat @ W + b)))
    np.testing.assert_allclose(terms["J1"], np.sum((X - Xhat) ** 2) / 18, rtol=1e-12)
    R = sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in zip(coefs, ints))
    np.testing.assert_allclose(terms["J"], terms["J1"] + 0.3 * terms["J2"] - 0.2 * terms["J3"] + 0.1 * R)


def test_pair_gradient_reaches_encoder_only(tiny):
    """The pair terms move only the encoder's gradient (decoder: reconstruction only)."""
    X, coefs, ints = tiny
    P, Q = _pairs(9, 0.3, 1, False), _pairs(9, 0.3, 2, False)
    with_pairs = objective(coefs, ints, PairBatch.full(X, P, Q), LossWeights(1.0, 1.0, 0.0, 3, 2))
    without = objective(coefs, ints, PairBatch.full(X, None, None), LossWeights(1.0, 1.0, 0.0, 3, 2))
    for l in range(4):
        same = np.allclose(with_pairs[1][l], without[1][l], rtol=0, atol=1e-15)
        assert same == (l >= 2)


def test_laplacian_identity_non_symmetric():
    A = _pairs(7, 0.4, 3, True)
    H = np.random.default_rng(1).normal(size=(7, 3))
    L = pair_laplacian(A)
    direct = sum(A[s, t] * np.sum((H[s] - H[t]) ** 2) for s, t in zip(*A.nonzero()))
    np.testing.assert_allclose(np.sum(H * (L @ H)), direct, rtol=1e-12)


def test_sigmoid_is_stable():
    z = np.array([-1e30, -800.0, -30.0, 0.0, 30.0, 800.0, 1e30], dtype=np.float32)
    with np.errstate(all="raise"):
        s = sigmoid(z.copy())
    assert np.all(np.isfinite(s)) and s[0] == 0 and s[-1] == 1 and s[3] == 0.5
    np.testing.assert_allclose(sigmoid(np.linspace(-5, 5, 11)), 1 / (1 + np.exp(-np.linspace(-5, 5, 11))),
                               rtol=1e-14)


def test_sample_partners_distribution():
    A = sp.csr_matrix(np.array([[0, 1.0, 3.0], [0, 0, 0], [2.0, 0, 0]]))
    t, w = PartnerSampler(A).sample(np.zeros(20000, dtype=int), np.random.default_rng(0))
    assert set(np.unique(t)) == {1, 2} and np.all(w == 4.0)
    assert abs(np.mean(t == 2) - 0.75) < 0.02


def _expected_batch_grad(X, coefs, ints, anchors, P, Q, hyper):
    """E over the partner draws of the batch gradient, by enumerating every draw."""
    total = [np.zeros_like(p) for p in coefs + ints]
    # with one anchor, the draw is one (P, Q) partner pair with probability P_st Q_su / (p q)
    s = anchors[0]
    pr, qr = P.getrow(s), Q.getrow(s)
    for t, wt in zip(pr.indices, pr.data):
        for u, wu in zip(qr.indices, qr.data):
            prob = wt / pr.data.sum() * wu / qr.data.sum()
            Pd = sp.csr_matrix(([pr.data.sum()], ([0], [1])), shape=(3, 3))
            Qd = sp.csr_matrix(([qr.data.sum()], ([0], [2])), shape=(3, 3))
            prob_problem = PairBatch(X[[s, t, u]], 1, Pd, Qd)
            _, gW, gb = _obj(coefs, ints, prob_problem, **hyper)
            total = [a + prob * g for a, g in zip(total, gW + gb)]
    return total


def test_minibatch_gradient_is_unbiased(tiny):
    """sum over an epoch's batches (|B|/N) E[grad J_B] == grad J (exact, by enumeration)."""
    X, coefs, ints = tiny
    P, Q = _pairs(9, 0.35, 4, True), _pairs(9, 0.35, 5, True)
    rows_ok = np.flatnonzero(np.diff(P.indptr) * np.diff(Q.indptr))
    # keep rows with both kinds of pairs, so every anchor draws a real edge
    keep = np.zeros(9, bool)
    keep[rows_ok] = True
    P = sp.csr_matrix(P.multiply(keep[:, None]))
    Q = sp.csr_matrix(Q.multiply(keep[:, None]))
    hyper = dict(alpha=0.7, beta=0.4, gamma=0.05, k1=3, k2=2)
    # gamma R is in every batch objective; the anchor-free rows still reconstruct
    _, gW, gb = _obj(coefs, ints, PairBatch.full(X, P, Q), **hyper)
    full = gW + gb
    epoch = [np.zeros_like(p) for p in coefs + ints]
    for s in range(9):  # batches of one anchor, the epoch covers every row once
        if keep[s]:
            g = _expected_batch_grad(X, coefs, ints, [s], P, Q, hyper)
        else:
            _, gW, gb = _obj(coefs, ints, PairBatch(X[[s]], 1), **hyper)
            g = gW + gb
        epoch = [a + g_ / 9 for a, g_ in zip(epoch, g)]
    for a, b in zip(epoch, full):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_minibatch_monte_carlo_mean_approaches_full_gradient(tiny):
    """The code path ``batch_problem`` itself: the mean of many batch gradients -> full gradient."""
    X, coefs, ints = tiny
    P, Q = _pairs(9, 0.3, 1, True), _pairs(9, 0.3, 2, True)
    hyper = dict(alpha=3.0, beta=2.0, gamma=0.0, k1=3, k2=2)
    _, gW, gb = _obj(coefs, ints, PairBatch.full(X, P, Q), **hyper)
    full = np.concatenate([g.ravel() for g in gW + gb])
    rng = np.random.default_rng(0)
    n_draws, acc = 2000, np.zeros_like(full)
    for _ in range(n_draws):
        batch = rng.permutation(9)  # all anchors: only the partner draws are random
        _, gW, gb = _obj(coefs, ints, batch_problem(X, batch, (PartnerSampler(P), PartnerSampler(Q)), rng, np, np.float64), **hyper)
        acc += np.concatenate([g.ravel() for g in gW + gb])
    mean = acc / n_draws
    # the pair terms' share of the gradient is recovered to within 10 % (Monte Carlo noise)
    _, gW, gb = _obj(coefs, ints, PairBatch.full(X, None, None), **hyper)
    pair_part = full - np.concatenate([g.ravel() for g in gW + gb])
    assert np.linalg.norm(mean - full) < 0.1 * np.linalg.norm(pair_part)


@pytest.mark.parametrize("batch_size", [None, 4])
def test_train_reduces_objective_and_is_reproducible(batch_size):
    rng = np.random.default_rng(0)
    X = rng.random((40, 6)).astype(np.float32)
    P, Q = _pairs(40, 0.1, 1, False), _pairs(40, 0.1, 2, False)
    kw = dict(hidden_layer_sizes=(5, 3), loss=LossWeights(0.2, 0.1, 0.001, 4, 4),
              learning_rate=1.0 if batch_size is None else 0.2, max_iter=15, tol=0.0,
              batch_size=batch_size, optimizer="gd" if batch_size is None else "sgd",
              random_state=3)
    r1, r2 = train(X, P, Q, **kw), train(X, P, Q, **kw)
    curve = r1["loss_curve"]
    assert curve.dtype.names == LOSS_FIELDS and len(curve) == 15
    assert curve["J"][-1] < curve["J"][0]
    for a, b in zip(r1["coefs"] + r1["intercepts"], r2["coefs"] + r2["intercepts"]):
        np.testing.assert_array_equal(a, b)
    # the returned weights are the best ones seen
    if batch_size is None:
        best = objective(r1["coefs"], r1["intercepts"], PairBatch.full(X, P, Q), kw["loss"])[0]
        np.testing.assert_allclose(best["J"], curve["J"].min(), rtol=1e-5)


def test_keyboard_interrupt_propagates_out_of_training(monkeypatch):
    """As in scikit-learn: Ctrl-C stops the training and reaches the caller (no half-trained
    result comes back as if it were finished)."""
    import dgae._autoencoder._training as ae

    rng = np.random.default_rng(0)
    X = rng.random((20, 4)).astype(np.float32)
    calls = {"n": 0}
    real = ae.objective

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ae, "objective", flaky)
    with pytest.raises(KeyboardInterrupt):
        train(X, None, None, hidden_layer_sizes=(3,), loss=LossWeights(), learning_rate=1.0,
              max_iter=10, tol=0.0, random_state=0)
    assert calls["n"] == 4


@pytest.mark.parametrize("P_empty, Q_empty", [(True, True), (True, False), (False, True)])
def test_batch_without_pairs_equals_reconstruction_of_the_anchors(tiny, P_empty, Q_empty):
    """Rows without partners (the AE baseline, alpha = beta = 0) carry no gradient."""
    X, coefs, ints = tiny
    P = sp.csr_matrix((9, 9)) if P_empty else _pairs(9, 0.3, 1, True)
    Q = sp.csr_matrix((9, 9)) if Q_empty else _pairs(9, 0.3, 2, True)
    hyper = dict(alpha=0.5 * (not P_empty), beta=0.5 * (not Q_empty), gamma=0.01, k1=3, k2=2)
    anchors = np.array([4, 0, 7])
    rng = np.random.default_rng(0)
    batch = batch_problem(X, anchors, (PartnerSampler(P), PartnerSampler(Q)), rng, np, np.float64)
    terms, gW, gb = _obj(coefs, ints, batch, **hyper)
    if P_empty and Q_empty:
        ref_terms, rW, rb = _obj(coefs, ints, PairBatch(X[anchors], 3), **hyper)
        assert terms == pytest.approx(ref_terms)
        for a, b in zip(gW + gb, rW + rb):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert all(np.isfinite(g).all() for g in gW + gb)


# ------------------------------------------------------------ the "whitened" objective
@pytest.fixture
def tiny_whitened():
    """9 rows, D=5, hidden (4, 3) with a linear code layer and output, float64."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 5))
    coefs, ints = init_params(5, (4, 3), 0, dtype=np.float64,
                              activations=layer_activations(2, "whitened"))
    coefs = [2.0 * W for W in coefs]
    ints = [rng.normal(0, 0.5, b.shape) for b in ints]
    P, Q = row_normalize(_pairs(9, 0.3, 1, True)), row_normalize(_pairs(9, 0.3, 2, True))
    return X, coefs, ints, P, Q


def _whitened_terms_brute(H, P, Q):
    """J2, J3, K of the module docstring by direct sums (per-row normalised P, Q)."""
    Hc = H - H.mean(axis=0)
    C = Hc.T @ Hc / len(H)
    T, d = np.trace(C), H.shape[1]
    ratio = lambda s, t: np.sum((H[s] - H[t]) ** 2) / (2 * T)  # noqa: E731
    J2 = sum(P[s, t] * ratio(s, t) for s, t in zip(*P.nonzero())) / len(H)
    J3 = sum(Q[s, t] * min(1.0, ratio(s, t)) for s, t in zip(*Q.nonzero())) / len(H)
    K = np.sum((C * d / T - np.eye(d)) ** 2) / d
    return J2, J3, K, [ratio(s, t) for s, t in zip(*Q.nonzero())]


@pytest.mark.parametrize("weights", [
    dict(reconstruction=1.0),                                   # J1 alone
    dict(reconstruction=0.0, alpha=1.0),                        # J2 alone
    dict(reconstruction=0.0, beta=1.0),                         # capped J3 alone
    dict(reconstruction=0.0, covariance_weight=1.0),            # K alone
    dict(reconstruction=0.0, gamma=1.0),                        # R alone
    dict(alpha=0.7, beta=0.4, covariance_weight=0.3, gamma=0.2, chunk_size=4),
])
def test_whitened_gradient_matches_central_differences(tiny_whitened, weights):
    X, coefs, ints, P, Q = tiny_whitened
    hyper = dict(weights, objective="whitened")
    problem = PairBatch.full(X, P, Q)
    *_, ratios = _whitened_terms_brute(encode(coefs, ints, X, activations=layer_activations(2, "whitened"))[-1], P, Q)
    # the cap is exercised on both sides, and no pair sits at the kink
    assert min(ratios) < 1 < max(ratios) and min(abs(np.array(ratios) - 1)) > 1e-3
    _, gW, gb = _obj(coefs, ints, problem, **hyper)
    analytic = np.concatenate([g.ravel() for g in gW + gb])
    numeric = np.concatenate([g.ravel() for g in _numeric_grad(coefs, ints, problem, hyper)])
    # one vector: the code layer's bias has no true gradient (every term is translation
    # invariant), so its own relative error would compare finite-difference noise with 0
    assert np.linalg.norm(analytic - numeric) < 1e-6 * np.linalg.norm(numeric)


def test_whitened_terms_and_row_normalisation_against_direct_sums(tiny_whitened):
    X, coefs, ints, P, Q = tiny_whitened
    raw = _pairs(9, 0.3, 1, True)
    rows = np.diff(raw.indptr) > 0
    np.testing.assert_allclose(np.asarray(row_normalize(raw).sum(axis=1)).ravel(), rows * 1.0)
    np.testing.assert_allclose(row_normalize(raw).toarray(),
                               raw.toarray() / np.maximum(raw.toarray().sum(1, keepdims=True), 1e-300))
    terms = _obj(coefs, ints, PairBatch.full(X, P, Q), objective="whitened", alpha=0.7, beta=0.4,
                 covariance_weight=0.3, gamma=0.2)[0]
    acts = layer_activations(2, "whitened")
    H = encode(coefs, ints, X, activations=acts)[-1]
    J2, J3, K, _ = _whitened_terms_brute(H, P, Q)
    np.testing.assert_allclose([terms["J2"], terms["J3"], terms["K"]], [J2, J3, K], rtol=1e-12)
    Xhat = H
    for W, b, act in zip(coefs[2:], ints[2:], acts[2:]):
        Xhat = Xhat @ W + b
        Xhat = 1 / (1 + np.exp(-Xhat)) if act == "sigmoid" else Xhat
    np.testing.assert_allclose(terms["J1"], np.sum((X - Xhat) ** 2) / (2 * X.size), rtol=1e-12)
    R = np.mean(np.concatenate([W.ravel() for W in coefs]) ** 2)
    np.testing.assert_allclose(terms["R"], R, rtol=1e-12)
    np.testing.assert_allclose(terms["J"], terms["J1"] + 0.7 * J2 - 0.4 * J3 + 0.3 * K + 0.2 * R,
                               rtol=1e-12)


def test_whitened_minibatch_mean_approaches_full_gradient(tiny_whitened):
    """With every row an anchor, the partner draws are unbiased for the whitened terms too."""
    X, coefs, ints, P, Q = tiny_whitened
    hyper = dict(objective="whitened", alpha=3.0, beta=2.0, covariance_weight=0.5)
    _, gW, gb = _obj(coefs, ints, PairBatch.full(X, P, Q), **hyper)
    full = np.concatenate([g.ravel() for g in gW + gb])
    _, gW, gb = _obj(coefs, ints, PairBatch.full(X, None, None), **hyper)
    pair_part = full - np.concatenate([g.ravel() for g in gW + gb])
    rng, samplers = np.random.default_rng(0), (PartnerSampler(P), PartnerSampler(Q))
    acc = np.zeros_like(full)
    for _ in range(2000):
        batch = batch_problem(X, rng.permutation(9), samplers, rng, np, np.float64)
        _, gW, gb = _obj(coefs, ints, batch, **hyper)
        acc += np.concatenate([g.ravel() for g in gW + gb])
    assert np.linalg.norm(acc / 2000 - full) < 0.1 * np.linalg.norm(pair_part)


def test_whitened_linear_code_spans_the_lda_subspace():
    """Closed-form reference: J1 off, P = all same-class pairs, Q empty, a linear code layer.

    Whatever the penalty weight, the objective depends on the codes' Gram matrix
    only through K and T, and for a fixed Gram the pair term is smallest on the
    bottom eigenvectors of the within-class scatter relative to the total one:
    the optimum spans LDA's subspace (its K goes to 0 as the weight grows).
    """
    from scipy.linalg import subspace_angles
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 60)
    X = rng.normal(scale=2.0, size=(3, 6))[y] + rng.normal(size=(180, 6)) @ rng.normal(size=(6, 6))
    P = sp.csr_matrix((y[:, None] == y[None, :]) & ~np.eye(180, dtype=bool), dtype=np.float64)
    loss = LossWeights(alpha=1.0, objective="whitened", covariance_weight=10.0, reconstruction=0.0)
    res = train(X, P, None, hidden_layer_sizes=(2,), loss=loss, learning_rate=0.01,
                optimizer="adam", lr_decay=1.0, max_iter=1500, tol=0.0, dtype=np.float64,
                random_state=0)
    lda = LinearDiscriminantAnalysis(solver="eigen").fit(X, y)
    angles = np.degrees(subspace_angles(res["coefs"][0], lda.scalings_[:, :2]))
    assert angles.max() < 1.0
    assert res["loss_curve"]["K"][-1] < 1e-2


@pytest.mark.parametrize("kind", ["gd", "sgd", "adam"])
def test_optimizers_reduce_a_quadratic(kind):
    target = np.array([3.0, -1.0])
    p = [np.zeros(2)]
    opt = Optimizer(kind, p, momentum=0.5)
    for _ in range(300):
        opt.step(p, [2 * (p[0] - target)], 0.05)
    np.testing.assert_allclose(p[0], target, atol=1e-3)


def test_train_with_a_monitor_keeps_the_best_scored_weights_and_stops_early():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    seen = []

    def monitor(coefs, intercepts):  # peaks at the 4th iteration
        seen.append([W.copy() for W in coefs])
        return -abs(len(seen) - 4)

    res = train(X, None, None, hidden_layer_sizes=(3,), loss=LossWeights(objective="whitened"),
                learning_rate=0.01, optimizer="adam", max_iter=50, tol=0.0, dtype=np.float64,
                random_state=0, monitor=monitor, n_iter_no_change=5)
    assert res["n_iter"] == 9 and res["best_iter"] == 3 and len(res["scores"]) == 9
    for a, b in zip(res["coefs"], seen[3]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("round_steps, per_epoch", [(100, 1), (2, 3), (1, 5)])
def test_minibatch_rounds_cut_each_epoch_and_decay_the_step_per_epoch(monkeypatch, round_steps,
                                                                       per_epoch):
    """An epoch of 5 batches in rounds of at most ``ROUND_STEPS`` steps: each round is checked
    by the monitor, every anchor is drawn once an epoch, and the step decays by ``lr_decay``
    an epoch whatever the rounds."""
    import dgae._autoencoder._training as tr

    monkeypatch.setattr(tr, "ROUND_STEPS", round_steps)
    rng = np.random.default_rng(0)
    X = rng.random((20, 4)).astype(np.float32)
    drawn, rates = [], []
    real_problem, real_step = tr.batch_problem, tr.Optimizer.step

    def problem(X_, batch, *args):
        drawn.append(np.array(batch))
        return real_problem(X_, batch, *args)

    def step(self, params, grads, lr):
        rates.append(lr)
        return real_step(self, params, grads, lr)

    monkeypatch.setattr(tr, "batch_problem", problem)
    monkeypatch.setattr(tr.Optimizer, "step", step)
    res = train(X, None, None, hidden_layer_sizes=(3,), loss=LossWeights(), learning_rate=0.1,
                lr_decay=0.5, optimizer="sgd", batch_size=4, max_iter=2 * per_epoch, tol=0.0,
                random_state=0, monitor=lambda c, i: 0.0, n_iter_no_change=100)
    assert res["per_epoch"] == per_epoch == tr.rounds_per_epoch(20, 4)
    assert res["n_iter"] == len(res["scores"]) == 2 * per_epoch     # a check a round
    assert len(drawn) == 10                                         # two epochs of 5 steps
    for epoch in (drawn[:5], drawn[5:]):
        np.testing.assert_array_equal(np.sort(np.concatenate(epoch)), np.arange(20))
    assert rates[5] == pytest.approx(0.1 * 0.5)                     # the second epoch's step
    assert rates[-1] == pytest.approx(0.1 * 0.5 ** ((2 * per_epoch - 1) / per_epoch))
