"""GeoKNN(index="ann") (pynndescent) against exact search on a small clustered set."""
import numpy as np

from dgae import GeoKNN


def test_ann_recall_against_exact_search():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 32))
    member = rng.integers(0, 50, 2100)
    X = (centres[member] + 0.3 * rng.normal(size=(2100, 32))).astype(np.float32)
    gps = np.column_stack([rng.uniform(-60, 60, 2100), rng.uniform(-180, 180, 2100)])
    exact = GeoKNN(n_neighbors=10).fit(X[100:], gps[100:])
    ann = GeoKNN(n_neighbors=10, index="ann", random_state=0).fit(X[100:], gps[100:])
    _, truth = exact.kneighbors(X[:100])
    _, found = ann.kneighbors(X[:100])
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= 0.9
