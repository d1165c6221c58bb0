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
               for name in ("photos", "cities35", "cross_validate")}
    finally:
        sys.path.remove(str(EXPERIMENTS))


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
    ([], {}),
    (["--batch-size", "full", "--learning-rate", "0.3", "--gamma", "0"],
     {"batch_size": None, "learning_rate": 0.3, "gamma": 0.0}),
    (["--batch-size", "64", "--layers", "32,16"], {"batch_size": 64, "hidden_layer_sizes": (32, 16)}),
    (["--lr-decay", "0.9", "--tol", "0"], {"optimizer": {"kind": "adam", "momentum": 0.9,
                                                          "adam_betas": (0.9, 0.999),
                                                          "lr_decay": 0.9, "tol": 0.0}}),
])
def test_training_flags(exp, flags, expected):
    import _common

    params = _common.training_params(_common.base_parser("x", "out").parse_args(flags))
    given = {k: v for k, v in params.items() if k not in ("device", "random_state")}
    if "optimizer" in given:  # a Solver: compared by its settings
        given["optimizer"] = given["optimizer"].settings()
    assert given == expected
    from dgae import DGAE

    DGAE(**params)._validate_params()  # every flag maps onto a valid DGAE parameter


def _photo_folder(root, n_places=6, n_views=4, size=48):
    """A tiny multi-view photo collection: photos.csv with path,lat,lon,location_id,heading."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir()
    rows = ["path,lat,lon,location_id,heading"]
    for p in range(n_places):
        base = rng.integers(0, 255, (4, 4, 3))
        lat, lon = 40 + 3 * p, 10 + 2 * p
        for h in range(n_views):
            img = np.kron(np.roll(base, h, axis=1), np.ones((size // 4, size // 4, 1)))
            img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / f"p{p}_{h}.jpg")
            rows.append(f"p{p}_{h}.jpg,{lat},{lon},place{p},{h}")
    (root / "photos.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("protocol", ["heading", "place"])
def test_photos_experiment_tiny_end_to_end(exp, tmp_path, capsys, protocol):
    data = _photo_folder(tmp_path / "photos")
    out = tmp_path / "out"
    code = exp["photos"].main(["--data", str(data), "--protocol", protocol, "--out", str(out),
                               "--features", "im2gps,tiny", "--n-textons", "8", "--n-jobs", "1",
                               "--no-ablation", "--quiet",
                               "--rows", "LF,AE,DGAE,PCA+LDA,Gallery mean,1-NN"])
    assert code == 0
    text = capsys.readouterr().out
    for row in ("LF", "AE", "DGAE", "PCA+LDA", "Gallery mean", "Tiny 1-NN"):
        assert any(line.startswith(row + " ") for line in text.splitlines())
    assert (out / "table.txt").is_file() and (out / "error_curves_1nn.png").is_file()
    assert (out / "error_curves_auto.png").is_file() and "[auto head]" in text
    assert "(auto)" in text and "thresholds" in text          # the thresholds are stated
    assert "DGAE: head " in text and "AUROC" in text           # the chosen head, the confidence
    n_queries = 6 if protocol == "heading" else 4
    assert f"({n_queries} queries" in text


def test_photos_split_follows_the_readme_protocols(exp):
    from dgae.datasets import heading_holdout_split, place_holdout_split

    loc = np.repeat([f"p{i}" for i in range(10)], 4)
    for protocol, reference in (("heading", heading_holdout_split(loc, seed=0)),
                                ("place", place_holdout_split(loc, test_size=0.2, seed=0))):
        q, g = exp["photos"].split(loc, protocol)
        np.testing.assert_array_equal(q, reference[0])
        np.testing.assert_array_equal(g, reference[1])


def test_equal_weight_blocks(exp):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 5)), 50 * rng.normal(size=(30, 3))
    F = exp["photos"].equal_weight([a, b], np.arange(20))
    assert F.shape == (30, 8) and F.dtype == np.float32
    # each block: an expected squared distance of 1 between two gallery rows (FusedDescriptor's rule)
    np.testing.assert_allclose([2 * F[:20, s].var(axis=0, ddof=1).sum() for s in (slice(0, 5), slice(5, 8))],
                               1.0, rtol=1e-5)


def test_linear_peers_fit_on_mined_pois(exp):
    sys.path.insert(0, str(EXPERIMENTS))
    from _peers import LinearPeer

    rng = np.random.default_rng(0)
    gps = np.repeat([[45.0, 15.0], [40.0, 10.0], [30.0, 5.0], [20.0, 0.0]], 12, axis=0)
    X = rng.normal(size=(48, 10)) + np.repeat(np.eye(4, 10) * 4, 12, axis=0)
    lda = LinearPeer("lda").fit(X, gps)
    assert lda.transform(X).shape == (48, 3) and len(np.unique(lda.poi_labels_)) == 4
    nca = LinearPeer("nca", max_samples=30).fit(X, gps)
    assert nca.n_fit_samples_ == 30 and nca.transform(X).shape == (48, 10)


@pytest.mark.parametrize("seed", [0, 1])
def test_new_places_chains_match_the_library_kde_heads(seed):
    """new_places.py's coarse-to-fine chain of one or two widths is the library's KDE head
    (refined); a longer chain only ever narrows the region it picks in."""
    from dgae._heads import kde_head

    sys.path.insert(0, str(EXPERIMENTS))
    try:
        new_places = importlib.import_module("new_places")
    finally:
        sys.path.remove(str(EXPERIMENTS))
    rng = np.random.default_rng(seed)
    nbrs = np.column_stack([rng.uniform(-60, 60, (30, 40, 1)), rng.uniform(-180, 180, (30, 40, 1))])
    nbrs = nbrs.reshape(30, 40, 2)
    dist = np.sort(rng.uniform(1.0, 2.0, (30, 40)), axis=1)
    np.testing.assert_array_equal(new_places.chain_head(nbrs, dist, (750.0,)),
                                  kde_head(nbrs, dist, 750.0))
    np.testing.assert_array_equal(new_places.chain_head(nbrs, dist, (2500.0, 25.0), power=30.0),
                                  kde_head(nbrs, dist, 2500.0, 30.0, refine_km=25.0))
    coarse = kde_head(nbrs, dist, 2500.0)
    from dgae.geo import great_circle_km

    deep = new_places.chain_head(nbrs, dist, (2500.0, 750.0, 200.0, 25.0))
    assert (great_circle_km(deep, coarse) <= 2500.0).all()


def test_new_places_end_to_end(exp, tmp_path, capsys):
    """experiments/new_places.py runs on photos.py's feature cache, every option at once, and
    prints each head's row for both protocols."""
    data = _photo_folder(tmp_path / "photos", n_places=8)
    for protocol in ("heading", "place"):
        assert exp["photos"].main(["--data", str(data), "--protocol", protocol,
                                   "--out", str(tmp_path / f"photos_{protocol}"),
                                   "--features", "im2gps", "--n-textons", "8", "--n-jobs", "1",
                                   "--no-ablation", "--quiet", "--rows", "LF"]) == 0
    capsys.readouterr()
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        new_places = importlib.import_module("new_places")
    finally:
        sys.path.remove(str(EXPERIMENTS))
    assert new_places.main(["--data", str(data), "--cache-root", str(tmp_path), "--settings", "",
                            "--ladder", "--frontier", "--two-scale", "region_weight=1.0"]) == 0
    text = capsys.readouterr().out
    for what in ("heading hold-out, DGAE()", "place hold-out, DGAE()", "gate frontier",
                 "two scales", "joint code"):
        assert what in text, what


def _import(name):
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXPERIMENTS))


def test_head_rules_end_to_end_agrees_with_the_fit(exp, tmp_path, capsys):
    """experiments/head_rules.py recomputes the held-out search with scikit-learn: its 1-SE row
    is the head the fit chose."""
    data = _photo_folder(tmp_path / "photos", n_places=8)
    out = tmp_path / "out"
    assert exp["photos"].main(["--data", str(data), "--protocol", "place", "--out", str(out),
                               "--features", "im2gps", "--n-textons", "8", "--n-jobs", "1",
                               "--no-ablation", "--quiet", "--rows", "LF"]) == 0
    capsys.readouterr()
    assert _import("head_rules").main(["--data", str(data), "--protocol", "place",
                                       "--out", str(out)]) == 0
    text = capsys.readouterr().out
    chose = text.split("the fit chose ")[1].split()[0]
    row = next(line for line in text.splitlines() if line.startswith("1-SE "))
    assert row.split()[1] == chose


def test_head_rules_differ_where_heads_tie():
    """Two heads within a standard error: 'best' takes the higher score, '1-SE' the smaller
    median; a gate that gains on views by losing on new ground is dropped only by the rule
    that spares new ground."""
    rules = _import("head_rules").rules
    kind = np.repeat([0, 1, 2], 4)
    far, near = np.full(12, 3000.0), np.zeros(12)
    a = np.where(np.arange(12) % 4 == 0, 0.0, 3000.0)         # right on 3 of 12
    b = np.where(np.arange(12) % 2 == 0, 400.0, 3000.0)       # in the region on 6 of 12
    gated = np.where(kind == 0, 0.0, far)                      # views right, new ground lost
    options = {"a": (None, {}, a), "b": (None, {}, b), "b|1nn<1": (None, {}, gated),
               "c": (None, {}, np.where(kind == 0, near, far))}
    score, picked = rules(options, kind, np.full(12, 1 / 12), (1.0, 500.0))
    assert [score[k] for k in "abc"] == pytest.approx([0.25, 0.25, 1 / 3])
    assert picked["best"] == "c"
    assert picked["1-SE"] == "b|1nn<1" and picked["1-SE, gate spares new ground"] == "b"


@pytest.mark.parametrize("input_share", [0.0, 0.5])
def test_compressed_codes_rows_search_the_space_fit_chose(exp, monkeypatch, capsys, input_share):
    """``index_rows`` locates the queries in the model's retrieval space (code or code beside
    the input): its exact row is the model's own ``predict``."""
    from dgae import DGAE
    from dgae.metrics import accuracy_at

    cc = importlib.import_module("compressed_codes")
    monkeypatch.setattr(cc, "kinds", lambda: {"exact (float32)": None})
    rng = np.random.default_rng(0)
    gps = np.repeat(rng.uniform(-40, 40, size=(30, 2)), 4, axis=0)
    X = (np.repeat(rng.normal(size=(30, 12)), 4, axis=0) + 0.1 * rng.normal(size=(120, 12)))
    X = X.astype(np.float32)
    model = DGAE(hidden_layer_sizes=(6,), n_components=8, max_iter=3, input_share=input_share,
                 random_state=0).fit(X[:100], gps[:100]).compact()
    cc.index_rows(model, X[100:], gps[100:], (25.0, 2500.0))
    row = capsys.readouterr().out.splitlines()[-1].split()
    acc = accuracy_at(gps[100:], model.predict(X[100:]), (25.0, 2500.0))
    assert [float(v) for v in row[2:4]] == [round(100 * a, 1) for a in acc.values()]
