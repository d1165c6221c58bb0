"""Encoders from local files (torch module, timm, OpenCLIP, ONNX): the output is the model run by
hand on the same pixels, nothing is downloaded, and other weights never reuse a feature cache.

Each test needs its optional package and skips without it (the ``cnn`` extra and friends are
absent in CI).  The models are tiny, randomly initialised and saved by the test itself.
"""
import json
import pickle
import socket

import cv2
import joblib
import numpy as np
import pytest

from dgae.features import (IMAGENET_MEAN, IMAGENET_STD, ONNXEncoder, OpenCLIPEncoder, TimmEncoder,
                           TorchEncoder, extract_to_npy)


@pytest.fixture
def photos():
    rng = np.random.default_rng(0)
    return list(rng.integers(0, 256, size=(3, 40, 56, 3), dtype=np.uint8))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("an encoder tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _by_hand(photos, size, mean, std, crop=False):
    """The preprocessing written out independently: RGB/255, resize (or short side + centre
    crop), minus mean, over std, channels first."""
    out = []
    for p in photos:
        if crop:
            h, w = p.shape[:2]
            s = size / min(h, w)
            nh, nw = max(size, round(h * s)), max(size, round(w * s))
            p = cv2.resize(p, (nw, nh), interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
            t, l = (nh - size) // 2, (nw - size) // 2
            p = p[t:t + size, l:l + size]
        else:
            p = cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA)
        x = (p.astype(np.float32) / 255 - np.float32(mean)) / np.float32(std)
        out.append(x.transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def _l2(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _tiny_net(torch, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())


def test_torch_module_output_is_the_module_run_by_hand(photos, no_network):
    torch = pytest.importorskip("torch")
    net = _tiny_net(torch)
    enc = TorchEncoder(net, input_size=32, batch_size=2).fit()
    with torch.inference_mode():
        ref = net(torch.from_numpy(_by_hand(photos, 32, IMAGENET_MEAN, IMAGENET_STD))).numpy()
    np.testing.assert_allclose(enc.transform(photos), _l2(ref), rtol=1e-5, atol=1e-6)
    clone = pickle.loads(pickle.dumps(enc))  # the forward pass is rebuilt after loading
    np.testing.assert_array_equal(clone.transform(photos), enc.transform(photos))
    assert clone.weights_sha1_ == enc.weights_sha1_


def test_onnx_file_gives_what_torch_gives(photos, tmp_path, no_network):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = _tiny_net(torch).eval()
    path = tmp_path / "tiny.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), str(path), input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    enc = ONNXEncoder(str(path), batch_size=2).fit()
    assert enc.input_size_ == 32  # read from the file
    np.testing.assert_allclose(enc.transform(photos), TorchEncoder(net, input_size=32).fit()
                               .transform(photos), rtol=1e-4, atol=1e-5)
    from dgae.features._encoders import file_sha1

    assert enc.weights_sha1_ == file_sha1(path)
    clone = joblib.load(joblib.dump(enc, tmp_path / "enc.joblib")[0])  # the session is rebuilt
    np.testing.assert_array_equal(clone.transform(photos), enc.transform(photos))


@pytest.mark.parametrize("make", [
    lambda: TimmEncoder("resnet18"),
    lambda: TimmEncoder("resnet18", weights="https://example.org/resnet18.pth"),
    lambda: OpenCLIPEncoder("ViT-B-32", weights=None),
    lambda: OpenCLIPEncoder("hf-hub:laion/CLIP-ViT-B-32", weights="w.bin"),
    lambda: ONNXEncoder(None),
])
def test_a_configuration_that_would_download_names_the_argument(make, no_network):
    with pytest.raises(ValueError, match=r"never downloads|local file"):
        make().fit()


def test_a_missing_package_names_its_extra(tmp_path, monkeypatch):
    import sys

    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install "dgae\[onnx\]"'):
        ONNXEncoder(str(tmp_path / "m.onnx")).fit()


def test_a_cache_made_with_other_weights_is_refused(photos, tmp_path):
    torch = pytest.importorskip("torch")
    out = tmp_path / "f.npy"
    extract_to_npy(photos, out, TorchEncoder(_tiny_net(torch, 0), input_size=32).fit())
    with pytest.raises(ValueError, match="another fitted descriptor"):
        extract_to_npy(photos, out, TorchEncoder(_tiny_net(torch, 1), input_size=32).fit())
    # the same weights resume (nothing to do)
    extract_to_npy(photos, out, TorchEncoder(_tiny_net(torch, 0), input_size=32, n_jobs=2).fit())


def test_timm_architecture_with_a_local_weights_file(photos, tmp_path, no_network):
    timm = pytest.importorskip("timm")
    torch = pytest.importorskip("torch")
    model = timm.create_model("test_resnet", pretrained=False)
    path = tmp_path / "w.pth"
    torch.save(model.state_dict(), path)
    enc = TimmEncoder("test_resnet", str(path)).fit()
    cfg = model.pretrained_cfg
    assert enc.input_size_ == cfg["input_size"][-1] and enc.mean_ == tuple(cfg["mean"])
    model.reset_classifier(0)
    model.eval()
    with torch.inference_mode():
        ref = model(torch.from_numpy(_by_hand(photos, enc.input_size_, cfg["mean"], cfg["std"],
                                              crop=True))).numpy()
    np.testing.assert_allclose(enc.transform(photos), _l2(ref), rtol=1e-4, atol=1e-5)
    other = tmp_path / "other.pth"
    torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), other)
    assert TimmEncoder("test_resnet", str(other)).fit().weights_sha1_ != enc.weights_sha1_


def test_open_clip_image_tower_with_a_local_checkpoint(photos, tmp_path, no_network):
    open_clip = pytest.importorskip("open_clip")
    torch = pytest.importorskip("torch")
    config = {"embed_dim": 16,
              "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8,
                             "head_width": 16},
              "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2,
                           "layers": 1}}
    (tmp_path / "tiny-clip-test.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / "tiny-clip-test.json")
    model = open_clip.create_model("tiny-clip-test", pretrained=None)
    path = tmp_path / "clip.pt"
    torch.save(model.state_dict(), path)
    enc = OpenCLIPEncoder("tiny-clip-test", str(path)).fit()
    assert enc.input_size_ == 32 and enc.n_features_out_ == 16
    model.eval()
    with torch.inference_mode():
        ref = model.encode_image(torch.from_numpy(_by_hand(photos, 32, enc.mean_, enc.std_,
                                                           crop=True))).numpy()
    np.testing.assert_allclose(enc.transform(photos), _l2(ref), rtol=1e-4, atol=1e-5)
