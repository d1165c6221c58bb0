"""New places: held-out places, the gallery's scales, head="auto", the calibrated confidence."""
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from dgae import DGAE, KNN_DEFAULTS, GeoKNN
from dgae.utils import EARTH_RADIUS_KM, great_circle_km
from dgae._heads import DEFAULT_K, apply_head
from dgae._scale import fine_scale_km, gallery_scales, thresholds_for_extent
from dgae._heads import match_ratio
from dgae._selection import GATE_QUANTILES, ConfidenceCalibrator, place_validation_split
from dgae.geo import gallery_extent_km
from dgae.metrics import mean_accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_place_split_never_puts_a_validation_place_in_training(seed, fraction):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 40, 300)
    train, val = place_validation_split(groups, fraction, seed)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(300))
    for g in np.unique(groups[val]):            # brute force: every photo of a held-out place
        assert not np.any(groups[train] == g)
    assert len(np.unique(groups[train])) >= 1
    # places are taken whole until the share is reached: one place fewer would fall short
    sizes = {g: int(np.sum(groups == g)) for g in np.unique(groups[val])}
    assert len(val) >= round(fraction * 300) > len(val) - max(sizes.values())
    np.testing.assert_array_equal(val, place_validation_split(groups, fraction, seed)[1])


@pytest.mark.parametrize("cap", [20, 100, 10_000])
def test_held_out_photos_are_capped_whatever_the_fraction(cap):
    from dgae._selection import held_out_split

    groups = np.repeat(np.arange(500), 4)       # 2,000 photos of 500 places
    train, places, views, regions = held_out_split(groups, 0.2, 0, max_photos=cap)
    want = min(0.2 * 2000, cap) / 2             # per kind (no regions given: two kinds)
    assert regions.size == 0
    assert want <= len(places) < want + 4       # the last place is taken whole
    assert len(views) == round(want)
    assert set(groups[places]).isdisjoint(groups[train])
    assert len(train) + len(places) + len(views) == 2000


def test_place_split_of_a_single_place_is_empty():
    train, val = place_validation_split(np.zeros(10, int), 0.5, 0)
    assert val.size == 0 and train.size == 10


def _ring(centre, radius_km, n=40):
    """n points radius_km (great circle) from centre: their extent is radius_km."""
    lat0, lon0 = np.radians(centre)
    d = radius_km / EARTH_RADIUS_KM
    b = np.linspace(0, 2 * np.pi, n, endpoint=False)
    lat = np.arcsin(np.sin(lat0) * np.cos(d) + np.cos(lat0) * np.sin(d) * np.cos(b))
    lon = lon0 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(lat0),
                            np.cos(d) - np.sin(lat0) * np.sin(lat))
    return np.degrees(np.column_stack([lat, lon]))


@pytest.mark.parametrize("radius_km, thresholds, fine, sigmas", [
    (1.0, (0.1, 0.25, 0.5, 1.0, 5.0), 0.1, (0.1, 0.25, 0.5, 1.0)),              # one city
    (120.0, (1.0, 5.0, 25.0, 200.0, 750.0), 1.0, (1.0, 5.0, 25.0, 200.0)),      # a country
    (4700.0, (1.0, 5.0, 25.0, 200.0, 750.0, 2500.0), 25.0, (25.0, 200.0, 750.0, 2500.0)),  # world
])
def test_scales_of_galleries_of_known_extent(radius_km, thresholds, fine, sigmas):
    gps = _ring((45.0, 15.0), radius_km)
    assert gallery_extent_km(gps) == pytest.approx(radius_km, rel=1e-6)
    s = gallery_scales(gps)
    assert s["thresholds_km"] == thresholds == thresholds_for_extent(radius_km)
    assert s["confidence_km"] == s["q_min_km"] == fine == fine_scale_km(radius_km)
    assert s["kde_sigmas_km"] == sigmas and s["meanshift_km"] == sigmas[2]


def test_calibrated_confidence_is_monotone():
    rng = np.random.default_rng(0)
    F = rng.random((600, 4)) * [1, 1, 1, 3]          # vote shares (10, 100, weighted), match distance
    ok = rng.random(600) < np.clip(F[:, :3].mean(axis=1) - 0.2 * F[:, 3] + 0.3, 0, 1)
    cal = ConfidenceCalibrator(1.0, 0).fit(F, ok)
    grid = np.linspace(0, 3, 50)
    for s in (0.1, 0.5, 0.9):
        p = cal.predict(np.column_stack([np.full((50, 3), s), grid]))
        assert np.all(np.diff(p) <= 1e-12)         # never more confident for a worse match
        assert p[0] > p[-1]                        # and it does use the match distance
    for m in (0.2, 1.5):
        p = cal.predict(np.column_stack([np.repeat(np.linspace(0, 1, 50)[:, None], 3, axis=1),
                                         np.full(50, m)]))
        assert np.all(np.diff(p) >= -1e-12)        # nor for fewer votes
        assert p[-1] > p[0]


@pytest.mark.parametrize("n_ok, kind", [(0, "constant"), (8, "isotonic"), (60, "boosting")])
def test_small_calibration_sets_fall_back_to_monotone_models(n_ok, kind):
    rng = np.random.default_rng(0)
    F = rng.random((200, 4))
    ok = np.zeros(200, bool)
    ok[np.argsort(-F[:, 2])[:n_ok]] = True            # the best weighted shares are right
    cal = ConfidenceCalibrator(1.0, 0).fit(F, ok)
    p = cal.predict(F)
    assert {"constant": cal.model_ is None, "isotonic": not hasattr(cal.model_, "predict_proba"),
            "boosting": hasattr(cal.model_, "predict_proba")}[kind]
    if kind == "constant":
        assert np.all(p == 0.0)
    else:   # the right ones are found
        assert p[ok].min() > p[~ok].mean()
    if kind == "isotonic":  # never less confident for a larger weighted share
        assert np.all(np.diff(p[np.argsort(F[:, 2])]) >= -1e-12)


def test_calibrated_confidence_is_reliable_on_known_rates():
    rng = np.random.default_rng(1)
    n = 6000
    F = rng.random((n, 4))                           # vote shares, match distance
    rate = 0.1 + 0.8 * F[:, 0] * (0.7 + 0.3 * F[:, 2]) * (1 - 0.5 * F[:, 3])   # the true probability
    cal = ConfidenceCalibrator(1.0, 0).fit(F[:n // 2], rng.random(n // 2) < rate[:n // 2])
    p = cal.predict(F[n // 2:])
    ok = rng.random(n - n // 2) < rate[n // 2:]
    edges = np.linspace(0, 1, 6)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (p >= lo) & (p < hi)
        if inside.sum() >= 50:
            assert abs(p[inside].mean() - ok[inside].mean()) < 0.1


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_confidence_is_reliable_for_the_query_mix_it_is_calibrated_for(share):
    """Held-out new places are right less often than held-out views at the same features:
    calibrated on the pooled photos the confidence misses a population by more than 0.1 in
    some bin; weighted to that population (``mix_weights``) it is within 0.1 in every bin."""
    from dgae._selection import mix_weights

    rng = np.random.default_rng(2)

    def draw(n, new):
        F = rng.random((n, 4))
        rate = np.where(new, 0.05 + 0.35 * F[:, 2], 0.45 + 0.5 * F[:, 2])
        return F, rng.random(n) < rate

    new = np.arange(4000) < 2000
    F, ok = draw(4000, new)
    F_test, ok_test = draw(4000, np.full(4000, share == 1.0))

    def worst_bin(weights):
        p = ConfidenceCalibrator(25.0, 0).fit(F, ok, weights).predict(F_test)
        bins = np.minimum((p * 5).astype(int), 4)
        return max(abs(p[bins == b].mean() - ok_test[bins == b].mean())
                   for b in range(5) if (bins == b).sum() >= 100)

    assert worst_bin(None) > 0.1
    assert worst_bin(mix_weights(new, share)) < 0.1


def _clustered(seed=0, n_regions=6, per_region=4, views=3):
    """Regions (each a look) of places (each 3 views): photos of a region look alike."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([-40, -120], [60, 140], size=(n_regions, 2))
    look = rng.normal(size=(n_regions, 8)) * 3
    gps, X, place = [], [], []
    for r in range(n_regions):
        for p in range(per_region):
            spot = centres[r] + rng.normal(scale=0.3, size=2)
            for _ in range(views):
                gps.append(spot + rng.normal(scale=1e-4, size=2))
                X.append(look[r] + rng.normal(size=8))
                place.append(r * per_region + p)
    return np.array(X, np.float32), np.array(gps), np.array(place)


def _mean_acc_of(head, params, nbrs, dist, truth, thresholds, n_neighbors="auto"):
    kh = min(DEFAULT_K[head] if n_neighbors == "auto" else n_neighbors, nbrs.shape[1])
    return mean_accuracy(truth, apply_head(head, nbrs[:, :kh], dist[:, :kh], **params), thresholds)


def _gap_se(ea, eb, w, thresholds):
    """Weighted mean and standard error of the per-photo accuracy difference, from scratch."""
    d = (np.mean(ea[:, None] <= np.asarray(thresholds), axis=1)
         - np.mean(eb[:, None] <= np.asarray(thresholds), axis=1))
    w = w / w.sum()
    return w @ d, np.sqrt(np.sum(w ** 2 * (d - w @ d) ** 2))


def _one_se(scores, err, w, thresholds):
    """The one-standard-error rule by brute force: of the labels within one paired standard
    error of the best score, the smallest weighted median error (the smallest error whose
    photos at or below it weigh half), then the higher score."""
    def median(e):
        return min(v for v in e if w[e <= v].sum() >= w.sum() / 2 - 1e-12)

    top = max(scores, key=scores.get)
    tied = [lb for lb in scores
            if scores[top] - scores[lb] <= _gap_se(err[top], err[lb], w, thresholds)[1]]
    return min(tied, key=lambda lb: (median(err[lb]), -scores[lb]))


@pytest.mark.parametrize("head, n_neighbors, share", [("auto", "auto", None), ("kde", "auto", None),
                                                     ("auto", 7, None), ("kde", "auto", 0.0),
                                                     ("kde", "auto", 0.3), ("auto", "auto", 1.0)])
def test_auto_head_is_the_best_candidate_on_the_held_out_photos(head, n_neighbors, share):
    """Recomputed with an independent search, each head voting over as many neighbours as it
    will at predict (the user's ``n_neighbors``): the head, then its gate, on all held-out
    photos, each kind weighted to the mix of ``new_place_share``
    (None: a third each of views, places and regions)."""
    X, gps, place = _clustered(n_regions=9)
    knn = GeoKNN(**{**KNN_DEFAULTS, "head": head, "n_neighbors": n_neighbors})
    model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=15, n_components=8, knn=knn,
                 validation_fraction=0.6, new_place_share=share,
                 input_share=0.0, random_state=0).fit(X, gps, groups=place)
    tr, va, views = model.training_indices_, model.validation_indices_, model.view_indices_
    regions = model.region_indices_
    assert set(place[va]).isdisjoint(place[tr]) and views.size > 0 and regions.size > 0
    assert set(place[views]) <= set(place[tr])          # views: places that stay in training
    assert set(place[regions]).isdisjoint(place[tr]) and set(place[regions]).isdisjoint(place[va])
    assert great_circle_km(gps[regions][:, None], gps[tr][None]).min() > 2 * model.confidence_km_
    codes = model.transform(X)
    k = min(max(DEFAULT_K.values()), len(tr))
    nn = NearestNeighbors(n_neighbors=k).fit(codes[tr])  # an independent search
    cands = model._head_candidates()
    held = np.concatenate([views, va, regions])
    kind = np.repeat([0, 1, 2], [len(views), len(va), len(regions)])
    dist, idx = nn.kneighbors(codes[held])
    s = 2 / 3 if share is None else share
    mix = np.array([1 - s, s / 2, s / 2])

    def score(h, params, rows):
        return _mean_acc_of(h, params, gps[tr][idx[rows]], dist[rows], gps[held][rows],
                            model.thresholds_km_, n_neighbors)

    def mixed(h, params, kinds):
        w = mix[kinds] / mix[kinds].sum() if mix[kinds].sum() else np.full(len(kinds), 0.5)
        return sum(wk * score(h, params, kind == kk) for wk, kk in zip(w, kinds))

    # stage 1: of the heads within one paired standard error of the best score on the held-out
    # photos (every kind at its share), the smallest weighted median error
    present = [kk for kk in (0, 1, 2) if mix[kk] > 0]
    scores = {label: mixed(h, p, present) for label, (h, p) in cands.items()}
    assert scores == pytest.approx(model.head_scores_, abs=1e-9)
    weight = np.zeros(len(held))
    for kk in present:
        weight[kind == kk] = mix[kk] / mix[present].sum() / np.sum(kind == kk)

    def errors(h, params):
        kh = min(DEFAULT_K[h] if n_neighbors == "auto" else n_neighbors, idx.shape[1])
        return great_circle_km(apply_head(h, gps[tr][idx[:, :kh]], dist[:, :kh], **params),
                               gps[held])

    err = {label: errors(h, p) for label, (h, p) in cands.items()}
    best = _one_se(scores, err, weight, model.thresholds_km_)
    head, params = cands[best]
    # stage 2: its gate (none, or a match ratio under which 1-NN answers) on all three kinds
    ratios = match_ratio(gps[tr][idx], dist, model.confidence_km_)
    gates = [(None, None)] + ([] if head == "1nn" else [
        (g, h) for g in np.quantile(ratios, GATE_QUANTILES) for h in ("kde", "1nn")])
    variants = [params if g is None else
                {**params, "match_gate": g, "gate_km": model.confidence_km_, "gate_head": h}
                for g, h in gates]
    gated = [mixed(head, v, present) for v in variants]
    assert len(gated) == len(model.gate_scores_) > (1 if head == "kde" else 0)
    assert sorted(gated) == pytest.approx(sorted(model.gate_scores_.values()), abs=1e-9)
    assert model.head_ == head
    want, want_head = gates[int(np.argmax(gated))]
    assert model.head_params_.get("match_gate") == (None if want is None else pytest.approx(want))
    assert model.head_params_.get("gate_head") == want_head
    # the confidence is calibrated on the stated mix (unstated: new ground, places and regions
    # half each): its base rate is that mix's hit rate; confidence_seen's, the views'
    kh = min(DEFAULT_K[model.head_] if n_neighbors == "auto" else n_neighbors, idx.shape[1])
    hit = great_circle_km(apply_head(model.head_, gps[tr][idx[:, :kh]], dist[:, :kh],
                                     **model.head_params_), gps[held]) <= model.confidence_km_
    c = 1.0 if share is None else share
    cmix = np.array([1 - c, c / 2, c / 2])
    present = [kk for kk in (0, 1, 2) if cmix[kk] > 0]
    w = cmix[present] / cmix[present].sum()
    rate = sum(wk * hit[kind == kk].mean() for wk, kk in zip(w, present))
    assert model.confidence_calibrator_.rate_ == pytest.approx(rate)
    assert model.seen_calibrator_.rate_ == pytest.approx(hit[kind == 0].mean())


def test_predict_details_confidence_is_a_calibrated_probability():
    X, gps, place = _clustered(1, n_regions=8, per_region=6)
    model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=10, n_components=8,
                 validation_fraction=0.4, random_state=0).fit(X, gps, groups=place)
    d = model.predict_details(X)
    assert d.confidence_km == model.confidence_km_ == 25.0
    assert np.all((d.confidence >= 0) & (d.confidence <= 1))
    np.testing.assert_array_equal(d.gps, model.predict(X))


def test_one_city_gallery_has_confusers_at_its_own_scale():
    """A gallery 2 km across: the Q floor follows its scale, so Q is not empty."""
    rng = np.random.default_rng(0)
    spots = _ring((45.81, 15.98), 1.0, n=30)
    gps = np.repeat(spots, 3, axis=0) + rng.normal(scale=1e-5, size=(90, 2))
    X = rng.normal(size=(90, 6)).astype(np.float32)
    model = DGAE(hidden_layer_sizes=(8, 4), k1=2, k2=2, max_iter=3, random_state=0).fit(X, gps)
    assert model.q_min_km_ == 0.1 and model.thresholds_km_[0] == 0.1
    assert model.Q_.nnz > 0
    s, t = model.Q_.nonzero()
    assert np.all(great_circle_km(gps[s], gps[t]) >= 0.1)
    paper = DGAE(hidden_layer_sizes=(8, 4), k1=2, k2=2, max_iter=3, q_min_km=25.0,
                 random_state=0).fit(X, gps)
    assert paper.Q_.nnz == 0    # the fixed 25 km floor empties Q inside one city


@pytest.mark.parametrize("head", ["1nn", "kde", "meanshift"])
def test_a_fitted_head_can_be_overridden(head):
    """``set_head`` after fit (``dgae predict --head``) uses that head; ``set_params`` does not
    change a fitted model."""
    X, gps, place = _clustered(2)
    model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5, n_components=8,
                 random_state=0).fit(X, gps, groups=place)
    dist, idx = model.knn_.kneighbors(model.transform(X), n_neighbors=DEFAULT_K[head])
    want = apply_head(head, gps[idx], dist, kde_sigma_km=model.scales_["kde_sigmas_km"][0],
                      meanshift_bandwidth_km=model.scales_["meanshift_km"])
    before = model.predict(X)
    np.testing.assert_array_equal(model.set_params(knn=GeoKNN(head=head)).predict(X), before)
    np.testing.assert_allclose(model.set_head(head).predict(X), want)
    assert model.head_label_ == head


@pytest.mark.parametrize("width", [2, 3, 5])
def test_confidence_calibrator_needs_the_four_confidence_features(width):
    from dgae._selection import ConfidenceCalibrator

    with pytest.raises(ValueError, match="4 columns of confidence_features"):
        ConfidenceCalibrator(25.0, 0).fit(np.zeros((50, width)), np.arange(50) % 2 == 0)


def test_geoknn_auto_head_is_the_best_candidate_on_its_held_out_places():
    """GeoKNN(head="auto") chooses as DGAE does, on the features: recomputed independently."""
    from dgae import GeoKNN
    from dgae._selection import head_candidates, held_out_split, region_blocks

    X, gps, place = _clustered(3)
    knn = GeoKNN(head="auto", validation_fraction=0.5, random_state=0).fit(X, gps, groups=place)
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    scales = gallery_scales(gps)
    train, places, views, regions = held_out_split(
        place, 0.5, seed, regions=region_blocks(gps, scales["confidence_km"]))
    assert set(place[places]).isdisjoint(place[train])
    assert regions.size and set(place[regions]).isdisjoint(place[train])
    cands = head_candidates(scales)
    k = min(max(DEFAULT_K.values()), len(train))
    nn = NearestNeighbors(n_neighbors=k).fit(X[train])

    def acc(h, p, rows):
        dist, idx = nn.kneighbors(X[rows])
        return _mean_acc_of(h, p, gps[train][idx], dist, gps[rows], scales["thresholds_km"])

    # the default mix: a third each of views, new places and new regions
    scores = {label: (acc(h, p, views) + acc(h, p, places) + acc(h, p, regions)) / 3
              for label, (h, p) in cands.items()}
    assert scores == pytest.approx(knn.head_scores_, abs=1e-9)
    rows = np.concatenate([views, places, regions])
    w = np.concatenate([np.full(len(r), 1 / 3 / len(r)) for r in (views, places, regions)])
    dist, idx = nn.kneighbors(X[rows])

    def errors(h, p):
        kh = min(DEFAULT_K[h], idx.shape[1])
        return great_circle_km(apply_head(h, gps[train][idx[:, :kh]], dist[:, :kh], **p), gps[rows])

    best = _one_se(scores, {lb: errors(h, p) for lb, (h, p) in cands.items()}, w,
                   scales["thresholds_km"])
    assert knn.head_label_.split("|")[0] == best and knn.head_ == cands[best][0]
    assert knn.gate_scores_[knn.head_label_] >= knn.gate_scores_[best] - 1e-12
    # the gallery is indexed whole, and prediction follows the chosen head
    assert len(knn.features_) == len(X)
    d, i = knn.kneighbors(X)
    np.testing.assert_allclose(knn.predict(X), apply_head(knn.head_, gps[i], d, **knn.head_params_))


@pytest.mark.parametrize("share", [None, 0.0, 0.3, 1.0])
def test_early_stopping_score_weighs_the_three_kinds_by_the_mix(share):
    """The monitor's views part (mean reciprocal rank of the first photo of the same place
    among the 10 nearest) by brute force; its places and regions parts from the monitor on
    each kind alone; the whole weighted by the mix (views 1 - s, places and regions s / 2)."""
    from dgae._selection import GeoMonitor, head_candidates

    X, gps, place = _clustered(4)
    val = np.arange(0, len(X), 5)
    train = np.setdiff1d(np.arange(len(X)), val)
    kind = place[val] % 3                               # pretend: a third of each kind
    scales = gallery_scales(gps)

    def raw(s, rows=slice(None)):
        m = GeoMonitor(X[train], X[val][rows], gps[train], gps[val][rows], kind[rows],
                       place[train], place[val][rows], lambda c, i, Z: Z,
                       head_candidates(scales), scales["thresholds_km"], new_place_share=s)
        m(None, None)
        return m.raw_scores_[0]

    v = kind == 0
    d = np.linalg.norm(X[val][v, None] - X[train][None], axis=2)
    top = np.argsort(d, axis=1, kind="stable")[:, :10]
    hit = place[train][top] == place[val][v, None]
    views = np.mean(np.where(hit.any(axis=1), 1.0 / (hit.argmax(axis=1) + 1), 0.0))
    assert raw(share, v) == pytest.approx(views)        # one kind alone: its own part
    places, regions = raw(share, kind == 1), raw(share, kind == 2)
    assert 0 < places < 1 and 0 < regions < 1 and 0 < views <= 1
    s = 2 / 3 if share is None else share
    assert raw(share) == pytest.approx((1 - s) * views + s / 2 * places + s / 2 * regions)

