import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.neighbors import KNeighborsRegressor

from dgae.geo import great_circle_km
from dgae.metrics import accuracy_at, error_curve, geo_scorer, geolocation_errors_km
from dgae.plotting import plot_error_curves


@pytest.fixture
def pairs():
    rng = np.random.default_rng(0)
    truth = np.column_stack([rng.uniform(-60, 60, 200), rng.uniform(-180, 180, 200)])
    # offsets of known size: 0.5, 10, 100, 500, 2000 km (x40)
    km = np.repeat([0.5, 10.0, 100.0, 500.0, 2000.0], 40)
    pred = truth.copy()
    pred[:, 0] = truth[:, 0] + np.degrees(km / 6371.004)  # along the meridian: exact distances
    return truth, pred, km


def test_errors_equal_offsets(pairs):
    truth, pred, km = pairs
    np.testing.assert_allclose(geolocation_errors_km(truth, pred), km, rtol=1e-9)


def test_accuracy_at_counts_inclusive_thresholds(pairs):
    truth, pred, km = pairs
    acc = accuracy_at(truth, pred)
    assert list(acc) == [1, 25, 200, 750, 2500]
    assert acc == pytest.approx({1: 0.2, 25: 0.4, 200: 0.6, 750: 0.8, 2500: 1.0})
    # "within" is <=: an error equal to the threshold counts
    assert accuracy_at([[0, 0]], [[0, 0]], thresholds_km=(0,)) == {0: 1.0}


def test_error_curve_sorted(pairs):
    truth, pred, km = pairs
    rng = np.random.default_rng(1)
    order = rng.permutation(len(km))
    curve = error_curve(truth[order], pred[order])
    np.testing.assert_allclose(curve, np.sort(km), rtol=1e-9)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="differ in length"):
        accuracy_at([[0, 0]], [[0, 0], [1, 1]])


def test_geo_scorer_in_grid_search():
    rng = np.random.default_rng(0)
    centres = np.array([[45.0, 15.0], [40.0, -3.0], [35.0, 139.0]])
    lab = np.repeat(np.arange(3), 30)
    X = np.eye(3)[lab] + rng.normal(scale=0.05, size=(90, 3))
    gps = centres[lab] + rng.normal(scale=0.01, size=(90, 2))
    search = GridSearchCV(KNeighborsRegressor(), {"n_neighbors": [1, 60]}, scoring=geo_scorer(200),
                          cv=GroupKFold(3))
    search.fit(X, gps, groups=np.arange(90) % 3)
    # 1-NN always lands in the right area; averaging 60 neighbours mixes areas
    assert search.best_params_ == {"n_neighbors": 1}
    assert search.best_score_ == 1.0
    pred = search.predict(X)
    assert geo_scorer(200)(search.best_estimator_, X, gps) == np.mean(great_circle_km(gps, pred) <= 200)


def test_geo_scorer_rejects_bad_threshold():
    with pytest.raises(ValueError):
        geo_scorer(0)


def test_plot_error_curves(tmp_path):
    ax = plot_error_curves({"A": [0.0, 1.0, 10.0], "B": [5.0, 50.0]}, title="t")
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("A", "B")]
    assert len(lines) == 2
    y = lines[1].get_ydata()
    np.testing.assert_allclose(y, [0.5, 1.0])
    assert ax.get_xscale() == "log"
    ax.figure.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_error_curves({})
