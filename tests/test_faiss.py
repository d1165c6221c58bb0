"""faiss as the gallery engine (the faiss extra; skipped without it)."""
import joblib
import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from dgae import DGAE, GeoKNN  # noqa: E402
from dgae.graphs import FAISS_KINDS, FaissIndex, nearest_neighbors  # noqa: E402


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 32))
    X = (centres[rng.integers(0, 200, 6000)] + 0.3 * rng.normal(size=(6000, 32))).astype(np.float32)
    Q = (centres[rng.integers(0, 200, 300)] + 0.3 * rng.normal(size=(300, 32))).astype(np.float32)
    return X, Q


@pytest.mark.parametrize("kind, recall", [("flat", 1.0), ("ivf", 0.9), ("ivfpq", 0.5), ("hnsw", 0.9)])
def test_recall_against_exact_search(clusters, kind, recall):
    X, Q = clusters
    _, exact = nearest_neighbors(Q, X, 10, device="cpu")
    d, idx = FaissIndex(kind=kind, random_state=0).fit(X).query(Q, 10)
    got = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact)])
    assert got >= recall
    assert (np.diff(d, axis=1) >= -1e-4).all()  # ascending
    if kind == "flat":  # exact: Euclidean distances, not squared
        np.testing.assert_allclose(d[:, 0], np.linalg.norm(Q - X[idx[:, 0]], axis=1), rtol=1e-4)


def test_product_quantisation_compresses(clusters):
    X, _ = clusters
    sizes = {k: FaissIndex(kind=k, pq_bytes=16, random_state=0).fit(X).bytes_per_photo_
             for k in ("ivf", "ivfpq")}
    assert sizes["ivfpq"] < 40 < 4 * 32 <= sizes["ivf"]


def test_product_quantisation_pads_an_awkward_width(clusters, tmp_path):
    """A width that pq_bytes does not divide (here 37, prime) is zero-padded to a multiple:
    the same neighbours as faiss's IVF-PQ on rows padded by hand with the same seed and
    sample, pq_bytes sub-quantisers (not the one a divisor would leave), and a round trip
    through joblib."""
    X, Q = (np.hstack([a, a[:, :5]]) for a in clusters)          # 37 columns
    index = FaissIndex(kind="ivfpq", pq_bytes=8, random_state=0).fit(X)
    rng = np.random.RandomState(0)                               # the index's own draws
    seed, n_lists = int(rng.randint(2 ** 31)), index.n_lists_
    pad = lambda A: np.hstack([A, np.zeros((len(A), 3), np.float32)])  # noqa: E731
    ref = faiss.IndexIVFPQ(faiss.IndexFlatL2(40), 40, n_lists, 8, 8)
    ref.cp.seed = seed
    sample = pad(X) if len(X) <= 256 * n_lists else pad(X)[rng.choice(len(X), 256 * n_lists,
                                                                        replace=False)]
    ref.train(sample)
    ref.nprobe = min(16, n_lists)
    ref.add(pad(X))
    _, want = ref.search(pad(Q), 10)
    d, got = index.query(Q, 10)
    np.testing.assert_array_equal(got, want)
    assert faiss.downcast_index(faiss.extract_index_ivf(index.index_)).pq.M == 8
    loaded = joblib.load(joblib.dump(index, tmp_path / "i.joblib")[0])
    np.testing.assert_array_equal(loaded.query(Q, 10)[1], got)


@pytest.mark.parametrize("kind", FAISS_KINDS)
def test_geoknn_with_faiss_round_trips(clusters, tmp_path, kind):
    X, Q = clusters
    gps = np.c_[np.linspace(-50, 50, len(X)), np.linspace(-100, 100, len(X))]
    knn = GeoKNN(index=FaissIndex(kind=kind, random_state=0)).fit(X, gps)
    loaded = joblib.load(joblib.dump(knn, tmp_path / "k.joblib")[0])
    np.testing.assert_array_equal(loaded.predict(Q), knn.predict(Q))


def test_dgae_index_faiss_matches_exact_on_a_flat_index():
    rng = np.random.default_rng(0)
    X = rng.random((80, 6)).astype(np.float32)
    gps = np.c_[45 + rng.integers(0, 4, 80) + rng.normal(0, 1e-3, 80), 15 + rng.normal(0, 1e-3, 80)]
    kw = dict(hidden_layer_sizes=(6, 3), max_iter=3, random_state=0)
    exact = DGAE(knn=GeoKNN(), **kw).fit(X, gps)
    flat = DGAE(knn=GeoKNN(index=FaissIndex(kind="flat")), **kw).fit(X, gps)
    np.testing.assert_array_equal(flat.predict(X[:20]), exact.predict(X[:20]))
    assert type(DGAE(knn=GeoKNN(index="faiss"), **kw).fit(X, gps).knn_.index_).__name__ == "FaissIndex"
