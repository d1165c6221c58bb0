"""Tests of the experiment scripts' building blocks and a tiny end-to-end cities35 run."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

# tiny trainings in these tests leave near-constant codes; the estimator warns about it
pytestmark = pytest.mark.filterwarnings("ignore:the learned codes barely vary")

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def exp():
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        yield {name: importlib.import_module(name)
               for name in ("croatia", "cities35", "cross_validate")}
    finally:
        sys.path.remove(str(EXPERIMENTS))


def _places(n_places=6, per=3, seed=0):
    loc = np.repeat([f"p{i}" for i in range(n_places)], per)
    return np.random.default_rng(seed).permutation(loc)


def test_heading_folds_mimic_heading_holdout(exp):
    loc = _places()
    folds = exp["croatia"].heading_folds(loc, n_folds=3)
    tests = np.concatenate([t for _, t in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(loc)))  # a partition
    for train, test in folds:
        # one photo of every place is held out, the place's others stay in training
        assert sorted(loc[test]) == sorted(set(loc))
        assert set(loc[train]) == set(loc) and not set(train) & set(test)


def test_place_folds_hold_out_whole_places(exp):
    loc = _places()
    for train, test in exp["croatia"].place_folds(loc, n_folds=3):
        assert not set(loc[train]) & set(loc[test])


def test_k_grid_and_table(exp):
    cv = exp["cross_validate"]
    grid = cv.k_grid([0, 5, 20])
    from sklearn.model_selection import ParameterGrid

    params = list(ParameterGrid(grid))
    assert {"k1": 1, "k2": 10, "alpha": 0.0} in params and {"k1": 20, "k2": 1, "beta": 0.0} in params
    scores = np.linspace(0.1, 0.9, len(params))
    table = cv.k_table({"params": params, "mean_test_score": scores}, [0, 5, 20]).splitlines()
    by = {(p.get("alpha", 1) != 0 and p["k1"] or 0, p.get("beta", 1) != 0 and p["k2"] or 0): s
          for p, s in zip(params, scores)}
    assert float(table[1].split()[1]) == pytest.approx(100 * by[(0, 10)], abs=0.05)
    assert float(table[2].split()[1]) == pytest.approx(100 * by[(20, 0)], abs=0.05)
    assert float(table[1].split()[3]) == pytest.approx(100 * by[(20, 10)], abs=0.05)


def test_alpha_beta_table(exp):
    res = {"params": [{"alpha": a, "beta": b} for a in (0, 1) for b in (0, 0.5)],
           "mean_test_score": [0.1, 0.2, 0.3, 0.4]}
    score, text = exp["cross_validate"].alpha_beta_table(res, [0, 1], [0, 0.5])
    np.testing.assert_allclose(score, [[10, 20], [30, 40]])
    assert text.splitlines()[2].split() == ["1", "30.0", "40.0"]


def test_cities35_tiny_end_to_end(exp, tmp_path, capsys):
    out = tmp_path / "c35"
    code = exp["cities35"].main([
        "--n-images", "70", "--n-test", "12", "--image-size", "32", "--n-textons", "8",
        "--layers", "8", "--max-iter", "2", "--fig8-scale", "0.001", "--cnn", "off",
        "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    for marker in ("Tables 2/3", "Table 5", "Table 6", "Fig. 8", "top 5"):
        assert marker in text
    assert (out / "error_curves_1nn.png").is_file() and (out / "fig8_layers.png").is_file()
    # Table 5: the best of the top k can only improve with k
    rows = [line.split()[2:] for line in text.splitlines() if line.startswith("top ")]
    acc = np.array(rows, dtype=float)
    assert np.all(np.diff(acc, axis=0) >= 0)


@pytest.mark.parametrize("flags,expected", [
    ([], {"batch_size": "auto", "learning_rate": "auto", "gamma": 0.05}),
    (["--batch-size", "full", "--learning-rate", "0.3", "--gamma", "0"],
     {"batch_size": None, "learning_rate": 0.3, "gamma": 0.0}),
    (["--batch-size", "64", "--layers", "32,16"], {"batch_size": 64, "hidden_layer_sizes": (32, 16)}),
])
def test_training_flags(exp, flags, expected):
    import _common

    params = _common.training_params(_common.base_parser("x", "out").parse_args(flags))
    assert {k: params[k] for k in expected} == expected
    from dgae import DGAE

    DGAE(**params)._validate_params()  # every flag maps onto a valid DGAE parameter
