"""Im2GPSDescriptor: scikit-learn API contract, dimensions, block scaling, parallel runs."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance, check_no_attributes_set_in_init,
    check_parameters_default_constructible, check_set_params,
)

from dgae.features import DEFAULT_DESCRIPTORS, Im2GPSDescriptor

SMALL = ("tiny5", "lab_hist", "texton", "edge_hist", "gist")


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    out = []
    for k in range(6):
        base = rng.integers(0, 256, (6, 8, 3)).astype(np.float32)
        img = np.kron(base, np.ones((8, 8, 1), np.float32)) + rng.normal(0, 10 * k, (48, 64, 3))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def test_default_dimensions_are_the_documented_table(photos):
    d = Im2GPSDescriptor(random_state=0).fit(photos[:2])
    sizes = {n: s.stop - s.start for n, s in d.feature_slices_.items()}
    assert sizes == {"tiny5": 75, "tiny16": 768, "lab_hist": 784, "texton": 512,
                     "edge_hist": 232, "gist": 600}
    assert tuple(sizes) == DEFAULT_DESCRIPTORS
    assert d.n_features_out_ == 2971 == len(d.get_feature_names_out())
    assert d.textons_.shape == (512, 8) and d.textons_.dtype == np.float32


@pytest.mark.parametrize("weights", [None, {"gist": 4.0, "tiny5": 0.25}])
def test_blocks_contribute_their_weight_to_the_mean_squared_distance(photos, weights):
    d = Im2GPSDescriptor(descriptors=SMALL, n_textons=8, block_weights=weights, random_state=0)
    X = d.fit_transform(photos).astype(np.float64)
    n = len(X)
    for name, s in d.feature_slices_.items():
        b = X[:, s]
        pair_mean = ((b[:, None] - b[None]) ** 2).sum(-1).sum() / (n * (n - 1))  # brute force
        assert pair_mean == pytest.approx((weights or {}).get(name, 1.0), rel=1e-4)
    np.testing.assert_allclose(d.transform(photos), X, rtol=1e-6, atol=1e-7)


def test_hellinger_and_scales_are_the_only_difference_to_raw_blocks(photos):
    raw = Im2GPSDescriptor(descriptors=SMALL, n_textons=8, hellinger=False, normalize_blocks=False,
                           random_state=0).fit(photos)
    d = clone(raw).set_params(hellinger=True, normalize_blocks=True).fit(photos)
    np.testing.assert_array_equal(raw.textons_, d.textons_)
    R, X = raw.transform(photos), d.transform(photos)
    assert set(raw.block_scales_.values()) == {1.0}
    for name, s in d.feature_slices_.items():
        expected = np.sqrt(R[:, s]) if name in ("lab_hist", "texton", "edge_hist") else R[:, s]
        np.testing.assert_allclose(X[:, s], expected * d.block_scales_[name], rtol=1e-5, atol=1e-7)
    for name in ("lab_hist", "texton", "edge_hist"):  # L1-normalised histograms
        np.testing.assert_allclose(R[:, raw.feature_slices_[name]].sum(1), 1, rtol=1e-5)


def test_sklearn_api_contract(photos):
    # sklearn's check_estimator feeds numeric (n, d) matrices; this transformer takes a sequence
    # of images (a 2-D array is refused as ambiguous), so the input-independent checks run here
    # and the rest of the contract (clone, params, not-fitted error, pickling) is tested directly.
    est = Im2GPSDescriptor(descriptors=("tiny5",), n_jobs=1)
    check_no_attributes_set_in_init("Im2GPSDescriptor", est)
    check_parameters_default_constructible("Im2GPSDescriptor", Im2GPSDescriptor())
    check_get_params_invariance("Im2GPSDescriptor", est)
    check_set_params("Im2GPSDescriptor", est)
    with pytest.raises(NotFittedError):
        est.transform(photos)
    c = clone(est).set_params(descriptors=("tiny16",))
    assert c.get_params()["descriptors"] == ("tiny16",) and est.descriptors == ("tiny5",)
    fitted = est.fit(photos)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(photos), fitted.transform(photos))
    assert fitted.transform(photos).dtype == np.float32


@pytest.mark.parametrize("params,match", [
    ({"on_error": "ignore"}, "on_error"),
    ({"n_textons": 1}, "n_textons"),
    ({"descriptors": ("tiny5", "sift")}, "descriptors"),
    ({"descriptors": ("tiny5", "tiny5")}, "descriptors"),
    ({"block_weights": {"gist": 1.0}}, "block_weights"),
    ({"block_weights": {"tiny5": -1.0}}, "block_weights"),
])
def test_bad_parameters(photos, params, match):
    with pytest.raises(ValueError, match=match):
        Im2GPSDescriptor(**{"descriptors": ("tiny5",), **params}).fit(photos)


@pytest.mark.parametrize("images,match", [
    ("photo.jpg", "single path"),
    (np.zeros((4, 4), np.uint8), "pass a list"),
    ([], "no images"),
])
def test_bad_image_collections(images, match):
    with pytest.raises(ValueError, match=match):
        Im2GPSDescriptor(descriptors=("tiny5",)).fit(images)


def test_stacked_array_equals_list(photos):
    d = Im2GPSDescriptor(descriptors=("tiny16", "gist")).fit(photos)
    np.testing.assert_array_equal(d.transform(np.stack(photos)), d.transform(photos))


def test_two_processes_give_the_same_result(photos):
    one = Im2GPSDescriptor(descriptors=SMALL, n_textons=8, random_state=0).fit(photos)
    two = pickle.loads(pickle.dumps(one)).set_params(n_jobs=2)
    np.testing.assert_array_equal(one.transform(photos * 2), two.transform(photos * 2))


def test_dask_backend_in_process_cluster(photos):
    distributed = pytest.importorskip("distributed")
    import joblib

    d = Im2GPSDescriptor(descriptors=SMALL, n_textons=8, random_state=0).fit(photos)
    ref = d.transform(photos * 3)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
            got = d.transform(photos * 3)
    assert len(stream.data) > 0  # the work went through the Dask scheduler
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("side", [640, 1100])  # both large enough for the old reduced decode
def test_a_path_and_its_decoded_pixels_give_the_same_descriptor(tmp_path, side):
    """The same pixels give the same descriptor whether passed as a JPEG path or as an array.

    Reference: the file decoded by OpenCV and by Pillow (libjpeg-turbo both); the
    arrays then go through no file at all.
    """
    import cv2
    from PIL import Image

    rng = np.random.default_rng(side)
    paths = []
    for k in range(3):
        base = rng.integers(0, 256, (12, 16, 3)).astype(np.float32)
        img = np.kron(base, np.ones((side // 12, side // 12, 1), np.float32))
        img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
        path = tmp_path / f"p{k}.jpg"
        Image.fromarray(img).save(path, quality=90)
        paths.append(str(path))
    d = Im2GPSDescriptor(descriptors=SMALL, n_textons=16, random_state=0).fit(paths)
    from_paths = d.transform(paths)
    from_cv2 = d.transform([cv2.imread(p)[..., ::-1] for p in paths])
    from_pil = d.transform([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    np.testing.assert_allclose(from_paths, from_cv2, rtol=0, atol=1e-6)
    # another decoder build may round a few pixels differently: within 1e-3 relative
    assert np.linalg.norm(from_paths - from_pil) <= 1e-3 * np.linalg.norm(from_paths)
