"""Code diagnostics against brute force."""
import numpy as np
import pytest
import scipy.sparse as sp

from dgae._diagnostics import code_diagnostics


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
