"""Approximate indexes (pynndescent, IVF) against exact search on small clustered sets."""
import numpy as np
import pytest

from dgae import DGAE, KNN_DEFAULTS, GeoKNN
from dgae.graphs import IVFIndex, nearest_neighbors


def _clustered(n, d=32, n_clusters=50, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, d))
    X = (centres[rng.integers(0, n_clusters, n)] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)
    gps = np.column_stack([rng.uniform(-60, 60, n), rng.uniform(-180, 180, n)])
    return X, gps


def _recall(found, truth):
    return np.mean([len(set(f) & set(t)) / truth.shape[1] for f, t in zip(found, truth)])


@pytest.mark.parametrize("index", ["ann", "ivf", IVFIndex(n_probe=4)])
def test_approximate_recall_against_exact_search(index):
    X, gps = _clustered(2100)
    exact = GeoKNN(n_neighbors=10).fit(X[100:], gps[100:])
    approx = GeoKNN(n_neighbors=10, index=index, random_state=0).fit(X[100:], gps[100:])
    _, truth = exact.kneighbors(X[:100])
    dist, found = approx.kneighbors(X[:100])
    assert _recall(found, truth) >= 0.9
    assert found.dtype == np.int64 and dist.dtype == np.float32
    assert np.all(np.diff(dist, axis=1) >= 0)
    # the reported distances are those of the rows returned
    np.testing.assert_allclose(dist, np.linalg.norm(X[100:][found] - X[:100, None], axis=2),
                               rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("index", ["ann", "ivf"])
def test_approximate_nearest_neighbour_for_the_1nn_head(index):
    # one neighbour asked for: pynndescent's heap of k = 1 turns greedy (0.76 of these
    # queries found their nearest photo before GeoKNN asked it for ANN_MIN_K)
    X, gps = _clustered(2100)
    _, truth = GeoKNN().fit(X[100:], gps[100:]).kneighbors(X[:100])
    approx = GeoKNN(index=index, random_state=0).fit(X[100:], gps[100:])
    dist, found = approx.kneighbors(X[:100])
    assert found.shape == dist.shape == (100, 1)
    assert np.mean(found[:, 0] == truth[:, 0]) >= 0.9


@pytest.mark.parametrize("n_lists", [1, 7, 40])
def test_ivf_probing_every_list_is_exact_search(n_lists):
    X, _ = _clustered(600, seed=n_lists)
    Q = X[:50] + np.float32(0.05)
    index = IVFIndex(n_lists=n_lists, n_probe=n_lists, random_state=0).fit(X)
    d, i = index.query(Q, 5)
    d_ref, i_ref = nearest_neighbors(Q, X, 5, device="cpu")
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, rtol=1e-4, atol=1e-4)


def test_ivf_queries_short_of_k_probe_more_lists_then_search_exactly(monkeypatch):
    import dgae.graphs._ivf as ivf_mod

    X, _ = _clustered(300, seed=3)
    index = IVFIndex(n_lists=60, n_probe=1, random_state=0).fit(X)
    assert np.diff(index.list_starts_).max() < 40   # one probed list cannot hold 40 rows
    ref = nearest_neighbors(X[:20], X, 40, device="cpu")[1]
    _, i = index.query(X[:20], 40)
    # brute force: the 40 nearest among the members of the 1, 4, 16 nearest lists -- the
    # first of these widths whose lists hold 40 rows -- else of the whole gallery
    cell = np.repeat(np.arange(60), np.diff(index.list_starts_))[np.argsort(index.order_)]
    d = np.linalg.norm(X[:20, None].astype(np.float64) - X[None], axis=2)
    by_centre = np.argsort(np.linalg.norm(X[:20, None] - index.centroids_[None], axis=2), axis=1)
    for q in range(20):
        lists = next((by_centre[q, :w] for w in (1, 4, 16)
                      if np.isin(cell, by_centre[q, :w]).sum() >= 40), np.arange(60))
        dq = np.where(np.isin(cell, lists), d[q], np.inf)
        np.testing.assert_array_equal(i[q], np.argsort(dq, kind="stable")[:40])
    monkeypatch.setattr(ivf_mod, "WIDEN_ROUNDS", 0)  # no wider probes: exact search at once
    np.testing.assert_array_equal(index.query(X[:20], 40)[1], ref)


@pytest.mark.parametrize("n_probe", [2, 40])
def test_ivf_exclusions_are_exact_against_brute_force(n_probe):
    X, _ = _clustered(600, seed=6)
    Q = X[:80] + np.float32(0.05)
    labels, q_labels = np.arange(600) % 7, np.arange(80) % 7
    excluded = q_labels[:, None] == labels[None, :]     # never a row of the query's own label
    calls = []

    def exclude(rows, cols):
        calls.append(len(cols))
        return excluded[np.ix_(rows, cols)]

    index = IVFIndex(n_lists=40, n_probe=n_probe, random_state=0).fit(X)
    d, i = index.query(Q, 6, exclude=exclude)
    assert calls and (i >= 0).all() and not excluded[np.arange(80)[:, None], i].any()
    d_ref = np.linalg.norm(Q[:, None].astype(np.float64) - X[None], axis=2)
    d_ref[excluded] = np.inf
    ref = np.argsort(d_ref, axis=1, kind="stable")[:, :6]
    if n_probe == 40:                                    # every list probed: exact
        np.testing.assert_array_equal(i, ref)
        np.testing.assert_allclose(d, np.take_along_axis(d_ref, ref, 1), rtol=1e-4, atol=1e-4)
    else:
        assert np.mean([len(set(a) & set(b)) / 6 for a, b in zip(i, ref)]) >= 0.9


def test_ivf_files_every_row_once_under_its_nearest_centre():
    X, _ = _clustered(500, seed=4)
    index = IVFIndex(n_lists=9, random_state=0).fit(X)
    assert np.array_equal(np.sort(index.order_), np.arange(500))
    cell = np.repeat(np.arange(9), np.diff(index.list_starts_))
    d = np.linalg.norm(X[index.order_][:, None] - index.centroids_[None], axis=2)
    np.testing.assert_allclose(d[np.arange(500), cell], d.min(axis=1), rtol=1e-5)


@pytest.mark.parametrize("bad", [{"n_lists": 0}, {"n_lists": 2.5}, {"n_probe": 0}])
def test_ivf_rejects_bad_settings(bad):
    with pytest.raises(ValueError, match="must be a positive integer"):
        IVFIndex(**bad).fit(np.zeros((10, 2), np.float32))


@pytest.mark.parametrize("Q, match", [(np.zeros((2, 4)), "features"),
                                      (np.full((1, 3), np.nan), "NaN")])
def test_ivf_rejects_bad_queries(Q, match):
    index = IVFIndex(random_state=0).fit(np.random.default_rng(0).normal(size=(30, 3)))
    with pytest.raises(ValueError, match=match):
        index.query(Q, 2)
    assert [a.shape for a in index.query(np.zeros((0, 3)), 2)] == [(0, 2), (0, 2)]


def test_dgae_retrieves_through_an_ivf_index():
    X, gps = _clustered(400, seed=5)
    kw = dict(hidden_layer_sizes=(8,), n_components=16, max_iter=3, early_stopping=False,
              device="cpu", random_state=0)
    exact = DGAE(**kw).fit(X, gps)
    ivf = DGAE(knn=GeoKNN(**KNN_DEFAULTS, index=IVFIndex(n_probe=100)), **kw).fit(X, gps)  # exact
    assert isinstance(ivf.knn_.index_, IVFIndex)
    np.testing.assert_array_equal(ivf.predict(X[:30]), exact.predict(X[:30]))
