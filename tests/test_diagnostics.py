"""Early-stopping validation and code diagnostics against brute force."""
import numpy as np
import pytest
import scipy.sparse as sp

from dgae._diagnostics import RetrievalMonitor, code_diagnostics, validation_split


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.6])
def test_validation_split_leaves_two_photos_of_every_held_out_poi(seed, fraction):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 30, 200)
    train, val = validation_split(labels, fraction, seed)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(200))
    left = np.bincount(labels[train], minlength=30)
    assert np.all(left[labels[val]] >= 2)
    eligible = int(np.sum(np.maximum(np.bincount(labels, minlength=30) - 2, 0)))
    assert len(val) == min(int(round(fraction * 200)), eligible)
    np.testing.assert_array_equal(val, validation_split(labels, fraction, seed)[1])


def test_validation_split_of_small_pois_is_empty():
    train, val = validation_split(np.repeat(np.arange(10), 2), 0.5, 0)
    assert val.size == 0 and train.size == 20


def test_retrieval_monitor_is_the_mean_reciprocal_rank():
    rng = np.random.default_rng(0)
    Xt, Xv = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(7, 3)).astype(np.float32)
    lt, lv = rng.integers(0, 5, 40), rng.integers(0, 5, 7)
    score = RetrievalMonitor(Xt, Xv, lt, lv, lambda c, i, X: X)(None, None)
    rr = []
    for x, label in zip(Xv, lv):
        order = np.argsort(((Xt - x) ** 2).sum(axis=1), kind="stable")[:10]
        hits = np.flatnonzero(lt[order] == label)
        rr.append(1.0 / (hits[0] + 1) if hits.size else 0.0)
    assert score == pytest.approx(np.mean(rr))


def test_code_diagnostics_against_brute_force():
    rng = np.random.default_rng(0)
    H = rng.normal(size=(50, 4)) * [3.0, 1.0, 1.0, 0.1]
    P = sp.random(50, 50, density=0.05, random_state=0, format="csr")
    d = code_diagnostics([H, H[:, :1]], P, None, random_state=0)
    s, t = P.nonzero()
    pairs = np.linalg.norm(H[s] - H[t], axis=1).mean()
    every = np.linalg.norm(H[:, None] - H[None], axis=2)[~np.eye(50, dtype=bool)].mean()
    assert d["p_ratio"][0] == pytest.approx(pairs / every, rel=0.03)  # 20,000 random pairs
    assert np.isnan(d["q_ratio"]).all() and list(d["width"]) == [4, 1]
    eig = np.linalg.eigvalsh(np.cov(H, rowvar=False))
    assert d["effective_dim"][0] == pytest.approx(eig.sum() ** 2 / (eig ** 2).sum())
    assert d["effective_dim"][1] == pytest.approx(1.0)
    np.testing.assert_allclose(d["spread"], [H.std(axis=0).mean(), H[:, 0].std()])


@pytest.mark.parametrize("chunk", [1, 7, 65536])
def test_code_diagnostics_pair_means_in_chunks_are_brute_force(monkeypatch, chunk):
    from dgae import _diagnostics

    monkeypatch.setattr(_diagnostics, "PAIR_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    H = rng.normal(size=(50, 4))
    P = sp.random(50, 50, density=0.2, random_state=chunk, format="csr")
    s, t = P.nonzero()
    d = code_diagnostics([H], P, None, random_state=0)
    a, b = np.random.default_rng(0).integers(0, 50, (2, _diagnostics.N_RANDOM_PAIRS))
    a, b = a[a != b], b[a != b]
    rand = np.mean([np.linalg.norm(H[i] - H[j]) for i, j in zip(a, b)])
    pairs = np.mean([np.linalg.norm(H[i] - H[j]) for i, j in zip(s, t)])
    assert d["p_ratio"][0] == pytest.approx(pairs / rand, rel=1e-10)


@pytest.mark.parametrize("cap", [1, 40, 10_000])
def test_code_diagnostics_draw_distinct_graph_pairs_above_the_cap(monkeypatch, cap):
    from dgae import _diagnostics

    monkeypatch.setattr(_diagnostics, "MAX_GRAPH_PAIRS", cap)
    P = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    s, t = _diagnostics._some_pairs(P, np.random.default_rng(0))
    assert len(s) == min(cap, P.nnz)
    assert len(set(zip(s.tolist(), t.tolist()))) == len(s)
    assert np.all(P[s, t] != 0)
