"""GeoKNN against brute-force neighbours and the heads."""
import warnings

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from dgae import GeoKNN
from dgae._heads import apply_head


@pytest.fixture
def gallery():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)).astype(np.float32)
    gps = np.column_stack([rng.uniform(-60, 60, 300), rng.uniform(-180, 180, 300)])
    queries = rng.normal(size=(25, 12)).astype(np.float32)
    return X, gps, queries


def test_exact_neighbours_match_brute_force(gallery):
    X, gps, Xq = gallery
    dist, idx = GeoKNN(n_neighbors=7, device="cpu").fit(X, gps).kneighbors(Xq)
    ref_d, ref_i = NearestNeighbors(n_neighbors=7, algorithm="brute").fit(X).kneighbors(Xq)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-4)


@pytest.mark.parametrize("head", ["1nn", "meanshift", "kde"])
def test_predict_is_the_head_on_the_neighbours(gallery, head):
    X, gps, Xq = gallery
    knn = GeoKNN(head=head, kde_sigma_km=300.0, device="cpu").fit(X, gps)
    k = {"1nn": 1, "meanshift": 120, "kde": 100}[head]
    d, i = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X).kneighbors(Xq)
    want = apply_head(head, gps[i], d, kde_sigma_km=300.0)
    np.testing.assert_allclose(knn.predict(Xq), want, atol=1e-9)


def test_ann_index_wiring(gallery, monkeypatch):
    """index="ann" goes through pynndescent's NNDescent / query((indices, distances)).

    A stand-in with pynndescent's interface (exact answers) replaces the real
    module: pynndescent's numba compilation costs about a minute per session.
    """
    import sys
    import types

    X, gps, Xq = gallery
    seen = {}

    class FakeNNDescent:
        def __init__(self, data, metric, random_state, verbose):
            seen.update(metric=metric, random_state=random_state, n=len(data))
            self.nn = NearestNeighbors(algorithm="brute").fit(data)

        def query(self, queries, k):
            d, i = self.nn.kneighbors(queries, k)
            return i, d  # pynndescent's order: indices first

    monkeypatch.setitem(sys.modules, "pynndescent", types.SimpleNamespace(NNDescent=FakeNNDescent))
    ann = GeoKNN(n_neighbors=5, index="ann", random_state=3).fit(X, gps)
    d, i = ann.kneighbors(Xq)
    exact_d, exact_i = GeoKNN(n_neighbors=5, device="cpu").fit(X, gps).kneighbors(Xq)
    np.testing.assert_array_equal(i, exact_i)
    np.testing.assert_allclose(d, exact_d, rtol=1e-4)
    assert d.dtype == np.float32 and i.dtype == np.int64
    assert seen == {"metric": "euclidean", "random_state": 3, "n": 300}


def test_topk_and_caps(gallery):
    X, gps, Xq = gallery
    knn = GeoKNN(device="cpu").fit(X[:4], gps[:4])
    with pytest.warns(UserWarning, match="k=10 exceeds the gallery's 4 photos"):
        top = knn.predict_topk(Xq, k=10)
    assert top.shape == (25, 4, 2)  # capped at the gallery size
    np.testing.assert_array_equal(top[:, 0], knn.predict(Xq))
    assert knn.score(X[:4], gps[:4]) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert knn.predict_topk(Xq, k=4).shape == (25, 4, 2)  # no cap, no warning


def test_input_errors(gallery):
    X, gps, Xq = gallery
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        GeoKNN().fit(X, gps[:, 0])
    knn = GeoKNN(device="cpu").fit(X, gps)
    bad = Xq.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X row 3 contains NaN"):
        knn.predict(bad)
    with pytest.raises(ValueError, match="X row 3 contains NaN"):
        GeoKNN().fit(bad, gps[:len(bad)])
    with pytest.raises(ValueError, match="features"):
        knn.predict(Xq[:, :5])
