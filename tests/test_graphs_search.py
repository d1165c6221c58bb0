"""dgae.graphs.nearest_neighbors against a float64 brute force."""
import numpy as np
import pytest

from dgae.utils import _search, nearest_neighbors


def brute_knn(Q, X, k, ql=None, xl=None, exclude=None, exclude_self=False):
    """Float64 reference: full distance matrix, stable sort (ties by lower index)."""
    D = np.sqrt(((Q[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    if exclude == "same":
        D[np.asarray(ql)[:, None] == np.asarray(xl)[None, :]] = np.inf
    elif exclude == "different":
        D[np.asarray(ql)[:, None] != np.asarray(xl)[None, :]] = np.inf
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(D, order, axis=1)
    idx = np.where(np.isinf(dist), -1, order)
    if k > X.shape[0]:
        pad = k - X.shape[0]
        dist = np.hstack([dist, np.full((len(Q), pad), np.inf)])
        idx = np.hstack([idx, np.full((len(Q), pad), -1)])
    return dist, idx


@pytest.fixture
def small_tiles(monkeypatch):
    """Force many query and index blocks so the running merge is exercised."""
    monkeypatch.setitem(_search._TILE_ELEMENTS, "cpu", 64)


@pytest.mark.parametrize("exclude", [None, "same", "different"])
@pytest.mark.parametrize("k", [1, 5, 40])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_matches_brute_force(exclude, k, batch_size, small_tiles):
    rng = np.random.default_rng(k)
    X = rng.normal(size=(60, 6)) + 50.0  # offset: exercises the centring
    Q = rng.normal(size=(23, 6)) + 50.0
    ql, xl = rng.integers(0, 4, 23), rng.integers(0, 4, 60)
    d, i = nearest_neighbors(Q, X, k, query_labels=ql, index_labels=xl, exclude=exclude,
                             device="cpu", batch_size=batch_size)
    rd, ri = brute_knn(Q, X, k, ql, xl, exclude)
    assert d.dtype == np.float32 and i.dtype == np.int64 and d.shape == (23, k)
    np.testing.assert_array_equal(i, ri)
    fin = np.isfinite(rd)
    np.testing.assert_array_equal(np.isfinite(d), fin)
    np.testing.assert_allclose(d[fin], rd[fin], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("exclude", [None, "same", "different"])
def test_exclude_self_and_exact_ties(exclude, small_tiles):
    # integer features: float32 distances are exact, so ties must go to the lower index
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(50, 2)).astype(np.float32)  # many duplicates and ties
    lab = rng.integers(0, 3, 50)
    d, i = nearest_neighbors(X, X, 12, query_labels=lab, index_labels=lab, exclude=exclude,
                             exclude_self=True, device="cpu", batch_size=9)
    rd, ri = brute_knn(X, X, 12, lab, lab, exclude, exclude_self=True)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(d, rd.astype(np.float32))
    assert not (i == np.arange(50)[:, None]).any()


def test_padding_when_k_exceeds_candidates():
    X = np.arange(10, dtype=np.float32)[:, None]
    lab = np.array([0] * 3 + [1] * 7)
    d, i = nearest_neighbors(X, X, 6, query_labels=lab, index_labels=lab, exclude="different",
                             exclude_self=True, device="cpu")
    assert (i[0] == [1, 2, -1, -1, -1, -1]).all()
    assert np.isinf(d[0, 2:]).all() and np.isfinite(d[0, :2]).all()
    assert (i[5] == [4, 6, 3, 7, 8, 9]).all()  # 4 and 6 tie at 1: lower index first
    d, i = nearest_neighbors(X[:2], X[:3], 5, device="cpu")
    assert (i[:, 3:] == -1).all() and np.isinf(d[:, 3:]).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "k must be"),
    (dict(k=2, exclude="same"), "needs query_labels"),
    (dict(k=2, exclude="other"), "exclude must be"),
    (dict(k=2, exclude_self=True, queries=np.zeros((3, 2))), "equal length"),
    (dict(k=2, queries=np.zeros((3, 3))), "features"),
    (dict(k=2, queries=np.array([[0.0, np.nan]])), "row 0"),
    (dict(k=2, exclude="same", query_labels=[0, 1, 1], index_labels=[0, 1, 1, 0]), "query_labels"),
])
def test_errors(kwargs, match):
    args = dict(queries=np.zeros((2, 2)), index=np.zeros((4, 2)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        nearest_neighbors(args.pop("queries"), args.pop("index"), device="cpu", **args)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 32)).astype(np.float32)
    lab = rng.integers(0, 20, 3000)
    kw = dict(query_labels=lab, index_labels=lab, exclude="same")
    dc, ic = nearest_neighbors(X, X, 10, device="cpu", **kw)
    dg, ig = nearest_neighbors(X, X, 10, device="gpu", batch_size=500, **kw)
    assert (ic == ig).mean() > 0.999
    np.testing.assert_allclose(dg, dc, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("exclude, exclude_self, floor_km", [("same", False, 500.0),
                                                             ("different", True, None),
                                                             (None, True, 1000.0),
                                                             (None, False, None)])
def test_pair_mask_on_any_rows_matches_its_tiles(exclude, exclude_self, floor_km):
    """``PairMask.pairs(rows, cols)`` (the inverted file's masks) is the tile rule read at
    those rows and columns."""
    from dgae.utils import PairMask, QFloor

    rng = np.random.default_rng(3)
    gps = np.c_[rng.uniform(-60, 60, 40), rng.uniform(-180, 180, 40)]
    labels = rng.integers(0, 4, 40)
    floor = QFloor(gps, gps, floor_km) if floor_km else None
    mask = PairMask(labels, labels, exclude, exclude_self, np, floor=floor)
    tile = mask(0, 40, 0, 40)
    tile = np.zeros((40, 40), bool) if tile is None else tile
    rows, cols = rng.permutation(40)[:13], rng.permutation(40)[:29]
    got = mask.pairs(rows, cols)
    assert got.shape == (13, 29)
    np.testing.assert_array_equal(got, tile[np.ix_(rows, cols)])
