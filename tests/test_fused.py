"""FusedDescriptor / make_descriptor and ``dgae fit --descriptor``."""
import json

import joblib
import numpy as np
import pytest

from dgae.cli import main
from dgae.features import FusedDescriptor, Im2GPSDescriptor, make_descriptor


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    return list(rng.integers(0, 256, (12, 32, 40, 3), dtype=np.uint8))


def _two_blocks():
    return FusedDescriptor([Im2GPSDescriptor(descriptors=("tiny5",)),
                            ("colour", Im2GPSDescriptor(descriptors=("lab_hist",)))])


def test_each_block_has_an_equal_share_of_the_squared_distance(photos):
    fused = _two_blocks()
    X = fused.fit_transform(photos)
    # the expected squared distance between two photos, block by block, by brute force
    for s in fused.feature_slices_.values():
        B = X[:, s].astype(np.float64)
        pairs = [((B[i] - B[j]) ** 2).sum() for i in range(len(B)) for j in range(len(B)) if i != j]
        assert np.mean(pairs) == pytest.approx(1.0, rel=1e-4)
    assert list(fused.feature_slices_) == ["im2gps", "colour"]
    np.testing.assert_allclose(fused.transform(photos), X, rtol=1e-5)  # described the same way


def test_round_trip_and_errors(photos, tmp_path):
    fused = _two_blocks().fit(photos)
    clone = joblib.load(joblib.dump(fused, tmp_path / "f.joblib")[0])
    np.testing.assert_array_equal(clone.transform(photos[:3]), fused.transform(photos[:3]))
    fused.set_params(on_error="skip")
    with pytest.warns(UserWarning):
        X = fused.transform([photos[0], str(tmp_path / "missing.jpg")])
    assert np.isfinite(X[0]).all() and np.isnan(X[1]).all()
    assert [e[0] for e in fused.errors_] == [1]


@pytest.mark.parametrize("spec, kind", [("im2gps", "Im2GPSDescriptor"), ("cnn", "CNNDescriptor"),
                                        ("cnn:lite2", "CNNDescriptor"), ("fused", "FusedDescriptor")])
def test_make_descriptor_names(spec, kind):
    assert type(make_descriptor(spec)).__name__ == kind


@pytest.mark.parametrize("spec, message", [("resnet", "unknown descriptor"),
                                           ("no/such.json", "no such descriptor configuration"),
                                           ({"encoder": "keras"}, "'encoder' must be one of"),
                                           ({"encoder": "onnx", "colour": 1}, "unexpected keyword")])
def test_make_descriptor_refuses_what_it_cannot_build(spec, message):
    with pytest.raises(ValueError, match=message):
        make_descriptor(spec)


def test_fit_with_a_descriptor_configuration(tmp_path, capsys):
    """dgae fit --descriptor CONFIG.json: the model keeps it; predict describes queries with it."""
    from dgae.datasets import make_city_world

    world = make_city_world(n_images=40, image_size=48, random_state=0, out_dir=tmp_path / "p")
    lines = (tmp_path / "p" / "photos.csv").read_text().splitlines()
    (tmp_path / "p" / "gallery.csv").write_text("\n".join(lines[:31]) + "\n")
    (tmp_path / "p" / "queries.csv").write_text("\n".join([lines[0]] + lines[31:]) + "\n")
    config = {"encoder": "fused", "parts": [{"encoder": "im2gps", "descriptors": ["tiny5"]},
                                            {"encoder": "im2gps", "descriptors": ["lab_hist"]}]}
    (tmp_path / "d.json").write_text(json.dumps(config))
    model = tmp_path / "m.joblib"
    assert main(["fit", str(tmp_path / "p" / "gallery.csv"), "--out", str(model), "-q",
                 "--descriptor", str(tmp_path / "d.json"), "--layers", "8,4", "--max-iter", "3"]) == 0
    pipe = joblib.load(model)
    assert isinstance(pipe[0], FusedDescriptor) and pipe[0].n_features_out_ == 75 + 784
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(tmp_path / "p" / "queries.csv"), "--out", str(out),
                 "-q"]) == 0
    rows = [r.split(",") for r in out.read_text().splitlines()[1:]]
    pred = np.array([[float(r[1]), float(r[2])] for r in rows])
    np.testing.assert_array_equal(pred, pipe.predict([str(tmp_path / "p" / r[0]) if not r[0].startswith("/")
                                                      else r[0] for r in rows]))
    assert len(world.images) == 40
