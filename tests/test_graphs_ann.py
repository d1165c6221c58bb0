"""The pynndescent easy-confusing graph (its first use pays numba's JIT compile, ~30-90 s)."""
import numpy as np
import pytest

from dgae.graphs import easy_confusing_pairs
from dgae.graphs import _ann
from dgae.graphs._ann import _repeats, ann_q_table
from dgae.graphs._tables import exact_q_table
from dgae.utils import neighbors_to_csr
from test_graphs_pairs import assert_valid_q, clustered, recall


def test_ann_recall_and_exact_finish(monkeypatch):
    X, lab = clustered(1500, 12, 15, seed=0)
    exact = easy_confusing_pairs(X, lab, k2=10, device="cpu")
    Q = easy_confusing_pairs(X, lab, k2=10, method="ann", device="cpu", random_state=0)
    assert_valid_q(Q, lab, 10)
    assert recall(Q, exact) >= 0.95

    # visually uniform POIs: every photo's approximate neighbours lie in its own POI,
    # so all rows must be finished by the exact search (and the result is then exact)
    rng = np.random.default_rng(1)
    lab = np.repeat(np.arange(5), 100)
    X = (lab[:, None] * 3.0 + rng.normal(scale=0.3, size=(500, 4))).astype(np.float32)
    finished = []
    monkeypatch.setattr(_ann, "exact_q_table", lambda *a, rows, **kw: finished.append(len(rows))
                        or exact_q_table(*a, rows=rows, **kw))
    table = ann_q_table(X, lab, 10, random_state=0)
    Q = neighbors_to_csr(table, 500)
    exact = easy_confusing_pairs(X, lab, k2=10, device="cpu")
    assert finished and finished[0] > 0
    assert_valid_q(Q, lab, 10)
    assert recall(Q, exact) >= 0.95


def test_repeated_hits_are_dropped():
    hits = np.array([[3, 1, 3, 2, 1], [0, 0, 0, 4, -1]])
    np.testing.assert_array_equal(_repeats(hits), [[0, 0, 1, 0, 1], [0, 1, 1, 0, 0]])


@pytest.mark.filterwarnings("ignore:Failed to correctly find n_neighbors")  # pynndescent, tiny n
@pytest.mark.parametrize("method", ["exact", "anchor", "ann"])
def test_k2_above_the_photo_count_gives_every_other_poi_photo(method):
    """k2 >= n: all three builders return the same complete graph (ann used to crash)."""
    rng = np.random.default_rng(0)
    lab = np.repeat(np.arange(4), 3)
    X = rng.normal(size=(12, 5)).astype(np.float32)
    Q = easy_confusing_pairs(X, lab, k2=20, method=method, device="cpu", random_state=0)
    expected = (lab[:, None] != lab[None, :]).astype(float)
    np.testing.assert_array_equal(Q.toarray() > 0, expected > 0)
