"""``dgae fit`` / ``dgae predict`` round trip."""
import csv

import joblib
import numpy as np

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
