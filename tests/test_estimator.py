"""DGAE end to end: geo-constraints act on the codes, reproducibility, API, persistence."""
import warnings

import joblib
import numpy as np
from sklearn.exceptions import NotFittedError
import pytest
from sklearn.model_selection import GridSearchCV, GroupKFold

from dgae._scale import fine_scale_km
from dgae.geo import gallery_extent_km
from dgae import DGAE, GeoKNN
from dgae.metrics import geo_scorer

SMALL = dict(hidden_layer_sizes=(12, 6), k1=4, k2=3, max_iter=40, random_state=0, device="cpu")
#: The paper's objective and training on the small problem (Algorithm 1, no early stopping).
PAPER = dict(SMALL, objective="paper", alpha=0.2, beta=0.1, gamma=0.05, optimizer="gd",
             early_stopping=False)
OBJECTIVES = {"whitened": dict(SMALL, early_stopping=False, learning_rate=0.01, max_iter=100),
              "paper": PAPER}
#: Each objective's default codes without the network input.
NO_INPUT = {"whitened": "top", "paper": "all"}


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


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_same_area_term_brings_p_pairs_closer(objective):
    X, gps, _ = _places()
    kw = dict(OBJECTIVES[objective], code_layers=NO_INPUT[objective], beta=0.0, gamma=0.001)
    on = DGAE(**dict(kw, alpha=2.0)).fit(X, gps)
    off = DGAE(**dict(kw, alpha=1e-12)).fit(X, gps)  # same graphs, no pull
    assert on.P_.nnz > 0 and (on.P_ != off.P_).nnz == 0
    assert _pair_ratio(_top_code(on, X), on.P_) < 0.8 * _pair_ratio(_top_code(off, X), on.P_)


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_easy_confusing_term_pushes_q_pairs_apart(objective):
    X, gps, _ = _places()
    kw = dict(OBJECTIVES[objective], code_layers=NO_INPUT[objective], alpha=0.0, gamma=0.001)
    on = DGAE(**dict(kw, beta=2.0)).fit(X, gps)
    off = DGAE(**dict(kw, beta=1e-12)).fit(X, gps)
    assert on.Q_.nnz > 0
    assert _pair_ratio(_top_code(on, X), on.Q_) > 1.2 * _pair_ratio(_top_code(off, X), on.Q_)


def test_fit_attributes_and_loss_curve():
    X, gps, place = _places()
    model = DGAE(**PAPER).fit(X, gps)
    assert [W.shape for W in model.coefs_] == [(10, 12), (12, 6), (6, 12), (12, 10)]
    assert all(isinstance(W, np.ndarray) and W.dtype == np.float32 for W in model.coefs_)
    curve = model.loss_curve_
    assert curve.dtype.names == ("J", "J1", "J2", "J3", "K", "R") and len(curve) == model.n_iter_
    np.testing.assert_allclose(curve["J"], curve["J1"] + 0.2 * curve["J2"] - 0.1 * curve["J3"]
                               + 0.05 * curve["R"], rtol=1e-6)
    assert curve["J"].min() < curve["J"][0]
    assert model.best_iter_ == int(np.argmin(curve["J"]))
    assert model.validation_scores_ is None and model.q_min_km_ == 0.0
    # P pairs live inside a POI, Q pairs across POIs; POIs follow the places
    r, c = model.P_.nonzero()
    assert np.all(model.poi_labels_[r] == model.poi_labels_[c])
    r, c = model.Q_.nonzero()
    assert np.all(model.poi_labels_[r] != model.poi_labels_[c])
    assert len(np.unique(model.poi_labels_)) == len(np.unique(place))


@pytest.mark.filterwarnings("ignore:layer 2. the learned codes barely vary")  # the paper's gamma
def test_transform_codes_layout():
    X, gps, _ = _places()
    model = DGAE(**PAPER).fit(X, gps)
    queries = np.vstack([X[:3], X[:1] + 100.0])  # the last row lies outside the gallery's range
    codes = model.transform(queries)
    assert codes.shape == (4, 10 + 12 + 6) and codes.dtype == np.float32
    scaled = (queries - X.min(0)) / (X.max(0) - X.min(0))
    np.testing.assert_allclose(codes[:3, :10], scaled[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(codes[3, :10], 1.0)  # clipped into [0, 1]
    h1 = 1 / (1 + np.exp(-(codes[:, :10].astype(np.float64) @ model.coefs_[0] + model.intercepts_[0])))
    np.testing.assert_allclose(codes[:, 10:22], h1, rtol=1e-5)
    no_input = DGAE(**PAPER, code_layers="all").fit(X, gps).transform(X)
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
    model = DGAE(**dict(SMALL, batch_size=16, max_iter=10, n_iter_no_change=20)).fit(X, gps)
    assert model.batch_size_ == 16 and model.n_iter_ == 10
    assert DGAE(**SMALL).fit(X, gps).batch_size_ is None  # "auto": small sets are full batch


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_a_clear_error(bad):
    X, gps, _ = _places()
    X[5, 2] = bad
    with pytest.raises(ValueError, match="X row 5 contains NaN or inf"):
        DGAE(**SMALL).fit(X, gps)
    X[5, 2] = 0
    model = DGAE(**SMALL).fit(X, gps)
    Xq = X[:10].copy()
    Xq[3, 0] = bad
    for method in (model.predict, model.transform, model.predict_topk):
        with pytest.raises(ValueError, match="X row 3 contains NaN or inf"):
            method(Xq)
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
        assert model.set_head(head).predict(X).shape == (len(X), 2)


def test_joblib_round_trip_gives_identical_predictions(tmp_path):
    X, gps, _ = _places()
    model = DGAE(**SMALL, knn=GeoKNN(head="meanshift", n_neighbors=10,
                                     meanshift_bandwidth_km="auto")).fit(X, gps)
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
    # the region pairs too (multi-scale P): the new photos join regions, their rows sum to 1
    assert model.region_miner_ is not None and len(model.region_labels_) == n_all
    sums = np.asarray(model.P_[n_old:].sum(axis=1)).ravel()
    np.testing.assert_allclose(sums[sums > 0], 1.0, rtol=1e-6)
    # the new photos are retrievable
    np.testing.assert_array_equal(model.predict(X[new]), model.gallery_gps_[n_old:])


@pytest.mark.parametrize("early_stopping", [False, True])
def test_ae_baseline_builds_no_graphs(early_stopping):
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, alpha=0.0, beta=0.0, early_stopping=early_stopping)).fit(X, gps)
    assert model.P_.nnz == 0 and model.Q_.nnz == 0
    # POIs are mined only for early stopping's held-out score
    assert (model.poi_miner_ is None) == (not early_stopping)
    assert np.all(model.loss_curve_["J2"] == 0)


def test_keyboard_interrupt_leaves_no_trained_model(monkeypatch):
    import dgae._autoencoder._training as ae

    X, gps, _ = _places()
    calls = {"n": 0}
    real = ae.objective

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ae, "objective", interrupted)
    model = DGAE(**SMALL)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, gps)
    assert not hasattr(model, "coefs_")
    with pytest.raises(NotFittedError):
        model.predict(X)


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
        model = DGAE(**dict(PAPER, gamma=gamma)).fit(X, gps)
    spread = _top_code(model, X).std(axis=0).mean()
    warned = any("barely vary" in str(w.message) for w in caught)
    assert warned == collapses
    assert (spread < 1e-3) == collapses  # the warning tells the truth about the codes


# ------------------------------------------------------------ the default objective
def _split_views(n_places=24, n_views=4, d=24, seed=0):
    """Places seen under strong nuisance (view, light) spanning a few shared directions.

    Each photo: its place's signature + a random mix of 3 nuisance directions
    (3x stronger) + noise.  Raw features retrieve photos of the same nuisance
    (LF fails); what the geotags teach is to discount those directions.
    Returns gallery (views 1..) and queries (view 0 of every place).
    """
    rng = np.random.default_rng(seed)
    centres = np.column_stack([rng.uniform(-50, 50, n_places), rng.uniform(-170, 170, n_places)])
    place = np.repeat(np.arange(n_places), n_views)
    nuisance = rng.normal(size=(place.size, 3)) @ rng.normal(size=(3, d))
    X = rng.normal(size=(n_places, d))[place] + 3.0 * nuisance + 0.3 * rng.normal(size=(place.size, d))
    gps = centres[place] + rng.normal(0, 0.001, (place.size, 2))
    query = np.arange(0, place.size, n_views)
    gallery = np.setdiff1d(np.arange(place.size), query)
    X = X.astype(np.float32)
    return X[gallery], gps[gallery], X[query], gps[query]


def test_default_dgae_beats_the_autoencoder_baseline():
    """DGAE() as shipped (objective, optimiser, alpha/beta, early stopping), small layers."""
    from dgae.metrics import geolocation_errors_km

    Xg, gg, Xq, gq = _split_views()
    small = dict(hidden_layer_sizes=(64, 16), random_state=0, device="cpu")
    dgae = DGAE(**small).fit(Xg, gg)
    ae = DGAE(**small, alpha=0.0, beta=0.0, knn=GeoKNN(), input_share=0.0).fit(Xg, gg)  # paper AE
    lf = GeoKNN().fit(Xg, gg)
    hit = {name: np.mean(geolocation_errors_km(gq, m.predict(Xq)) <= 1) for name, m in
           (("dgae", dgae), ("ae", ae), ("lf", lf))}
    assert hit["dgae"] >= hit["ae"] + 0.05 and hit["dgae"] >= hit["lf"] + 0.5, hit
    assert dgae.objective == "whitened" and dgae.optimizer == "adam"


def test_diagnostics_show_the_pull_and_the_push():
    """With all else fixed, alpha lowers the P-pair ratio and beta raises the Q-pair ratio."""
    Xg, gg, _, _ = _split_views()
    small = dict(hidden_layer_sizes=(32, 8), random_state=0, device="cpu", early_stopping=False,
                 max_iter=100)
    default = DGAE(**small).fit(Xg, gg).diagnostics_
    no_pull = DGAE(**small, alpha=0.0).fit(Xg, gg).diagnostics_
    no_push = DGAE(**small, beta=0.0).fit(Xg, gg).diagnostics_
    assert list(default["width"]) == [Xg.shape[1], 32, 8]
    assert default["p_ratio"][-1] < no_pull["p_ratio"][-1]
    assert default["q_ratio"][-1] > no_push["q_ratio"][-1]
    assert np.all(default["spread"] > 0) and np.all(default["effective_dim"] >= 1)


def test_q_pairs_respect_the_distance_floor():
    from dgae.geo import great_circle_km

    X, gps, _ = _places()
    gps[1::2] = gps[1::2] + [0.0, 0.1]  # half of each place's photos 8 km away: another POI
    auto = fine_scale_km(gallery_extent_km(gps))          # the gallery's own scale
    assert auto == 200.0                                  # places spread over the world
    for floor, expected in (("auto", auto), (0.0, 0.0), (500.0, 500.0)):
        model = DGAE(**dict(SMALL, q_min_km=floor, max_iter=2)).fit(X, gps)
        s, t = model.Q_.nonzero()
        assert model.q_min_km_ == expected and s.size
        assert great_circle_km(gps[s], gps[t]).min() >= expected
    close = DGAE(**dict(SMALL, q_min_km=0.0, max_iter=2)).fit(X, gps).Q_
    s, t = close.nonzero()
    assert great_circle_km(gps[s], gps[t]).min() < 25  # without a floor, the next POI is in Q


@pytest.mark.parametrize("patience, batch_size, waited", [(5, "auto", 5), ("auto", "auto", 20),
                                                         ("auto", 32, 5)])
def test_early_stopping_keeps_the_best_validated_weights(patience, batch_size, waited):
    """``n_iter_no_change="auto"``: 20 full-batch iterations, 5 mini-batch epochs."""
    Xg, gg, _, _ = _split_views()
    model = DGAE(hidden_layer_sizes=(16, 8), random_state=0, device="cpu", max_iter=200,
                 n_iter_no_change=patience, batch_size=batch_size).fit(Xg, gg)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_ == len(model.loss_curve_) < 200
    assert model.best_iter_ == int(np.argmax(scores)) and model.best_validation_score_ == scores.max()
    assert model.n_iter_ - 1 - model.best_iter_ == waited


@pytest.mark.parametrize("head", ["auto", "1nn"])
def test_a_gallery_too_small_to_hold_out_gives_no_made_up_confidence(head):
    """Three photos of one place: nothing is held out, so head="auto" has nothing to calibrate
    the confidence on and says it is unknown (NaN) instead of the neighbours' vote share (1/3
    for every photo); a fixed head keeps its documented vote share."""
    import warnings

    X, gps, _ = _places(n_places=8, per_place=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = DGAE(**SMALL, knn=GeoKNN(head=head)).fit(X[:3], gps[:3], groups=[0, 0, 0])
    said = " ".join(str(w.message) for w in caught)
    assert "early_stopping=" not in said  # no parameter the command line does not have
    conf = model.predict_details(X[:3]).confidence
    if head == "auto":
        assert np.isnan(conf).all() and "confidence is unknown" in said
    else:
        assert np.isfinite(conf).all() and (conf > 0).all()


@pytest.mark.parametrize("widths", [(16, 8), (64, 16)])
def test_codes_and_predictions_do_not_depend_on_how_queries_are_batched(widths):
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, hidden_layer_sizes=widths)).fit(X, gps)
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_array_equal(model.transform(X)[order], model.transform(X[order]))
    batches = np.vstack([model.predict(X[i:i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_array_equal(batches, model.predict(X))


def test_a_refit_chooses_again_as_a_fresh_fit_does():
    """Refitting a fitted model (other parameters) is a fresh fit: its retrieval space and head
    are chosen again (a refit used to keep the old space for the gallery index)."""
    X, gps, place = _places()
    model = DGAE(**dict(SMALL, input_share=0.5)).fit(X, gps, groups=place)
    model.set_params(input_share=0.0).fit(X, gps, groups=place)
    fresh = DGAE(**dict(SMALL, input_share=0.0)).fit(X, gps, groups=place)
    assert model.retrieval_space_ == fresh.retrieval_space_ == "code"
    np.testing.assert_array_equal(model.predict(X), fresh.predict(X))


def test_early_stopping_needs_two_places():
    X, gps, place = _places(n_places=8, per_place=2)
    with pytest.warns(UserWarning, match="early stopping skipped"):
        model = DGAE(**SMALL).fit(X[:3], gps[:3], groups=[0, 0, 0])      # one place, 3 photos
    assert model.validation_scores_ is None and model.head_scores_ == {}
    one = DGAE(**SMALL).fit(X, gps, groups=np.zeros(len(X), int))      # one place: views only
    assert one.validation_indices_.size == one.region_indices_.size == 0   # no region: it would
    assert one.view_indices_.size > 0                                   # take the one place
    assert one.validation_scores_ is not None                  # the head chosen on the views
    assert one.head_label_.split("|")[0] == max(one.head_scores_, key=one.head_scores_.get)
    model = DGAE(**SMALL).fit(X, gps, groups=place)                       # eight: held out whole
    assert model.validation_scores_ is not None
    assert set(place[model.validation_indices_]).isdisjoint(place[model.training_indices_])


def test_whitened_codes_are_the_linear_code_layer_over_pca_whitened_inputs():
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, n_components=6, whiten_shrinkage=0.0, max_iter=5)).fit(X, gps)
    Z = model.scaler_.transform(X)
    np.testing.assert_allclose(Z.std(axis=0, ddof=1), 1.0, rtol=1e-6)  # whitened
    h1 = 1 / (1 + np.exp(-(Z @ model.coefs_[0] + model.intercepts_[0])))
    np.testing.assert_allclose(model.transform(X), h1 @ model.coefs_[1] + model.intercepts_[1],
                               rtol=1e-4, atol=1e-5)
    assert model.transform(X).shape == (len(X), 6)


@pytest.mark.parametrize("objective, resolved", [("whitened", "top"), ("paper", "input+all")])
def test_a_fitted_value_keeps_the_parameters_vocabulary(objective, resolved):
    X, gps, _ = _places()
    model = DGAE(**dict(SMALL, max_iter=2, objective=objective)).fit(X, gps)
    assert model.code_layers_ == resolved
    assert model.code_layers_ in DGAE._parameter_constraints["code_layers"][0].options


def test_poi_bandwidth_auto_shrinks_on_a_small_extent():
    X, gps, _ = _places()
    paper_km = 0.005 * np.pi / 180 * 6371.004  # the paper's 0.005 degrees, in km
    model = DGAE(**dict(SMALL, max_iter=2)).fit(X, gps)
    assert model.poi_bandwidth_km_ == pytest.approx(paper_km, rel=1e-12)
    assert model.poi_miner_.bandwidth_km_ == model.poi_bandwidth_km_  # one unit throughout
    town = 48.85 + (gps - gps.mean(axis=0)) * 1e-4  # the same layout squeezed into a few hundred m
    model = DGAE(**dict(SMALL, max_iter=2)).fit(X, town)
    assert model.poi_bandwidth_km_ < paper_km and model.poi_miner_.n_clusters_ == 8
    given = DGAE(**dict(SMALL, max_iter=2, poi_bandwidth_km=2.0)).fit(X, gps)
    assert given.poi_miner_.bandwidth_km == 2.0


@pytest.mark.parametrize("n", [1, 999, 5000])
def test_whitening_column_variance_in_chunks(n):
    from dgae._whitening import _column_variance

    X = (np.random.default_rng(n).normal(size=(n, 5)) * [1, 10, 0.1, 0, 3] + 7).astype(np.float32)
    np.testing.assert_allclose(_column_variance(X), np.var(X, axis=0, dtype=np.float64),
                               rtol=1e-9, atol=1e-12)


def test_shrunk_whitening_fits_a_subsample_above_the_row_cap(monkeypatch):
    from dgae import _whitening

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 6)) * [8.0, 4.0, 2.0, 1.0, 0.5, 0.25]
    full = _whitening.ShrunkWhitening(n_components=3, random_state=0).fit(X)
    monkeypatch.setattr(_whitening, "FIT_MAX_ROWS", 1000)
    sub = _whitening.ShrunkWhitening(n_components=3, random_state=0).fit(X)
    assert sub.pca_.n_samples_ == 1000 and full.pca_.n_samples_ == 4000
    # well-separated components: the subsample finds the same axes and variances
    np.testing.assert_allclose(np.abs(sub.pca_.components_), np.abs(full.pca_.components_), atol=0.05)
    np.testing.assert_allclose(sub.pca_.explained_variance_, full.pca_.explained_variance_, rtol=0.1)


@pytest.mark.parametrize("shrinkage", [0.0, 1.0, 10.0])
def test_shrunk_whitening_against_pca(shrinkage):
    from sklearn.decomposition import PCA

    from dgae._whitening import ShrunkWhitening

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    Z = ShrunkWhitening(n_components=6, shrinkage=shrinkage, random_state=0).fit_transform(X)
    pca = PCA(n_components=6, random_state=0).fit(X)
    ev = pca.explained_variance_
    expected = pca.transform(X) / np.sqrt(ev + shrinkage * ev.mean())
    expected *= np.sqrt(6 / np.sum(ev / (ev + shrinkage * ev.mean())))
    np.testing.assert_allclose(Z, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1).mean(), 1.0, rtol=1e-8)
    if shrinkage == 0:
        np.testing.assert_allclose(Z, PCA(6, whiten=True, random_state=0).fit_transform(X),
                                   rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("change", [{"code_layers": "all"}, {"hidden_layer_sizes": (8, 4, 2)},
                                    {"code_layers": "input+top"}, {"objective": "paper"}])
def test_set_params_after_fit_does_not_change_the_codes(change):
    """transform reads what fit resolved, not the hyper-parameters set afterwards."""
    rng = np.random.default_rng(0)
    X = rng.random((60, 6)).astype(np.float32)
    gps = np.c_[45 + rng.integers(0, 3, 60) + rng.normal(0, 1e-3, 60), 15 + rng.normal(0, 1e-3, 60)]
    model = DGAE(hidden_layer_sizes=(6, 3), max_iter=3, random_state=0).fit(X, gps)
    before = model.transform(X)
    model.set_params(**change)
    np.testing.assert_array_equal(model.transform(X), before)
    assert model.transform(X).shape == (60, 3)


def test_retrieval_is_a_geoknn_given_or_built():
    """DGAE's retrieval is a GeoKNN (scikit-learn's estimator= pattern): built from index /
    device, or the one given (cloned); it carries the chosen head, so it predicts as DGAE."""
    from dgae.graphs import IVFIndex

    X, gps, _ = _places()
    model = DGAE(**SMALL).fit(X, gps)
    assert model.knn_.index == "exact" and model.knn_.head_ == model.head_
    np.testing.assert_array_equal(model.knn_.predict(model.retrieval_features(X)), model.predict(X))
    given = GeoKNN(index=IVFIndex(n_lists=4, n_probe=4, random_state=0))
    model = DGAE(**SMALL, knn=given).fit(X, gps)
    assert model.knn_ is not given and isinstance(model.knn_.index_, IVFIndex)
    assert not hasattr(given, "index_")                       # cloned, not fitted in place
    np.testing.assert_array_equal(model.knn_.predict(model.retrieval_features(X)), model.predict(X))
    model.set_head("kde")
    np.testing.assert_array_equal(model.knn_.predict(model.retrieval_features(X)), model.predict(X))


def test_the_head_is_the_retrievals():
    """The head settings come from the GeoKNN given (``knn=``); the head state lives in
    ``knn_`` alone, and ``predict`` is ``knn_.predict`` on the retrieval features."""
    X, gps, _ = _places()
    knn = GeoKNN(head="kde", kde_sigma_km=200.0, n_neighbors=7)
    model = DGAE(**SMALL, knn=knn).fit(X, gps)
    assert model.head_ == model.knn_.head_ == "kde" and model.n_neighbors_ == 7
    assert model.head_params_ is model.knn_.head_params_
    assert model.head_params_["kde_sigma_km"] == 200.0
    np.testing.assert_array_equal(model.predict(X), model.knn_.predict(model.retrieval_features(X)))
    assert knn.get_params()["head"] == "kde" and not hasattr(knn, "head_")  # cloned, not fitted
    default = DGAE(**SMALL).fit(X, gps)
    assert default.knn is None and default.fit_params_["knn"].get_params()["head"] == "auto"


def test_a_solver_sets_the_optimiser():
    """``optimizer=Solver(...)`` reaches training: heavy-ball SGD without momentum is the plain
    gradient step at the same rate and decay; a huge tolerance stops at once; the settings nest
    as scikit-learn parameters."""
    from dgae.autoencoder import Solver

    X, gps, _ = _places()
    kw = dict(SMALL, early_stopping=False, learning_rate=0.5, max_iter=6)
    gd = DGAE(**kw, optimizer="gd").fit(X, gps)
    sgd = DGAE(**kw, optimizer=Solver("sgd", momentum=0.0)).fit(X, gps)
    for a, b in zip(gd.coefs_, sgd.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert DGAE(**kw, optimizer=Solver(tol=1e9)).fit(X, gps).n_iter_ < 6
    model = DGAE(optimizer=Solver()).set_params(optimizer__momentum=0.5)
    assert model.optimizer.momentum == 0.5
    with pytest.raises(ValueError, match="momentum"):
        DGAE(**kw, optimizer=Solver(momentum=2.0)).fit(X, gps)
