"""No graph stage holds an n x n dense array (issue 14): peak traced memory far below n^2 floats."""
import tracemalloc

import numpy as np
import pytest

from dgae.graphs import POIMiner, easy_confusing_pairs, same_area_pairs

N = 12_000                     # an n x n float32 array would be 576 MB


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    gps = np.column_stack([rng.uniform(40, 50, N), rng.uniform(0, 20, N)])
    X = rng.normal(size=(N, 8)).astype(np.float32)
    labels = POIMiner(bandwidth_km=22.2).fit(gps).labels_.astype(np.int64)
    return X, gps, labels


@pytest.mark.parametrize("stage", ["poi", "p", "q_exact", "q_anchor"])
def test_graph_stages_stay_far_below_n_squared(photos, stage):
    X, gps, labels = photos
    run = {"poi": lambda: POIMiner(bandwidth_km=22.2).fit(gps),
           "p": lambda: same_area_pairs(X, labels, 5, device="cpu"),
           "q_exact": lambda: easy_confusing_pairs(X, labels, 5, device="cpu", gps=gps, q_min_km=25),
           "q_anchor": lambda: easy_confusing_pairs(X, labels, 5, method="anchor", device="cpu",
                                                    gps=gps, q_min_km=25, random_state=0)}[stage]
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < N * N * 4 / 4, f"{stage}: peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("same", [True, False])
def test_exact_search_never_copies_the_whole_feature_matrix(monkeypatch, same):
    # the centring is done block by block: with small tiles, the peak stays far below a copy of X
    from dgae.utils import _search

    monkeypatch.setattr(_search, "_TILE_ELEMENTS", {"cpu": 1 << 14, "gpu": 1 << 14})
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(20_000, 256)) + 100).astype(np.float32)        # 20 MB, far from 0
    Q = X if same else X[:3000].copy()
    tracemalloc.start()
    try:
        d, i = _search.nearest_neighbors(Q, X, 3, device="cpu", batch_size=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a centred copy would be X.nbytes; validation's finiteness mask is X.nbytes / 4
    assert peak < X.nbytes / 2, f"peak {peak / 2**20:.1f} MiB for a {X.nbytes / 2**20:.0f} MiB X"
    np.testing.assert_array_equal(i[:50, 0], np.arange(50))


def test_early_stopping_codes_hold_one_chunk_of_hidden_layers_at_a_time(monkeypatch):
    """The codes early stopping searches (DGAE._encode_device) are encoded chunk by chunk:
    the peak stays below every row's hidden activations, and the codes are transform's."""
    from dgae import DGAE, _estimator

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 16)).astype(np.float32)
    gps = np.column_stack([rng.uniform(40, 50, 300), rng.uniform(0, 20, 300)])
    model = DGAE(hidden_layer_sizes=(256, 4), max_iter=2, early_stopping=False,
                 random_state=0).fit(X, gps)
    monkeypatch.setattr(_estimator, "ENCODE_CHUNK", 1000)
    Xn = rng.normal(size=(20_000, 16)).astype(np.float32)
    Xs = model._scaled(Xn)
    tracemalloc.start()
    try:
        codes = model._encode_device(model.coefs_, model.intercepts_, Xs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    hidden = len(Xs) * sum(model.hidden_layer_sizes_) * 4             # 20.8 MB
    assert peak < hidden / 4, f"peak {peak / 2**20:.1f} MiB"
    np.testing.assert_allclose(codes, model.transform(Xn), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("head", ["meanshift", "kde"])
def test_voting_heads_bound_their_temporaries_at_large_k(head):
    """A head voting over many neighbours takes fewer queries at once: its (queries, k, k)
    temporaries stay near their size at the default k (~30 MB each, three or four at once),
    not (40, 600, 600) float64 arrays (115 MB each)."""
    from dgae.heads import apply_head

    rng = np.random.default_rng(0)
    gps = np.column_stack([rng.uniform(40, 50, (40, 600)).ravel(),
                           rng.uniform(0, 20, (40, 600)).ravel()]).reshape(40, 600, 2)
    dist = np.sort(rng.uniform(0.5, 2.0, (40, 600)), axis=1)
    tracemalloc.start()
    try:
        apply_head(head, gps, dist, meanshift_bandwidth_km=200.0, kde_sigma_km=200.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * 40 * 600 ** 2 * 8    # all 40 queries at once: 3-4 such arrays
