"""P and Q against brute force, and their edge cases."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from dgae.graphs import _pairs, build_geo_graphs, easy_confusing_pairs, same_area_pairs


def brute_graph(X, labels, k, same):
    """Float64 brute-force P (same=True) or Q (same=False) as a dense 0/1 matrix."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    eq = labels[:, None] == labels[None, :]
    D[~eq if same else eq] = np.inf
    np.fill_diagonal(D, np.inf)
    G = np.zeros((n, n), dtype=np.float32)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    for s in range(n):
        t = order[s][np.isfinite(D[s, order[s]])]
        G[s, t] = 1
    return G


def clustered(n, d, n_poi, seed, integer=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_poi, n)
    centres = rng.normal(scale=3.0, size=(n_poi, d))
    X = centres[rng.integers(0, n_poi, n)] + rng.normal(size=(n, d))  # visual != geo clusters
    if integer:
        X = np.round(X)
    return X.astype(np.float32), labels


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("k", [1, 4, 30])
def test_p_matches_brute_force(k, integer, monkeypatch):
    monkeypatch.setattr(_pairs, "_P_GROUP", 16)  # several POI batches
    X, lab = clustered(120, 5, 9, seed=k, integer=integer)
    lab[:3] = [100, 101, 102]  # singleton POIs
    P = same_area_pairs(X, lab, k1=k, device="cpu")
    assert isinstance(P, sp.csr_matrix) and P.dtype == np.float32 and P.shape == (120, 120)
    np.testing.assert_array_equal(P.toarray(), brute_graph(X, lab, k, same=True))
    sizes = np.bincount(lab)[lab]
    np.testing.assert_array_equal(np.diff(P.indptr), np.minimum(k, sizes - 1))


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("k", [1, 7, 200])
def test_exact_q_matches_brute_force(k, integer):
    X, lab = clustered(150, 4, 6, seed=k, integer=integer)
    Q = easy_confusing_pairs(X, lab, k2=k, method="exact", device="cpu")
    np.testing.assert_array_equal(Q.toarray(), brute_graph(X, lab, k, same=False))
    other = len(lab) - np.bincount(lab)[lab]
    np.testing.assert_array_equal(np.diff(Q.indptr), np.minimum(k, other))


def test_duplicate_rows_tie_by_index():
    X = np.zeros((6, 3), dtype=np.float32)  # all identical
    lab = np.array([0, 0, 0, 1, 1, 1])
    P = same_area_pairs(X, lab, k1=1, device="cpu")
    Q = easy_confusing_pairs(X, lab, k2=2, device="cpu")
    assert P.indices.tolist() == [1, 0, 0, 4, 3, 3]
    assert Q.indices.tolist() == [3, 4] * 3 + [0, 1] * 3


def test_one_poi_warns_and_q_is_empty():
    X, _ = clustered(20, 3, 2, seed=0)
    with pytest.warns(UserWarning, match="one POI"):
        Q = easy_confusing_pairs(X, np.zeros(20, dtype=int), device="cpu")
    assert Q.shape == (20, 20) and Q.nnz == 0


@pytest.mark.parametrize("func", [same_area_pairs, easy_confusing_pairs])
@pytest.mark.parametrize("X, lab, match", [
    (np.zeros((1, 3)), [0], "at least 2"),
    (np.zeros((4, 3)), [0, 1, 1], "poi_labels"),
    (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), [0, 1, 1], "row 1"),
    (np.zeros((3, 2)), [0.5, 1, 1], "integers"),
])
def test_bad_inputs(func, X, lab, match):
    with pytest.raises(ValueError, match=match):
        func(X, lab, device="cpu")


def test_bad_method_and_k():
    X, lab = clustered(10, 2, 2, seed=0)
    with pytest.raises(ValueError, match="method"):
        easy_confusing_pairs(X, lab, method="kmeans")
    with pytest.raises(ValueError, match="k1"):
        same_area_pairs(X, lab, k1=0)


def test_build_geo_graphs_is_consistent():
    rng = np.random.default_rng(0)
    spots = np.array([[45.0, 10.0], [45.1, 10.1], [-33.9, 151.2], [0.0, 179.9999]])
    which = rng.integers(0, 4, 80)
    gps = spots[which] + rng.normal(scale=1e-4, size=(80, 2))
    X, _ = clustered(80, 6, 3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P, Q, poi = build_geo_graphs(X, gps, k1=3, k2=2, device="cpu")
    assert len(np.unique(poi)) == 4
    np.testing.assert_array_equal(P.toarray(), same_area_pairs(X, poi, 3, device="cpu").toarray())
    np.testing.assert_array_equal(Q.toarray(), brute_graph(X, poi, 2, same=False))
    with pytest.raises(ValueError, match="gps"):
        build_geo_graphs(X, gps[:-1])


def test_duplicate_gps_one_poi():
    X, _ = clustered(30, 4, 3, seed=2)
    gps = np.tile([[48.8584, 2.2945]], (30, 1))  # every photo at the same spot
    with pytest.warns(UserWarning, match="one POI"):
        P, Q, poi = build_geo_graphs(X, gps, k1=40, k2=2, device="cpu")
    assert (poi == 0).all() and Q.nnz == 0
    assert (np.diff(P.indptr) == 29).all()  # k1 larger than the POI: all other members


def assert_valid_q(Q, lab, k2):
    """Every row: k2 distinct photos (or all available), none in the row's own POI."""
    rows = np.repeat(np.arange(Q.shape[0]), np.diff(Q.indptr))
    assert (lab[rows] != lab[Q.indices]).all()
    other = len(lab) - np.bincount(lab)[lab]
    np.testing.assert_array_equal(np.diff(Q.indptr), np.minimum(k2, other))


def recall(Q, exact):
    return Q.multiply(exact).nnz / exact.nnz


@pytest.mark.parametrize("seed", [0, 1])
def test_anchor_recall(seed):
    X, lab = clustered(600, 16, 12, seed=seed)
    exact = easy_confusing_pairs(X, lab, k2=5, device="cpu")
    Q = easy_confusing_pairs(X, lab, k2=5, method="anchor", k3=10, device="cpu",
                             random_state=seed)
    assert_valid_q(Q, lab, 5)
    assert recall(Q, exact) >= 0.9


def test_anchor_with_all_anchors_is_exact():
    # k3 >= number of anchors: every other-POI photo is a candidate, so the result is exact
    X, lab = clustered(200, 6, 5, seed=3)
    lab[:2] = [50, 51]  # singleton POIs are their own anchors
    exact = easy_confusing_pairs(X, lab, k2=7, device="cpu")
    Q = easy_confusing_pairs(X, lab, k2=7, method="anchor", k3=10_000, device="cpu",
                             anchor_bandwidth=0.5, random_state=0)
    np.testing.assert_array_equal(Q.toarray(), exact.toarray())


def test_anchor_bandwidth_estimate_and_clusters():
    from dgae.graphs._anchor import _centroids, estimate_anchor_bandwidth, visual_anchors

    rng = np.random.default_rng(0)
    # two POIs, each made of two tight visual clusters 10 apart
    X = np.concatenate([rng.normal(c, 0.1, size=(30, 3)) for c in (0, 10, 20, 30)])
    lab = np.repeat([0, 1], 60)
    bw = estimate_anchor_bandwidth(X, lab, random_state=0)
    assert 0.05 < bw < 10
    anchor_of, anchor_poi = visual_anchors(X.astype(np.float32), lab, bw, np,
                                           np.random.RandomState(0))
    anchors = _centroids(X.astype(np.float32), anchor_of, len(anchor_poi))
    assert len(anchors) == 4 and sorted(anchor_poi.tolist()) == [0, 0, 1, 1]
    blocks = anchor_of.reshape(4, 30)
    assert (blocks == blocks[:, :1]).all() and len(np.unique(blocks[:, 0])) == 4
    np.testing.assert_array_equal(anchor_poi[anchor_of], lab)
    for a in range(4):
        np.testing.assert_allclose(anchors[a], X[anchor_of == a].mean(axis=0), atol=1e-5)


@pytest.mark.parametrize("block", [1, 3, 256])
def test_anchor_centroids_in_column_blocks_are_group_means(monkeypatch, block):
    from dgae.graphs import _anchor

    monkeypatch.setattr(_anchor, "_COLUMN_BLOCK", block)
    rng = np.random.default_rng(block)
    X = rng.normal(size=(200, 7)).astype(np.float32)
    assign = rng.permutation(np.arange(200) % 13)
    C = _anchor._centroids(X, assign, 13)
    assert C.dtype == np.float32 and C.shape == (13, 7)
    for g in range(13):
        np.testing.assert_allclose(C[g], X[assign == g].astype(np.float64).mean(axis=0), rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["exact", "anchor"])
def test_gpu_graphs_match_cpu(method):
    X, lab = clustered(800, 32, 20, seed=5)
    P_cpu = same_area_pairs(X, lab, 5, device="cpu")
    P_gpu = same_area_pairs(X, lab, 5, device="gpu")
    assert (P_cpu != P_gpu).nnz <= 0.001 * P_cpu.nnz
    kw = dict(k2=5, method=method, random_state=0, anchor_bandwidth=3.0)
    Q_cpu = easy_confusing_pairs(X, lab, device="cpu", **kw)
    Q_gpu = easy_confusing_pairs(X, lab, device="gpu", **kw)
    assert recall(Q_gpu, Q_cpu) >= 0.99


def _geo_photos(n, seed):
    """Features, POIs and GPS of photos in towns a few km to a few hundred km apart."""
    rng = np.random.default_rng(seed)
    X, lab = clustered(n, 5, 12, seed=seed)
    towns = np.column_stack([45 + rng.uniform(0, 3, 12), 15 + rng.uniform(0, 3, 12)])
    gps = towns[lab] + rng.normal(scale=0.002, size=(n, 2))
    return X, lab, gps


def brute_q_with_floor(X, lab, gps, k, q_min_km):
    """Float64 brute-force Q: other POI and at least ``q_min_km`` away (great circle)."""
    from dgae.geo import great_circle_km

    X = np.asarray(X, dtype=np.float64)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    km = great_circle_km(np.repeat(gps, len(gps), axis=0), np.tile(gps, (len(gps), 1)))
    D[(lab[:, None] == lab[None, :]) | (km.reshape(len(gps), -1) < q_min_km)] = np.inf
    G = np.zeros(D.shape, dtype=np.float32)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    for s in range(len(X)):
        G[s, order[s][np.isfinite(D[s, order[s]])]] = 1
    return G


@pytest.mark.parametrize("q_min_km", [0.0, 1.0, 60.0, 250.0])
@pytest.mark.parametrize("method", ["exact", "anchor"])
def test_q_distance_floor_matches_brute_force(method, q_min_km):
    X, lab, gps = _geo_photos(160, seed=int(q_min_km))
    kw = dict(k3=10_000, anchor_bandwidth=0.5, random_state=0) if method == "anchor" else {}
    Q = easy_confusing_pairs(X, lab, k2=6, method=method, device="cpu", gps=gps, q_min_km=q_min_km,
                             **kw)
    np.testing.assert_array_equal(Q.toarray(), brute_q_with_floor(X, lab, gps, 6, q_min_km))


def test_q_floor_ann_and_anchor_stay_beyond_the_floor():
    from dgae.geo import great_circle_km

    X, lab, gps = _geo_photos(600, seed=3)
    exact = easy_confusing_pairs(X, lab, k2=5, device="cpu", gps=gps, q_min_km=80)
    for method in ("anchor", "ann"):
        Q = easy_confusing_pairs(X, lab, k2=5, method=method, k3=20, device="cpu",
                                 random_state=0, gps=gps, q_min_km=80)
        s, t = Q.nonzero()
        assert (lab[s] != lab[t]).all() and (great_circle_km(gps[s], gps[t]) >= 80).all()
        np.testing.assert_array_equal(np.diff(Q.indptr), np.diff(exact.indptr))
        assert recall(Q, exact) >= 0.9


def test_q_floor_needs_gps():
    X, lab = clustered(10, 2, 2, seed=0)
    with pytest.raises(ValueError, match="gps"):
        easy_confusing_pairs(X, lab, q_min_km=5)
    with pytest.raises(ValueError, match="q_min_km"):
        easy_confusing_pairs(X, lab, q_min_km=-1)


@pytest.mark.parametrize("weight", [0.0, 0.25, 1.0])
def test_multi_scale_p_against_brute_force(weight):
    """Region pairs: each photo's k1 nearest photos of its coarse POI, each scale's row summing
    to 1 and weighted; checked against a brute-force search per POI."""
    from dgae.graphs import POIMiner, build_geo_graphs

    rng = np.random.default_rng(0)
    spots = rng.uniform([40, 10], [41, 11], size=(12, 2))
    gps = np.repeat(spots, 3, axis=0) + rng.normal(scale=1e-4, size=(36, 2))
    X = rng.normal(size=(36, 5))
    k1, fine_bw, region_bw = 2, 0.5, 30.0  # km
    P, _, _ = build_geo_graphs(X, gps, k1=k1, k2=1, poi_bandwidth_km=fine_bw, device="cpu",
                               region_bandwidth_km=region_bw, region_weight=weight)

    def brute(bw):
        labels = POIMiner(bandwidth_km=bw).fit(gps).labels_
        A = np.zeros((36, 36))
        for s in range(36):
            same = np.flatnonzero((labels == labels[s]) & (np.arange(36) != s))
            d = np.linalg.norm(X[same] - X[s], axis=1)
            near = same[np.argsort(d, kind="stable")[:k1]]
            A[s, near] = 1.0 / max(len(near), 1)
        return A

    want = (1 - weight) * brute(fine_bw) + weight * brute(region_bw)
    np.testing.assert_allclose(P.toarray(), want, atol=1e-6)


def test_region_arguments_are_checked():
    from dgae.graphs import build_geo_graphs

    X, gps = np.zeros((4, 2)), [[0, 0], [0, 1], [1, 0], [1, 1]]
    with pytest.raises(ValueError, match="region_bandwidth_km"):
        build_geo_graphs(X, gps, region_bandwidth_km=0.0)
    with pytest.raises(ValueError, match="region_weight"):
        build_geo_graphs(X, gps, region_bandwidth_km=100.0, region_weight=2.0)


@pytest.mark.parametrize("floor_km", [0.0, 300.0, 5000.0])
def test_indexed_outside_anchor_search_keeps_the_masks_exact(floor_km):
    """Through the inverted file, against brute force: same-POI and floor pairs never appear,
    rows match the exact masked search closely, and starved rows fall back to it."""
    from dgae.graphs._anchor import nearest_outside_anchors
    from dgae.utils import QFloor

    rng = np.random.default_rng(0)
    X, lab = clustered(900, 30, 12, seed=4)
    anchors = (X[rng.choice(900, 300, replace=False)] + 0.01).astype(np.float32)
    anchor_poi = rng.integers(0, 30, 300)
    gps = np.c_[rng.uniform(-60, 60, 900), rng.uniform(-180, 180, 900)]
    agps = np.c_[rng.uniform(-60, 60, 300), rng.uniform(-180, 180, 300)]
    floor = QFloor(gps, agps, floor_km) if floor_km else None
    # brute force: every (photo, anchor) distance, masked
    d = ((X[:, None, :].astype(np.float64) - anchors[None]) ** 2).sum(-1)
    banned = anchor_poi[None, :] == lab[:, None]
    if floor is not None:
        banned |= floor.near(0, 900, 0, 300, np)
    d[banned] = np.inf
    exact = np.argsort(d, axis=1, kind="stable")[:, :8]
    exact[np.take_along_axis(d, exact, 1) == np.inf] = -1
    import dgae.graphs._anchor as anchor_mod

    old = anchor_mod.INDEXED_ANCHORS
    anchor_mod.INDEXED_ANCHORS = 1  # the inverted file
    try:
        near = nearest_outside_anchors(X, lab, anchors, anchor_poi, 8, np, floor, random_state=0)
    finally:
        anchor_mod.INDEXED_ANCHORS = old
    valid = near >= 0
    assert not banned[np.nonzero(valid)[0], near[valid]].any()      # masks exact
    assert ((near < 0) == (exact < 0)).all()                         # as many as there are
    found = np.mean([len(set(a[a >= 0]) & set(b[b >= 0])) / max(1, (b >= 0).sum())
                     for a, b in zip(near, exact)])
    assert found >= 0.9


def test_indexed_anchor_q_agrees_with_the_exact_q(monkeypatch):
    import dgae.graphs._anchor as anchor_mod

    X, lab = clustered(1500, 40, 12, seed=5)
    exact = easy_confusing_pairs(X, lab, k2=5, device="cpu")
    monkeypatch.setattr(anchor_mod, "INDEXED_ANCHORS", 1)
    Q = easy_confusing_pairs(X, lab, k2=5, method="anchor", k3=10, device="cpu", random_state=0)
    assert_valid_q(Q, lab, 5)
    assert recall(Q, exact) >= 0.9


@pytest.mark.parametrize("q_min_km", [0.0, 60.0])
@pytest.mark.parametrize("weight", [None, 0.25])
def test_extended_rows_are_the_brute_force_rows_of_the_grown_gallery(weight, q_min_km):
    """New photos' P (and region) and Q rows equal brute force over old and new photos; the
    old rows are kept as they were."""
    from dgae.graphs import extend_geo_graphs

    X, lab, gps = _geo_photos(140, seed=7)
    region = lab // 3                                   # coarser groups of POIs
    n_old, k1, k2 = 110, 3, 4
    P0 = sp.random(n_old, n_old, density=0.05, format="csr", random_state=0, dtype=np.float32)
    Q0 = sp.random(n_old, n_old, density=0.05, format="csr", random_state=1, dtype=np.float32)
    P, Q = extend_geo_graphs(P0, Q0, X, gps, lab, 30, k1=k1, k2=k2, q_min_km=q_min_km,
                             region_labels=None if weight is None else region,
                             region_weight=0.25 if weight is None else weight, device="cpu")
    assert P.shape == Q.shape == (140, 140)
    np.testing.assert_array_equal(P[:n_old, :n_old].toarray(), P0.toarray())
    np.testing.assert_array_equal(Q[:n_old].toarray(), np.pad(Q0.toarray(), ((0, 0), (0, 30))))
    want_p = brute_graph(X, lab, k1, same=True)
    if weight is not None:
        def l1(A):
            return A / np.maximum(A.sum(axis=1, keepdims=True), 1)

        want_p = (1 - weight) * l1(want_p) + weight * l1(brute_graph(X, region, k1, same=True))
    np.testing.assert_allclose(P[n_old:].toarray(), want_p[n_old:], atol=1e-6)
    np.testing.assert_array_equal(Q[n_old:].toarray(),
                                  brute_q_with_floor(X, lab, gps, k2, q_min_km)[n_old:])


@pytest.mark.parametrize("method", ["anchor", "ann"])
def test_extended_q_rows_follow_the_method(method):
    """graph="anchor" / "ann": the new rows are those the method gives the grown gallery."""
    from dgae.graphs import extend_geo_graphs

    X, lab, gps = _geo_photos(300, seed=5)
    kw = dict(k3=5, random_state=0) if method == "anchor" else dict(random_state=0)
    full = easy_confusing_pairs(X, lab, k2=4, method=method, device="cpu", gps=gps, q_min_km=60,
                                **kw)
    empty = sp.csr_matrix((280, 280), dtype=np.float32)
    _, Q = extend_geo_graphs(empty, empty, X, gps, lab, 20, k1=2, k2=4, method=method,
                             q_min_km=60, device="cpu", **kw)
    if method == "anchor":   # the same anchors, the same members searched: the same rows
        np.testing.assert_array_equal(Q[280:].toarray(), full[280:].toarray())
    else:                    # a query of the approximate index: beyond the floor, other POIs
        s, t = Q.nonzero()
        from dgae.geo import great_circle_km

        assert (s >= 280).all() and (lab[s] != lab[t]).all()
        assert (great_circle_km(gps[s], gps[t]) >= 60).all()
        assert recall(Q[280:], sp.csr_matrix(brute_q_with_floor(X, lab, gps, 4, 60)[280:])) >= 0.9


def test_extend_checks_its_shapes():
    from dgae.graphs import extend_geo_graphs

    X, lab, gps = _geo_photos(20, seed=0)
    P = sp.csr_matrix((15, 15), dtype=np.float32)
    with pytest.raises(ValueError, match=r"P and Q must be \(16, 16\)"):
        extend_geo_graphs(P, P, X, gps, lab, 4)


def test_anchor_member_search_in_reduced_dimensions_keeps_the_masks(monkeypatch, capsys):
    """Wide features: anchors mined and members searched in a PCA space, then re-ranked
    exactly -- still only other POIs beyond the floor, and close to the exact Q."""
    from dgae.geo import great_circle_km
    from dgae.graphs import _anchor

    monkeypatch.setattr(_anchor, "REDUCED_DIM", 8)
    monkeypatch.setattr(_anchor, "ANCHOR_REDUCED_MIN_ROWS", 100)
    rng = np.random.default_rng(5)
    X, lab, gps = _geo_photos(400, seed=5)
    X = np.hstack([X, X @ rng.normal(size=(5, 40))]).astype(np.float32)   # 45-d > 2 x 8
    calls = []
    real = _anchor.rerank
    monkeypatch.setattr(_anchor, "rerank", lambda *a, **k: calls.append(1) or real(*a, **k))
    Q = easy_confusing_pairs(X, lab, k2=5, method="anchor", k3=20, device="cpu",
                             random_state=0, gps=gps, q_min_km=60)
    assert calls                                                  # the reduced path ran
    s, t = Q.nonzero()
    easy_confusing_pairs(X, lab, k2=5, method="anchor", k3=20, device="cpu", random_state=0,
                         gps=gps, q_min_km=60, verbose=1)
    assert "anchor re-rank" in capsys.readouterr().err            # minutes at scale: a bar
    assert (lab[s] != lab[t]).all() and (great_circle_km(gps[s], gps[t]) >= 60).all()
    exact = easy_confusing_pairs(X, lab, k2=5, device="cpu", gps=gps, q_min_km=60)
    assert recall(Q, exact) >= 0.9


@pytest.mark.parametrize("pool", [None, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_large_p_groups_searched_in_reduced_dimensions_stay_inside_their_group(monkeypatch, seed,
                                                                               pool):
    """A POI (or region) of REDUCED_MIN_ROWS photos or more with wide features: P is searched in
    PCA dimensions then re-ranked exactly -- rows still inside their group, never the photo
    itself, and close to the exact P (brute force, the reduced path off)."""
    from dgae.graphs import _anchor, same_area_pairs

    rng = np.random.default_rng(seed)
    X, lab = clustered(300, 6, 3, seed=seed)                      # 3 groups of ~100 photos
    X = np.hstack([X, X @ rng.normal(size=(6, 40))]).astype(np.float32)   # 46-d > 2 x 8
    exact = same_area_pairs(X, lab, k1=5, device="cpu")
    monkeypatch.setattr(_anchor, "REDUCED_DIM", 8)
    monkeypatch.setattr(_anchor, "REDUCED_MIN_ROWS", 50)
    calls = []
    real = _anchor.reduced_features
    monkeypatch.setattr(_anchor, "reduced_features", lambda *a: calls.append(1) or real(*a))
    from dgae.graphs import _pairs

    monkeypatch.setattr(_pairs, "reduced_features", _anchor.reduced_features)
    if pool is not None:
        monkeypatch.setattr(_pairs, "P_POOL", pool)
    P = same_area_pairs(X, lab, k1=5, device="cpu", random_state=seed)
    assert len(calls) == 1                                        # computed once, shared
    s, t = P.nonzero()
    assert (lab[s] == lab[t]).all() and (s != t).all()
    assert (np.diff(P.indptr) == 5).all()
    if pool is None:
        assert recall(P, exact) >= 0.9
    else:                                  # every group's pairs point into one pool of <= 40
        assert all(len(np.unique(t[lab[s] == g])) <= pool for g in np.unique(lab))
        assert 0.2 <= recall(P, exact) < 0.9


@pytest.mark.parametrize("width", [1, 7, 40])
@pytest.mark.parametrize("k", [1, 3, 12])
@pytest.mark.parametrize("order", [None, "random", "locality"])
def test_rerank_is_the_brute_force_among_each_rows_own_candidates(monkeypatch, width, k, order):
    """rerank against a per-row brute force: exact distances to the row's own candidates only,
    nearest first, ties by lower index, -1 where a row has fewer than k candidates -- in blocks
    of 4 rows taken in any order."""
    from dgae.graphs import _anchor
    from dgae.graphs._anchor import locality_order, rerank

    monkeypatch.setattr(_anchor, "_QUERY_BLOCK", 4)
    rng = np.random.default_rng(width + k)
    X = rng.integers(0, 3, size=(60, 4)).astype(np.float32)        # small integers: many ties
    rows = rng.choice(60, size=25, replace=False)
    cand = np.full((25, width), -1)
    for i in range(25):
        m = rng.integers(0, width + 1)
        cand[i, :m] = rng.choice(60, size=m, replace=False)
    if order == "random":
        order = rng.permutation(25)
    elif order == "locality":
        order = locality_order(X[rows])
        assert sorted(order.tolist()) == list(range(25))
    got = rerank(X, rows, cand, k, np, order=order)
    for i, r in enumerate(rows):
        own = np.sort(cand[i][cand[i] >= 0])
        d = ((X[own] - X[r]) ** 2).sum(axis=1)
        want = own[np.lexsort((own, d))][:k]
        assert got[i].tolist() == want.tolist() + [-1] * (k - len(want))


@pytest.mark.parametrize("rank", [3, 12])
def test_reduced_features_are_the_leading_principal_components(monkeypatch, rank):
    """reduced_features against scikit-learn's exact PCA (LAPACK SVD): the same pairwise
    distances in the leading components (the basis may differ); a sample of rank below
    REDUCED_DIM keeps every distance and leaves the extra columns 0."""
    from sklearn.decomposition import PCA

    from dgae.graphs import _anchor

    monkeypatch.setattr(_anchor, "REDUCED_DIM", 6)
    rng = np.random.default_rng(rank)
    scales = np.r_[np.geomspace(50.0, 10.0, min(rank, 6)), np.full(max(rank - 6, 0), 0.1)]
    X = (rng.normal(size=(400, rank)) * scales) @ np.linalg.qr(rng.normal(size=(40, rank)))[0].T
    X = (X + rng.normal(size=40) * 5).astype(np.float32)
    Z = _anchor.reduced_features(X, np.random.RandomState(0))
    ref = PCA(n_components=6, svd_solver="full").fit_transform(X.astype(np.float64))
    pair = rng.integers(0, 400, size=(200, 2))
    dist = lambda A: np.linalg.norm(A[pair[:, 0]] - A[pair[:, 1]], axis=1)   # noqa: E731
    np.testing.assert_allclose(dist(Z), dist(ref), rtol=2e-3, atol=1e-2)
    assert Z.shape == (400, 6) and Z.dtype == np.float32
    if rank < 6:
        np.testing.assert_allclose(dist(Z), dist(X), rtol=1e-3)
        assert np.abs(Z[:, rank:]).max() < 1e-3


def test_build_shares_one_pca_between_p_and_the_anchor_q(monkeypatch):
    """build_geo_graphs with the anchor Q and a region large enough for P's reduced search:
    the principal components are computed once and serve both; Q keeps its masks."""
    from dgae.geo import great_circle_km
    from dgae.graphs import _anchor

    monkeypatch.setattr(_anchor, "REDUCED_DIM", 8)
    monkeypatch.setattr(_anchor, "REDUCED_MIN_ROWS", 50)
    monkeypatch.setattr(_anchor, "ANCHOR_REDUCED_MIN_ROWS", 100)
    calls = []
    real = _anchor.reduced_features
    counted = lambda *a: calls.append(1) or real(*a)   # noqa: E731
    monkeypatch.setattr(_anchor, "reduced_features", counted)
    monkeypatch.setattr(_pairs, "reduced_features", counted)
    rng = np.random.default_rng(3)
    X, _, gps = _geo_photos(400, seed=3)
    X = np.hstack([X, X @ rng.normal(size=(5, 40))]).astype(np.float32)
    P, Q, poi = build_geo_graphs(X, gps, k1=4, k2=5, method="anchor", poi_bandwidth_km=1.1,
                                 region_bandwidth_km=556.0, q_min_km=60, device="cpu",
                                 random_state=0, k3=20)
    assert len(calls) == 1
    s, t = Q.nonzero()
    assert s.size and (poi[s] != poi[t]).all() and (great_circle_km(gps[s], gps[t]) >= 60).all()
