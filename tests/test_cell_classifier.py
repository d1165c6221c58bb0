"""CellClassifier against the same partition and classifier run by hand."""
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from dgae import CellClassifier
from dgae.cells import LatLonCells, S2Cells


def _cities(seed=0, n=60):
    rng = np.random.default_rng(seed)
    centres = np.array([[45.8, 16.0], [35.7, 139.7], [-33.9, 151.2], [40.7, -74.0]])
    city = np.repeat(np.arange(4), n)
    gps = centres[city] + rng.normal(0, 0.02, (4 * n, 2))
    X = (np.eye(4)[city] * 2 + rng.normal(0, 0.5, (4 * n, 4))).astype(np.float32)  # as fitted
    return X, gps, city


@pytest.mark.parametrize("label_location", ["imagery_centroid", "cell_center"])
@pytest.mark.parametrize("partition", [S2Cells(max_per_cell=40, min_per_cell=3),
                                       LatLonCells(max_per_cell=40)])
def test_matches_the_partition_and_classifier_by_hand(partition, label_location):
    X, gps, _ = _cities()
    clf = LogisticRegression(max_iter=500)
    model = CellClassifier(partition=partition, classifier=clf,
                           label_location=label_location).fit(X[::2], gps[::2])
    # by hand: fit the partition, keep the photos it covers, fit the classifier on cell ids
    part = partition.__class__(**partition.get_params()).fit(gps[::2])
    cells = part.predict(gps[::2])
    keep = cells >= 0
    ref = LogisticRegression(max_iter=500).fit(X[::2][keep], cells[keep])
    points = part.imagery_centroids_ if label_location == "imagery_centroid" else part.centers_
    expected = points[ref.predict(X[1::2])]
    np.testing.assert_allclose(model.predict(X[1::2]), expected)
    proba = model.predict_proba(X[1::2])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(proba, ref.predict_proba(X[1::2]))
    top = model.predict_topk(X[1::2], k=3)
    np.testing.assert_allclose(top[:, 0], model.predict(X[1::2]))
    order = np.argsort(-ref.predict_proba(X[1::2]), axis=1, kind="stable")[:, :3]
    np.testing.assert_allclose(top, points[ref.classes_[order]])


def test_default_locates_the_cities_and_round_trips(tmp_path):
    X, gps, city = _cities(1)
    model = CellClassifier().fit(X, gps)
    from dgae.metrics import geolocation_errors_km

    err = geolocation_errors_km(gps, model.predict(X))
    assert np.median(err) < 25
    path = tmp_path / "m.joblib"
    joblib.dump(model, path)
    np.testing.assert_array_equal(joblib.load(path).predict(X), model.predict(X))


def test_one_cell_and_no_cell():
    X, gps, _ = _cities(2, n=10)
    one = CellClassifier(partition=LatLonCells(max_per_cell=10_000)).fit(X, gps)
    assert one.classifier_ is None and one.predict(X[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="kept no cell"):
        CellClassifier(partition=S2Cells(max_per_cell=5, min_per_cell=1000)).fit(X, gps)


def test_any_classifier_with_probabilities():
    X, gps, _ = _cities(3)
    model = CellClassifier(classifier=KNeighborsClassifier(3)).fit(X, gps)
    assert model.predict_proba(X[:5]).shape == (5, len(model.classes_))


def test_evaluate_methods_takes_a_direct_predictor():
    from dgae._demo import evaluate_methods
    from dgae.metrics import geolocation_errors_km

    X, gps, _ = _cities(4)
    model = CellClassifier(partition=LatLonCells(max_per_cell=40))
    res = evaluate_methods({"cells": model}, X[::2], gps[::2], X[1::2], gps[1::2],
                           heads=("1nn", "kde"))
    expected = geolocation_errors_km(gps[1::2], res["estimators"]["cells"].predict(X[1::2]))
    for head in ("1nn", "kde"):
        np.testing.assert_allclose(res["errors"][f"cells {head}"], expected)


def test_multi_is_one_single_partition_model_per_partition():
    X, gps, _ = _cities(2)
    parts = [LatLonCells(max_per_cell=200), LatLonCells(max_per_cell=30), S2Cells(max_per_cell=60)]
    multi = CellClassifier(partition=parts).fit(X, gps)
    singles = [CellClassifier(partition=p).fit(X, gps) for p in parts]
    each = multi.predict_each(X[:7])
    assert each.shape == (3, 7, 2)
    for out, single in zip(each, singles):
        np.testing.assert_allclose(out, single.predict(X[:7]))
    finest = max(singles, key=lambda m: len(m.classes_))
    np.testing.assert_allclose(multi.predict(X[:7]), finest.predict(X[:7]))
    # the representation: each partition's centred log probabilities, side by side
    blocks = [np.log(np.maximum(m.predict_proba(X[:7]), 1e-12)) for m in singles]
    expected = np.hstack([b - b.mean(axis=1, keepdims=True) for b in blocks])
    np.testing.assert_allclose(multi.transform(X[:7]), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="empty list"):
        CellClassifier(partition=[]).fit(X, gps)


def test_classification_retrieval_is_the_pipeline_and_restricts_to_top_cells():
    from sklearn.pipeline import make_pipeline

    from dgae import ClassificationRetrieval, GeoKNN

    X, gps, _ = _cities(3)
    cc = CellClassifier(partition=LatLonCells(max_per_cell=20))
    q, g = np.arange(0, 240, 5), np.setdiff1d(np.arange(240), np.arange(0, 240, 5))
    model = ClassificationRetrieval(cc, GeoKNN()).fit(X[g], gps[g])
    pipe = make_pipeline(cc, GeoKNN()).fit(X[g], gps[g])
    np.testing.assert_allclose(model.predict(X[q]), pipe.predict(X[q]))
    # brute force: the nearest gallery photo (representation space) among the top-2 cells
    model.set_params(top_cells=2).fit(X[g], gps[g])
    Zq, Zg = model.transform(X[q]), model.knn_.features_
    top = np.argsort(-model.cell_classifier_.predict_proba(X[q]), axis=1, kind="stable")[:, :2]
    expected = []
    for z, t in zip(Zq, top):
        d = np.linalg.norm(Zg - z, axis=1)
        d[~np.isin(model.gallery_cells_, t)] = np.inf
        expected.append(gps[g][np.argmin(d)])
    np.testing.assert_allclose(model.predict(X[q]), expected)
    n_cells = len(model.cell_classifier_.classes_)
    np.testing.assert_allclose(model.set_params(top_cells=n_cells).fit(X[g], gps[g]).predict(X[q]),
                               pipe.predict(X[q]))
