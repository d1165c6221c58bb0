"""POIMiner against scikit-learn's MeanShift on the same unit-vector coordinates."""
import numpy as np
import pytest
from sklearn.cluster import MeanShift
from sklearn.metrics import adjusted_rand_score

from dgae.utils import great_circle_km, km_to_chord, to_unit_vectors
from dgae.graphs import POIMiner
from dgae.utils import bin_seeds


def photo_spots(seed, n=400):
    """Photos around POIs, including across the ±180° meridian and next to the North Pole."""
    rng = np.random.default_rng(seed)
    spots = np.array([[48.8584, 2.2945], [48.8606, 2.3376], [40.6892, -74.0445],
                      [-16.5, 179.999], [-16.5, -179.999], [89.999, 0.0], [89.999, 120.0],
                      [-89.9995, 45.0], [35.6586, 139.7454], [35.6595, 139.7500]])
    which = rng.integers(0, len(spots), n)
    gps = spots[which] + rng.normal(scale=0.0015, size=(n, 2))
    gps[:, 0] = np.clip(gps[:, 0], -90, 90)
    gps[:, 1] = (gps[:, 1] + 180) % 360 - 180
    gps[:20] = rng.uniform([-60, -180], [70, 180], size=(20, 2))  # lone photos
    return gps


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bandwidth_km", [0.556, 0.3, 5.56])
def test_same_partition_as_sklearn(seed, bandwidth_km):
    gps = photo_spots(seed)
    miner = POIMiner(bandwidth_km=bandwidth_km).fit(gps)
    chord = float(km_to_chord(bandwidth_km))
    ref = MeanShift(bandwidth=chord, bin_seeding=True, cluster_all=True).fit(to_unit_vectors(gps))
    assert adjusted_rand_score(ref.labels_, miner.labels_) >= 0.99
    assert miner.n_clusters_ == len(ref.cluster_centers_)
    np.testing.assert_allclose(np.sort(miner.cluster_centers_xyz_, axis=0),
                               np.sort(ref.cluster_centers_, axis=0), atol=1e-9)
    assert miner.cluster_sizes_.sum() == len(gps)
    np.testing.assert_array_equal(miner.cluster_sizes_, np.bincount(miner.labels_))


def test_meridian_and_pole_are_single_pois():
    gps = np.array([[-16.5, 179.9995], [-16.5, -179.9995], [89.9995, 0.0], [89.9995, 180.0],
                    [10.0, 10.0]])
    miner = POIMiner().fit(gps)
    assert miner.labels_[0] == miner.labels_[1]
    assert miner.labels_[2] == miner.labels_[3]
    assert miner.n_clusters_ == 3
    c = miner.cluster_centers_[miner.labels_[0]]
    assert abs(abs(c[1]) - 180.0) < 1e-6 and abs(c[0] + 16.5) < 1e-6


def test_bin_seeds_match_sklearn():
    from sklearn.cluster import get_bin_seeds

    X = to_unit_vectors(photo_spots(3))
    for freq in (1, 3):
        ours = bin_seeds(X, 0.001, freq)
        ref = get_bin_seeds(X, 0.001, freq)
        assert ours.dtype == ref.dtype
        np.testing.assert_array_equal(ours[np.lexsort(ours.T)], ref[np.lexsort(ref.T)])


def test_areas_cluster_on_their_own():
    gps = photo_spots(4)
    areas = np.where(gps[:, 1] > 0, "east", "west")
    miner = POIMiner().fit(gps, areas=areas)
    for name in ("east", "west"):
        rows = areas == name
        alone = POIMiner().fit(gps[rows])
        assert adjusted_rand_score(alone.labels_, miner.labels_[rows]) == 1.0
        assert set(miner.cluster_areas_[miner.labels_[rows]]) == {name}
    assert miner.n_clusters_ == len(np.unique(miner.labels_))
    parallel = POIMiner(n_jobs=2).fit(gps, areas=areas)
    np.testing.assert_array_equal(parallel.labels_, miner.labels_)


def test_predict_and_distance():
    gps = photo_spots(5)
    miner = POIMiner().fit(gps)
    np.testing.assert_array_equal(miner.predict(gps), miner.labels_)
    new = np.array([[48.8585, 2.2946], [0.0, -30.0]])
    labels, dist = miner.predict(new, return_distance=True)
    km = great_circle_km(new, miner.cluster_centers_[labels])
    np.testing.assert_allclose(dist, km)
    assert dist[0] < miner.bandwidth_km_ < dist[1]
    assert miner.bandwidth_km_ == pytest.approx(0.005 * np.pi / 180 * 6371.004)  # the paper's
    # brute-force nearest centre
    xyz = to_unit_vectors(new)
    d = ((xyz[:, None] - miner.cluster_centers_xyz_[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, d.argmin(axis=1))


def test_predict_with_areas():
    gps = photo_spots(6)
    areas = np.where(gps[:, 0] > 0, "north", "south")
    miner = POIMiner(bandwidth_km=0.3).fit(gps, areas=areas)
    labels, dist = miner.predict([[48.8584, 2.2945], [48.8584, 2.2945]], areas=["south", "mars"],
                                 return_distance=True)
    assert miner.cluster_areas_[labels[0]] == "south" and dist[0] > 1000
    assert labels[1] == -1 and np.isinf(dist[1])
    with pytest.raises(ValueError, match="fitted with areas"):
        POIMiner().fit(gps).predict(gps, areas=areas)


@pytest.mark.parametrize("gps, kwargs, match", [
    ([[91.0, 0.0]], {}, "latitude"),
    ([[np.nan, 0.0]], {}, "row 0"),
    ([[1.0, 2.0, 3.0]], {}, "shape"),
    ([[1.0, 2.0]], {"areas": [0, 1]}, "areas"),
])
def test_bad_inputs(gps, kwargs, match):
    with pytest.raises(ValueError, match=match):
        POIMiner().fit(gps, **kwargs)


def test_bad_params_and_min_bin_freq():
    with pytest.raises(ValueError, match="bandwidth_km"):
        POIMiner(bandwidth_km=-1).fit([[0.0, 0.0]])
    with pytest.raises(ValueError, match="min_bin_freq"):
        POIMiner(min_bin_freq=5).fit([[0.0, 0.0], [10.0, 10.0]])


def test_duplicate_gps_and_single_photo():
    miner = POIMiner().fit(np.tile([[10.0, 20.0]], (7, 1)))
    assert miner.n_clusters_ == 1 and (miner.labels_ == 0).all()
    np.testing.assert_allclose(miner.cluster_centers_, [[10.0, 20.0]])
    assert POIMiner().fit([[1.0, 2.0]]).n_clusters_ == 1


def test_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    shape = ("input is GPS: [lat, lon] of shape (n, 2) with |lat| <= 90; this generic check "
             "feeds another number of columns or latitudes beyond 90")
    expected = dict.fromkeys([
        "check_fit_score_takes_y", "check_dont_overwrite_parameters",
        "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
        "check_estimators_dtypes", "check_complex_data", "check_dtype_object",
        "check_estimators_empty_data_messages", "check_pipeline_consistency",
        "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_non_transformer_estimators_n_iter", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
        "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
        "check_n_features_in", "check_fit2d_predict1d"], shape)
    expected["check_clustering"] = ("the bandwidth is geographic (0.556 km of arc): generic "
                                    "blobs with unit spread split into one POI per point")
    expected["check_estimators_nan_inf"] = ("dgae.utils._geo.check_gps rejects NaN / inf with 'gps row "
                                            "i is not finite', not sklearn's wording")
    check_estimator(POIMiner(), expected_failed_checks=expected)
