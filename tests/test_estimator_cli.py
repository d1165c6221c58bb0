"""``dgae fit`` / ``dgae predict`` round trip."""
import csv

import joblib
import numpy as np
import pytest

from dgae.cli import main


def test_fit_then_predict_cli(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 32
    X = rng.random((n, 6)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    lat, lon = 45 + np.arange(n) % 4, 15 + np.arange(n) % 4 + 1e-4 * np.arange(n)
    with open(tmp_path / "photos.csv", "w") as f:
        f.write("path,lat,lon,area\n")
        for i in range(n):
            f.write(f"img{i}.jpg,{lat[i]},{lon[i]},a{i % 2}\n")
    model_path, pred_path = tmp_path / "m.joblib", tmp_path / "pred.csv"
    assert main(["fit", str(tmp_path / "X.npy"), str(tmp_path / "photos.csv"), "--out", str(model_path),
                 "--hidden", "8,4", "--k1", "3", "--k2", "3", "--max-iter", "4", "--batch-size", "full",
                 "--areas-column", "area", "--device", "cpu", "--index", "ivf"]) == 0
    model = joblib.load(model_path)
    assert model.hidden_layer_sizes == (8, 4) and model.batch_size_ is None and model.n_iter_ == 4
    assert model.index == "ivf" and type(model.knn_.index_).__name__ == "IVFIndex"
    assert main(["predict", str(model_path), str(tmp_path / "X.npy"), "--out", str(pred_path),
                 "--photos", str(tmp_path / "photos.csv"), "--head", "kde"]) == 0
    rows = list(csv.DictReader(open(pred_path)))
    assert [r["path"].endswith(f"img{i}.jpg") for i, r in enumerate(rows)] == [True] * n
    got = np.array([[float(r["pred_lat"]), float(r["pred_lon"])] for r in rows])
    np.testing.assert_allclose(got, model.set_params(head="kde").predict(X), atol=1e-6)
    assert "wrote 32 predictions" in capsys.readouterr().out


def _tiny_model(tmp_path):
    from dgae import DGAE

    rng = np.random.default_rng(0)
    X = rng.random((24, 4)).astype(np.float32)
    gps = np.column_stack([45 + np.arange(24) % 3, 15 + np.arange(24) % 4 + 1e-4 * np.arange(24)])
    np.save(tmp_path / "X.npy", X)
    path = tmp_path / "m.joblib"
    joblib.dump(DGAE(hidden_layer_sizes=(4, 2), k1=2, k2=2, max_iter=2, random_state=0).fit(X, gps),
                path)
    return path


@pytest.mark.parametrize("content", [b"\x00\x01random bytes\xff" * 40, b"path,lat,lon\na.jpg,1,2\n",
                                     "npy", "array-pickle"])
def test_predict_names_a_file_that_is_not_a_model(tmp_path, capsys, content):
    """Random bytes, a CSV, a feature .npy, another pickled object: one line, exit 2."""
    _tiny_model(tmp_path)
    bad = tmp_path / "bad.joblib"
    if content == "npy":
        bad = tmp_path / "X.npy"
    elif content == "array-pickle":
        joblib.dump(np.zeros(3), bad)
    else:
        bad.write_bytes(content)
    code = main(["predict", str(bad), str(tmp_path / "X.npy"), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"{bad} is not a dgae model" in err[0]
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_unwritable_out_fails_before_any_work(tmp_path, capsys, command):
    model = _tiny_model(tmp_path)
    out = "/nonexistent-dir/out.file"
    with open(tmp_path / "photos.csv", "w") as f:
        f.write("path,lat,lon\n" + "".join(f"i{i}.jpg,{45 + i % 3},{15 + i % 4}\n" for i in range(24)))
    args = {"fit": ["fit", str(tmp_path / "X.npy"), str(tmp_path / "photos.csv"), "--out", out],
            "predict": ["predict", str(model), str(tmp_path / "X.npy"), "--out", out]}[command]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "/nonexistent-dir does not exist" in err[0]
