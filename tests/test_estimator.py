"""DGAE end to end: geo-constraints act on the codes, reproducibility, API, persistence."""
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, GroupKFold

from dgae import DGAE
from dgae._backend import gpu_available
from dgae.metrics import geo_scorer

SMALL = dict(hidden_layer_sizes=(12, 6), k1=4, k2=3, max_iter=40, random_state=0, device="cpu")


def _places(n_places=8, per_place=8, d=10, seed=0):
    """Photos of places: a place signature plus strong per-photo nuisance; distant places
    share scene types, so low-level features confuse them (the situation DGAE is for)."""
    rng = np.random.default_rng(seed)
    centres = np.column_stack([rng.uniform(-50, 50, n_places), rng.uniform(-170, 170, n_places)])
    place = np.repeat(np.arange(n_places), per_place)
    scene = rng.integers(0, 3, place.size)
    X = (0.6 * rng.random((n_places, d))[place] + 0.8 * rng.random((3, d))[scene]
         + 0.4 * rng.random((place.size, d)))
    gps = centres[place] + rng.normal(0, 0.001, (place.size, 2))
    return X.astype(np.float32), gps, place


def _pair_ratio(codes, A):
    """Mean squared code distance over the pairs of A, relative to all pairs."""
    r, c = A.nonzero()
    pair = np.mean(np.sum((codes[r] - codes[c]) ** 2, axis=1))
    allp = np.mean(np.sum((codes[:, None] - codes[None]) ** 2, axis=2))
    return pair / allp


def _top_code(model, X):
    return model.transform(X)[:, -model.coefs_[len(model.coefs_) // 2 - 1].shape[1]:]


def test_same_area_term_brings_p_pairs_closer():
    X, gps, _ = _places()
    kw = dict(SMALL, include_input=False, beta=0.0, gamma=0.001)
    on = DGAE(alpha=2.0, **kw).fit(X, gps)
    off = DGAE(alpha=1e-12, **kw).fit(X, gps)  # same graphs, no pull
    assert on.P_.nnz > 0 and (on.P_ != off.P_).nnz == 0
    assert _pair_ratio(_top_code(on, X), on.P_) < 0.8 * _pair_ratio(_top_code(off, X), on.P_)


def test_easy_confusing_term_pushes_q_pairs_apart():
    X, gps, _ = _places()
    kw = dict(SMALL, include_input=False, alpha=0.0, gamma=0.001)
    on = DGAE(beta=2.0, **kw).fit(X, gps)
    off = DGAE(beta=1e-12, **kw).fit(X, gps)
    assert on.Q_.nnz > 0
    assert _pair_ratio(_top_code(on, X), on.Q_) > 1.2 * _pair_ratio(_top_code(off, X), on.Q_)


def test_fit_attributes_and_loss_curve():
    X, gps, place = _places()
    model = DGAE(**SMALL).fit(X, gps)
    assert [W.shape for W in model.coefs_] == [(10, 12), (12, 6), (6, 12), (12, 10)]
    assert all(isinstance(W, np.ndarray) and W.dtype == np.float32 for W in model.coefs_)
    curve = model.loss_curve_
    assert curve.dtype.names == ("J", "J1", "J2", "J3", "R") and len(curve) == model.n_iter_
    np.testing.assert_allclose(curve["J"], curve["J1"] + 0.2 * curve["J2"] - 0.1 * curve["J3"]
                               + 0.05 * curve["R"], rtol=1e-6)
    assert curve["J"].min() < curve["J"][0]
    assert model.best_iter_ == int(np.argmin(curve["J"]))
    # P pairs live inside a POI, Q pairs across POIs; POIs follow the places
    r, c = model.P_.nonzero()
    assert np.all(model.poi_labels_[r] == model.poi_labels_[c])
    r, c = model.Q_.nonzero()
    assert np.all(model.poi_labels_[r] != model.poi_labels_[c])
    assert len(np.unique(model.poi_labels_)) == len(np.unique(place))


def test_transform_codes_layout():
    X, gps, _ = _places()
    model = DGAE(**SMALL).fit(X, gps)
    queries = np.vstack([X[:3], X[:1] + 100.0])  # the last row lies outside the gallery's range
    codes = model.transform(queries)
    assert codes.shape == (4, 10 + 12 + 6) and codes.dtype == np.float32
    scaled = (queries - X.min(0)) / (X.max(0) - X.min(0))
    np.testing.assert_allclose(codes[:3, :10], scaled[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(codes[3, :10], 1.0)  # clipped into [0, 1]
    h1 = 1 / (1 + np.exp(-(codes[:, :10].astype(np.float64) @ model.coefs_[0] + model.intercepts_[0])))
    np.testing.assert_allclose(codes[:, 10:22], h1, rtol=1e-5)
    no_input = DGAE(**SMALL, include_input=False).fit(X, gps).transform(X)
    np.testing.assert_allclose(no_input, model.transform(X)[:, 10:], rtol=1e-6)


def test_same_random_state_gives_identical_results():
    X, gps, _ = _places()
    a = DGAE(**SMALL).fit(X, gps)
    b = DGAE(**SMALL).fit(X, gps)
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(Wa, Wb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = DGAE(**dict(SMALL, random_state=1)).fit(X, gps)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_minibatch_sgd_fit_and_auto_batch_size():
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, batch_size=16, max_iter=10)).fit(X, gps)
    assert model.batch_size_ == 16 and model.n_iter_ == 10
    assert DGAE(**SMALL).fit(X, gps).batch_size_ is None  # "auto": small sets are full batch


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_a_clear_error(bad):
    X, gps, _ = _places()
    X[5, 2] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        DGAE(**SMALL).fit(X, gps)
    X[5, 2] = 0
    gps = gps.copy()
    gps[7, 0] = bad
    with pytest.raises(ValueError, match="row 7"):
        DGAE(**SMALL).fit(X, gps)


def test_targets_must_be_gps_pairs():
    X, gps, _ = _places()
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        DGAE(**SMALL).fit(X, gps[:, 0])
    with pytest.raises(ValueError, match="rows"):
        DGAE(**SMALL).fit(X, gps[:-1])


def test_predictions_heads_topk_and_score():
    X, gps, _ = _places()
    model = DGAE(**SMALL).fit(X, gps)
    pred = model.predict(X)
    assert pred.shape == (len(X), 2)
    top = model.predict_topk(X, k=5)
    assert top.shape == (len(X), 5, 2)
    np.testing.assert_array_equal(top[:, 0], pred)  # 1nn = the first of the top-k
    assert model.score(X, gps) == 1.0  # each gallery photo finds itself
    for head in ("meanshift", "kde"):
        assert model.set_params(head=head).predict(X).shape == (len(X), 2)


def test_joblib_round_trip_gives_identical_predictions(tmp_path):
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, head="meanshift", n_neighbors=10)).fit(X, gps)
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict(X[:20]), model.predict(X[:20]))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_grid_search_with_geo_scorer_and_poi_groups():
    X, gps, place = _places()
    # POIs are the groups: photos of a test POI are never in the training gallery
    search = GridSearchCV(DGAE(**dict(SMALL, max_iter=10)), {"alpha": [0.0, 0.5], "beta": [0.0, 0.2]},
                          scoring=geo_scorer(200), cv=GroupKFold(n_splits=2))
    search.fit(X, gps, groups=place)
    assert set(search.cv_results_["param_alpha"]) == {0.0, 0.5}
    assert np.all((search.cv_results_["mean_test_score"] >= 0) & (search.cv_results_["mean_test_score"] <= 1))
    assert hasattr(search.best_estimator_, "coefs_")


def test_partial_fit_adds_photos_to_pois_and_gallery():
    X, gps, place = _places(n_places=8, per_place=8)
    old = place < 6
    model = DGAE(**SMALL).fit(X[old], gps[old])
    n_old, n_iter = int(old.sum()), model.n_iter_
    pois_before = model.poi_labels_.copy()
    # new photos of a known place and of two unseen places
    new = np.flatnonzero(~old | (np.arange(len(X)) % 8 == 0) & old)
    model.partial_fit(X[new], gps[new])
    n_all = n_old + len(new)
    assert model.P_.shape == model.Q_.shape == (n_all, n_all) and len(model.gallery_gps_) == n_all
    assert model.n_iter_ == n_iter + 1 and len(model.loss_curve_) == model.n_iter_
    np.testing.assert_array_equal(model.poi_labels_[:n_old], pois_before)
    labels_new = model.poi_labels_[n_old:]
    known = old[new]
    # photos of known places join their place's POI, unseen places get new POIs
    np.testing.assert_array_equal(labels_new[known], pois_before[np.searchsorted(np.flatnonzero(old), new[known])])
    assert set(labels_new[~known]).isdisjoint(pois_before) and len(set(labels_new[~known])) == 2
    r, c = model.P_[n_old:].nonzero()
    assert r.size and np.all(labels_new[r] == model.poi_labels_[c]) and np.all(c != r + n_old)
    assert np.all(np.diff(model.P_[n_old:].indptr) <= SMALL["k1"])
    r, c = model.Q_[n_old:].nonzero()
    assert r.size and np.all(labels_new[r] != model.poi_labels_[c])
    # the new photos are retrievable
    np.testing.assert_array_equal(model.predict(X[new]), model.gallery_gps_[n_old:])


def test_ae_baseline_builds_no_graphs():
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, alpha=0.0, beta=0.0)).fit(X, gps)
    assert model.P_.nnz == 0 and model.Q_.nnz == 0 and model.poi_miner_ is None
    assert np.all(model.loss_curve_["J2"] == 0)


def test_keyboard_interrupt_keeps_best_weights(monkeypatch):
    import dgae._autoencoder as ae

    X, gps, _ = _places()
    calls = {"n": 0}
    real = ae.objective

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ae, "objective", interrupted)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model = DGAE(**SMALL).fit(X, gps)
    assert model.n_iter_ == 5 and model.predict(X).shape == (len(X), 2)


@pytest.mark.gpu
def test_gpu_and_cpu_agree():
    X, gps, _ = _places()
    cpu = DGAE(**dict(SMALL, device="cpu", max_iter=10)).fit(X, gps)
    gpu = DGAE(**dict(SMALL, device="gpu", max_iter=10)).fit(X, gps)
    assert (cpu.P_ != gpu.P_).nnz == 0 and (cpu.Q_ != gpu.Q_).nnz == 0
    for a, b in zip(cpu.coefs_ + cpu.intercepts_, gpu.coefs_ + gpu.intercepts_):
        assert isinstance(b, np.ndarray)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(cpu.loss_curve_["J"], gpu.loss_curve_["J"], rtol=1e-4)
    np.testing.assert_allclose(cpu.transform(X), gpu.transform(X), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("gamma, collapses", [(1.0, True), (1e-4, False)])
def test_warns_when_weight_decay_collapses_the_codes(gamma, collapses):
    X, gps, _ = _places()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = DGAE(**dict(SMALL, gamma=gamma)).fit(X, gps)
    spread = _top_code(model, X).std(axis=0).mean()
    warned = any("barely vary" in str(w.message) for w in caught)
    assert warned == collapses
    assert (spread < 1e-3) == collapses  # the warning tells the truth about the codes
