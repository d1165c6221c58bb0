"""Unseen ground: held-out regions, the retrieval space chosen in fit, confidence by kind."""
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from dgae import DGAE, GeoKNN
from dgae.datasets import region_holdout_split
from dgae.utils import great_circle_km
from dgae._heads import DEFAULT_K, apply_head
from dgae._selection import (INPUT_SHARES, block_scale, held_out_split, mix_weights,
                             monitor_rows, region_blocks, retrieval_label)


def _world(seed=0, n_cities=12, places=4, views=3, dim=8):
    """Cities (each a look, spread over ~10 km) of places (each ``views`` photos); a
    place's photos share a signature the code is not trained to keep (a near-duplicate)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([-40, -120], [60, 140], size=(n_cities, 2))
    look = rng.normal(size=(n_cities, dim)) * 2
    gps, X, place = [], [], []
    for c in range(n_cities):
        for p in range(places):
            spot = centres[c] + rng.normal(scale=0.05, size=2)
            sig = rng.normal(size=dim) * 2
            for _ in range(views):
                gps.append(spot + rng.normal(scale=1e-4, size=2))
                X.append(look[c] + sig + 0.3 * rng.normal(size=dim))
                place.append(c * places + p)
    return np.array(X, np.float32), np.array(gps), np.array(place)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6])
def test_held_out_regions_share_no_photo_nor_place_with_training(seed, fraction):
    rng = np.random.default_rng(seed)
    gps = np.repeat(rng.uniform([-50, -170], [60, 170], size=(30, 2)), 8, axis=0)
    gps += rng.normal(scale=0.2, size=gps.shape)          # 30 towns, ~20 km across
    towns = np.repeat(np.arange(30), 8)
    straddle = rng.random(len(gps)) < 0.05                 # a few places span two towns
    groups = np.where(straddle, rng.integers(0, 120, len(gps)), towns * 4 + rng.integers(0, 4, 240))
    blocks = region_blocks(gps, 25.0)
    train, places, views, regions = held_out_split(groups, fraction, seed, regions=blocks)
    every = np.concatenate([train, places, views, regions])
    assert np.array_equal(np.sort(every), np.arange(len(gps)))       # each photo once
    assert regions.size > 0
    for r in regions:                                      # brute force, photo by photo
        assert groups[r] not in set(groups[train])
        assert groups[r] not in set(groups[places])
    whole = [b for b in set(blocks[regions]) if np.all(np.isin(np.flatnonzero(blocks == b), regions))]
    assert whole                                           # the blocks taken, taken whole
    for r in regions:     # a photo in a partly held block: of a place that spans a held block
        if blocks[r] not in whole:
            assert np.any(np.isin(np.flatnonzero(groups == groups[r]), np.flatnonzero(
                np.isin(blocks, whole))))
    assert set(groups[places]).isdisjoint(groups[train])
    assert set(groups[views]) <= set(groups[train])


def test_region_blocks_are_coarser_than_places_and_follow_the_scale():
    _, gps, place = _world()
    blocks = region_blocks(gps, 25.0)                      # 50 km blocks: one per city
    assert len(np.unique(blocks)) == 12
    assert all(len(np.unique(blocks[place == p])) == 1 for p in np.unique(place))
    assert len(np.unique(region_blocks(gps, 0.1))) > 12    # 200 m blocks: places


def test_region_holdout_split_keeps_queries_beyond_the_link():
    _, gps, place = _world(n_cities=20)
    q, g = region_holdout_split(gps, place, link_km=50.0, test_size=0.2, seed=0)
    assert great_circle_km(gps[q][:, None], gps[g][None]).min() > 50.0
    assert len(np.unique(place[q])) >= int(0.2 * len(np.unique(place)))
    assert np.array_equal(np.sort(np.concatenate([q, g])), np.arange(len(gps)))
    with pytest.raises(ValueError, match="one region"):
        region_holdout_split(gps[:3], place[:3], link_km=50.0)


def test_mix_weights_give_each_kind_its_share():
    kind = np.array([0, 0, 0, 1, 2, 2])
    w = mix_weights(kind, None)
    assert [w[kind == k].sum() for k in range(3)] == pytest.approx([2.0, 2.0, 2.0])
    w = mix_weights(kind, 0.5)
    assert [w[kind == k].sum() for k in range(3)] == pytest.approx([3.0, 1.5, 1.5])
    w = mix_weights(np.array([0, 1, 1]), 0.5)              # no regions: places take their share
    assert w[1:].sum() == pytest.approx(1.5)


def _space_score(model, X, gps, share):
    """The held-out score of a retrieval space, recomputed: an independent search, every
    candidate head on the new ground, its gates on all held-out photos, mix-weighted."""
    from dgae._heads import match_ratio
    from dgae._selection import GATE_QUANTILES, retrieval_features

    tr = model.training_indices_
    held = np.concatenate([model.view_indices_, model.validation_indices_, model.region_indices_])
    kind = np.repeat([0, 1, 2], [len(model.view_indices_), len(model.validation_indices_),
                                 len(model.region_indices_)])
    codes = model.transform(X)
    scales = (block_scale(codes[tr]), block_scale(X[tr]))
    F = retrieval_features(codes, X, share, scales)
    k = min(max(DEFAULT_K.values()), len(tr))
    dist, idx = NearestNeighbors(n_neighbors=k).fit(F[tr]).kneighbors(F[held])
    w = mix_weights(kind, None)

    def acc(head, params, rows, weights):
        kh = min(DEFAULT_K[head], k)
        pred = apply_head(head, gps[tr][idx[rows, :kh]], dist[rows, :kh], **params)
        within = (great_circle_km(pred, gps[held][rows])[:, None]
                  <= np.asarray(model.thresholds_km_)).mean(axis=1)
        return np.average(within, weights=weights)

    cands = model._head_candidates()
    first = max(cands, key=lambda c: acc(*cands[c], slice(None), w))
    head, params = cands[first]
    best = acc(head, params, slice(None), w)
    if head != "1nn":
        for g in np.quantile(match_ratio(gps[tr][idx], dist, model.confidence_km_),
                             GATE_QUANTILES):
            for gh in ("kde", "1nn"):
                best = max(best, acc(head, {**params, "match_gate": g, "gate_km":
                                            model.confidence_km_, "gate_head": gh},
                                     slice(None), w))
    return best


def test_chosen_retrieval_space_is_the_best_on_the_held_out_score():
    X, gps, place = _world()
    model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=10, n_components=8,
                 validation_fraction=0.5, random_state=0).fit(X, gps, groups=place)
    assert set(model.retrieval_scores_) == {retrieval_label(s) for s in INPUT_SHARES}
    scores = {retrieval_label(s): _space_score(model, X, gps, s) for s in INPUT_SHARES}
    assert scores == pytest.approx(model.retrieval_scores_, abs=1e-9)
    assert model.retrieval_scores_[model.retrieval_space_] == pytest.approx(max(scores.values()))
    assert model.input_share_ in INPUT_SHARES
    # predict searches the chosen space: the knn_ over it gives the same answers
    F = model.retrieval_features(X)
    np.testing.assert_array_equal(model.knn_.predict(F), model.predict(X))
    # never below the raw features with the same choice of head, on its own score
    assert model.retrieval_scores_[model.retrieval_space_] >= model.retrieval_scores_["input"]


@pytest.mark.parametrize("share, width", [(0.0, 4), (1.0, 8), (0.5, 12)])
def test_a_set_input_share_is_kept(share, width):
    X, gps, place = _world(1)
    model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5, n_components=8,
                 input_share=share, random_state=0).fit(X, gps, groups=place)
    assert model.input_share_ == share and list(model.retrieval_scores_) == [retrieval_label(share)]
    assert model.retrieval_features(X[:5]).shape == (5, width)
    if share == 1.0:   # the raw features: GeoKNN's neighbours
        d, i = model.knn_.kneighbors(model.retrieval_features(X[:5]), n_neighbors=3)
        _, want = GeoKNN().fit(X, gps).kneighbors(X[:5], n_neighbors=3)
        np.testing.assert_array_equal(i, want)


def test_partial_fit_keeps_the_retrieval_space():
    X, gps, place = _world(2)
    model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5, n_components=8,
                 input_share=0.5, random_state=0).fit(X[:-6], gps[:-6], groups=place[:-6])
    model.partial_fit(X[-6:], gps[-6:])
    assert model.input_share_ == 0.5 and len(model.knn_.features_) == len(X)
    np.testing.assert_allclose(model.knn_.features_, model.retrieval_features(X), rtol=1e-5,
                               atol=1e-5)


def _assert_reliable(conf, ok, w, min_bins=2):
    """Within 0.1 of the weighted observed rate in every bin of weight >= 100 (at least
    ``min_bins``)."""
    bins = np.minimum((conf * 5).astype(int), 4)
    populated = [b for b in range(5) if w[bins == b].sum() >= 100]
    assert len(populated) >= min_bins
    for b in populated:
        inside = bins == b
        assert abs(np.average(conf[inside] - ok[inside], weights=w[inside])) < 0.1


@pytest.mark.parametrize("share", [None, 2 / 3])
def test_confidence_is_reliable_with_a_known_share_of_unseen_regions(share):
    """Queries of three kinds -- new views of gallery places, new places in known cities and
    photos of cities the gallery has never seen -- are located with a confidence within 0.1
    of the observed rate in every populated bin, each kind weighted to its share of the mix
    the confidence is calibrated for: a stated mix (a third each), or unstated, new ground
    (places and cities half each), with ``confidence_seen`` reliable on the views.  In this
    world a new city's photos look no farther from the gallery than a new place's, so the
    confidence cannot tell them apart: it is calibrated for a mix, not for either kind alone
    (docs/estimator.md, "Unseen ground")."""
    rng = np.random.default_rng(0)
    X, gps, place = _world(3, n_cities=60, places=4, views=4)
    model = DGAE(hidden_layer_sizes=(16, 8), k1=3, k2=3, max_iter=20, n_components=8,
                 validation_fraction=0.6, new_place_share=share, random_state=0).fit(
        X, gps, groups=place)
    assert min(map(len, (model.view_indices_, model.validation_indices_,
                         model.region_indices_))) > 50
    city = np.repeat(np.arange(60), 8)
    look = np.array([X[place // 4 == c].mean(axis=0) for c in range(60)])
    X_new, gps_new, _ = _world(4, n_cities=60, places=4, views=4)        # unseen cities
    queries = {0: (X + 0.3 * rng.normal(size=X.shape).astype(np.float32), gps),
               1: ((look[city] + 2 * rng.normal(size=(480, 8))).astype(np.float32),
                   np.array([gps[place // 4 == c][0] for c in city])),
               2: (X_new, gps_new)}
    conf, seen, ok, kind = [], [], [], []
    for k, (Q, truth) in queries.items():
        d = model.predict_details(Q)
        conf.append(d.confidence)
        seen.append(d.confidence_seen)
        ok.append(great_circle_km(d.gps, truth) <= d.confidence_km)
        kind.append(np.full(len(Q), k))
    conf, seen, ok, kind = map(np.concatenate, (conf, seen, ok, kind))
    _assert_reliable(conf, ok, mix_weights(kind, 1.0 if share is None else share))
    if share is None:  # the unstated mix's confidence is new ground's: far below the views'
        views = kind == 0
        _assert_reliable(seen[views], ok[views], np.ones(views.sum()), min_bins=1)
        assert conf[views].mean() < ok[views].mean() - 0.2 < seen[views].mean()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("max_rows", [5, 40, 90, 1000])
def test_monitor_searches_a_capped_sample_that_keeps_the_views_places(seed, max_rows):
    """Brute force: beyond ``max_rows`` training photos, every photo of a held-out view's
    place and random others up to the cap; below it, all of them."""
    groups = np.random.default_rng(seed).integers(0, 30, 120)
    views = np.array([3, 17])
    rows = monitor_rows(groups, views, seed, max_rows=max_rows)
    assert (np.diff(rows) > 0).all() and rows.min() >= 0 and rows.max() < 120
    own = np.flatnonzero(np.isin(groups, views))
    assert set(own) <= set(rows)
    assert len(rows) == (120 if max_rows >= 120 else max(max_rows, len(own)))


def test_early_stopping_scores_on_the_capped_gallery(monkeypatch):
    """DGAE's monitor gets the :func:`monitor_rows` sample of the training photos."""
    import dgae._selection as sel

    monkeypatch.setattr(sel, "MONITOR_GALLERY", 40)
    sizes = []
    real = sel.GeoMonitor.__init__

    def spy(self, X_train, *args, **kwargs):
        sizes.append(len(X_train))
        real(self, X_train, *args, **kwargs)

    monkeypatch.setattr(sel.GeoMonitor, "__init__", spy)
    X, gps, place = _world()
    model = DGAE(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, gps, groups=place)
    assert len(model.training_indices_) > 40
    assert sizes and 40 <= sizes[0] < len(model.training_indices_)


def _brute_spaces(C, X, train, held, shares, scales):
    """Each share's exact distances (held x train), float64, on retrieval_features."""
    from dgae._selection import retrieval_features

    out = {}
    for share in shares:
        F = retrieval_features(C, X, share, scales).astype(np.float64)
        out[share] = np.sqrt(((F[held][:, None] - F[train][None]) ** 2).sum(-1))
    return out


@pytest.mark.parametrize("chunk", [16, 65_536])
def test_space_neighbors_on_principal_components_match_a_brute_force(monkeypatch, chunk):
    """Above REDUCED_MIN_TRAIN, given the input's principal components: on an input that lies
    in their span the reduced pass ranks as the input does, so the re-ranked result is each
    space's exact neighbours (brute force), distances in the space's units."""
    import dgae._selection as sel
    from sklearn.decomposition import PCA

    monkeypatch.setattr(sel, "REDUCED_MIN_TRAIN", 1)
    monkeypatch.setattr(sel, "TRAIN_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    C = rng.normal(size=(160, 3))
    X = rng.normal(size=(160, 4)) @ rng.normal(size=(4, 12)) + 3.0  # rank 4 in 12-d
    order = rng.permutation(160)
    train, held = order[:120], order[120:]
    pca = PCA(4).fit(X[train])
    factor = np.array([0.5, 2.0, 1.0, 4.0])       # the scores handed over scaled, as whitened
    reduced = ((pca.transform(X) / factor).astype(np.float32), factor)
    shares, scales = (0.0, 0.25, 1.0), (0.7, 0.2)
    found = sel.space_neighbors(C, X, train, held, shares, scales, 5, reduced=reduced)
    for share, d in _brute_spaces(C, X, train, held, shares, scales).items():
        ref = np.argsort(d, axis=1, kind="stable")[:, :5]
        np.testing.assert_array_equal(found[share][1], ref)
        np.testing.assert_allclose(found[share][0], np.take_along_axis(d, ref, 1), rtol=1e-4)


def test_space_neighbors_reduced_pass_returns_true_distances_of_its_picks(monkeypatch):
    """Whatever the components (here random ones that rank badly), what the reduced pass
    returns is re-ranked on the input: true distances, nearest first, and the code-only space
    (searched exactly in that pass) exact."""
    import dgae._selection as sel

    monkeypatch.setattr(sel, "REDUCED_MIN_TRAIN", 1)
    rng = np.random.default_rng(3)
    C, X = rng.normal(size=(200, 3)), rng.normal(size=(200, 16))
    train, held = np.arange(40, 200), np.arange(40)
    reduced = (rng.normal(size=(200, 2)).astype(np.float32), np.ones(2))
    shares, scales = (0.0, 0.5, 1.0), (1.0, 0.5)
    found = sel.space_neighbors(C, X, train, held, shares, scales, 4, reduced=reduced)
    brute = _brute_spaces(C, X, train, held, shares, scales)
    for share, (dist, idx) in found.items():
        np.testing.assert_allclose(dist, np.take_along_axis(brute[share], idx, 1), rtol=1e-4)
        assert (np.diff(dist, axis=1) >= 0).all()
    np.testing.assert_array_equal(found[0.0][1], np.argsort(brute[0.0], axis=1)[:, :4])


def test_dgae_hands_the_whitening_components_to_the_space_search():
    """``_components`` gives the scaled input and the factor that turns it back into the
    whitening PCA's scores; no components under the paper's min-max scaling."""
    rng = np.random.default_rng(0)
    X, gps = rng.normal(size=(60, 10)).astype(np.float32), rng.uniform(-50, 50, size=(60, 2))
    model = DGAE(hidden_layer_sizes=(4,), n_components=6, max_iter=2, random_state=0).fit(X, gps)
    Z, factor = model._components(model._scaled(X))
    np.testing.assert_allclose(Z * factor, model.scaler_.pca_.transform(X), rtol=1e-4, atol=1e-5)
    paper = DGAE(hidden_layer_sizes=(4,), objective="paper", max_iter=2, random_state=0).fit(X, gps)
    assert paper._components(paper._scaled(X)) is None


@pytest.mark.parametrize("chunk", [7, 64, 65_536])
def test_space_neighbors_in_training_chunks_match_a_brute_force(monkeypatch, chunk):
    """The training rows taken a chunk at a time give each space's exact neighbours
    (brute force on retrieval_features), distances in the space's units."""
    import dgae._selection as sel
    from dgae._selection import space_neighbors

    monkeypatch.setattr(sel, "TRAIN_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    C, X = rng.normal(size=(90, 3)), rng.normal(size=(90, 6)) * 5
    order = rng.permutation(90)
    train, held = order[:70], order[70:]          # disjoint, as fit holds them out
    shares, scales = (0.0, 0.5, 1.0), (0.7, 0.2)
    found = space_neighbors(C, X, train, held, shares, scales, 9)
    for share, d in _brute_spaces(C, X, train, held, shares, scales).items():
        ref = np.argsort(d, axis=1, kind="stable")[:, :9]
        np.testing.assert_array_equal(found[share][1], ref)
        np.testing.assert_allclose(found[share][0], np.take_along_axis(d, ref, 1), rtol=1e-4)
