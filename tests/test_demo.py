"""Tests of ``dgae demo`` and the evaluation loop it shares with experiments/ (dgae._demo)."""
import numpy as np
import pytest

from dgae.cli import main
from dgae._report import read_predictions
from dgae._demo import by_head, evaluate_methods, query_split, standard_methods
from dgae.metrics import geolocation_errors_km

# tiny trainings in these tests leave near-constant codes; the estimator warns about it
pytestmark = pytest.mark.filterwarnings("ignore:the learned codes barely vary")


@pytest.mark.parametrize("n,n_test", [(10, 3), (50, 49), (7, 1)])
def test_query_split_partitions(n, n_test):
    q, g = query_split(n, n_test, random_state=1)
    assert len(q) == n_test and np.array_equal(np.sort(np.concatenate([q, g])), np.arange(n))
    assert np.array_equal(q, query_split(n, n_test, random_state=1)[0])


@pytest.mark.parametrize("n_test", [0, 10])
def test_query_split_bad(n_test):
    with pytest.raises(ValueError, match="n_test"):
        query_split(10, n_test)


def _blobs(n_per=8, seed=0):
    """Three well-separated places with distinct features."""
    rng = np.random.default_rng(seed)
    centres = np.array([[45.0, 15.0], [10.0, 100.0], [-30.0, -60.0]])
    gps = np.repeat(centres, n_per, axis=0) + rng.normal(0, 1e-3, (3 * n_per, 2))
    X = np.repeat(np.eye(3, 12) * 3, n_per, axis=0) + rng.random((3 * n_per, 12))
    return X.astype(np.float32), gps


def test_evaluate_methods_against_brute_force():
    X, gps = _blobs()
    q, g = np.arange(0, 24, 4), np.setdiff1d(np.arange(24), np.arange(0, 24, 4))
    methods = standard_methods(include=("LF", "AE"), hidden_layer_sizes=(6,), max_iter=3,
                               random_state=0)
    res = evaluate_methods(methods, X[g], gps[g], X[q], gps[q], heads=("1nn",),
                           features={"RAW": (X[g] * 2, X[q] * 2)})
    assert set(res["errors"]) == {"LF 1nn", "AE 1nn", "RAW 1nn"}
    # LF 1-NN is the nearest gallery photo in feature space
    d = ((X[q, None] - X[None, g]) ** 2).sum(-1)
    expected = gps[g][d.argmin(1)]
    np.testing.assert_allclose(res["predictions"]["LF 1nn"], expected)
    np.testing.assert_allclose(res["errors"]["LF 1nn"], geolocation_errors_km(gps[q], expected))
    np.testing.assert_allclose(res["predictions"]["RAW 1nn"], expected)  # scaling-invariant
    assert "AE" in res["estimators"] and list(by_head(res["errors"], "1nn")) == ["LF", "AE", "RAW"]


def test_demo_cli_tiny(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--n-images", "70", "--n-test", "12",
                 "--image-size", "32", "--layers", "8", "--max-iter", "2", "--n-textons", "8",
                 "--n-jobs", "1", "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "not the paper's" in text and "[1nn head]" in text and "[meanshift head]" in text
    for method in ("LF", "AE", "DGAE", "fDGAE"):
        assert any(line.startswith(method + " ") for line in text.splitlines())
    pairs = read_predictions(out / "predictions.csv")
    assert set(pairs) == {f"{m} {h}" for m in ("LF", "AE", "DGAE", "fDGAE")
                          for h in ("1nn", "meanshift")}
    assert all(len(t) == 12 for t, _ in pairs.values())
    for head in ("1nn", "meanshift"):
        assert (out / f"error_curves_{head}.png").stat().st_size > 1000
    assert (out / "map.png").stat().st_size > 1000
