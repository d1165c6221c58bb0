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
                 "--areas-column", "area", "--device", "cpu", "--index", "ivf",
                 "--new-place-share", "1"]) == 0
    model = joblib.load(model_path)
    assert model.hidden_layer_sizes == (8, 4) and model.batch_size_ is None and model.n_iter_ == 4
    assert model.new_place_share == 1.0
    assert model.knn.index == "ivf" and model.knn.head == "auto"  # the CLI composes the retrieval
    assert type(model.knn_.index_).__name__ == "IVFIndex"
    assert main(["predict", str(model_path), str(tmp_path / "X.npy"), "--out", str(pred_path),
                 "--photos", str(tmp_path / "photos.csv"), "--head", "kde"]) == 0
    rows = list(csv.DictReader(open(pred_path)))
    assert [r["path"].endswith(f"img{i}.jpg") for i, r in enumerate(rows)] == [True] * n
    got = np.array([[float(r["pred_lat"]), float(r["pred_lon"])] for r in rows])
    np.testing.assert_allclose(got, model.set_head("kde").predict(X), atol=1e-6)
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


@pytest.mark.parametrize("command", ["fit", "predict", "extract", "evaluate"])
def test_unwritable_out_fails_before_any_work(tmp_path, capsys, command):
    model = _tiny_model(tmp_path)
    out = "/nonexistent-dir/out.file"
    with open(tmp_path / "photos.csv", "w") as f:
        f.write("path,lat,lon\n" + "".join(f"i{i}.jpg,{45 + i % 3},{15 + i % 4}\n" for i in range(24)))
    args = {"fit": ["fit", str(tmp_path / "X.npy"), str(tmp_path / "photos.csv"), "--out", out],
            "predict": ["predict", str(model), str(tmp_path / "X.npy"), "--out", out],
            "extract": ["extract", str(tmp_path / "photos.csv"), "--out", out],
            "evaluate": ["evaluate", str(tmp_path / "photos.csv"), "--out", out]}[command]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "/nonexistent-dir does not exist" in err[0]


def test_a_model_saved_by_another_version_warns_with_both(tmp_path, capsys, monkeypatch):
    import dgae.base

    monkeypatch.setattr(dgae.base, "__version__", "0.0.9")
    model = _tiny_model(tmp_path)  # saved by "0.0.9"
    monkeypatch.undo()
    monkeypatch.setattr(dgae.base, "_VERSIONS_WARNED", set())
    assert main(["predict", str(model), str(tmp_path / "X.npy"), "--out", str(tmp_path / "p.csv"),
                 "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dgae: warning: ")
    assert "saved by dgae 0.0.9 and is loaded by dgae 0.1.0" in err[0]
    # the same model saved by this version loads silently
    _tiny_model(tmp_path)
    monkeypatch.setattr(dgae.base, "_VERSIONS_WARNED", set())
    assert main(["predict", str(model), str(tmp_path / "X.npy"), "--out", str(tmp_path / "p.csv"),
                 "-q"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("k", ["-1", "x"])
def test_negative_top_k_is_refused(tmp_path, capsys, k):
    model = _tiny_model(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["predict", str(model), str(tmp_path / "X.npy"), "--out", "p.csv", "--top-k", k])
    assert e.value.code == 2 and "--top-k" in capsys.readouterr().err


@pytest.mark.parametrize("k", [3, 1000])
def test_top_k_writes_no_column_that_no_row_fills(tmp_path, capsys, k):
    import csv

    model = _tiny_model(tmp_path)
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(tmp_path / "X.npy"), "--out", str(out),
                 "--top-k", str(k)]) == 0
    rows = list(csv.DictReader(open(out)))
    written = sorted({int(c[3:].split("_")[0]) for c in rows[0] if c.startswith("top")})
    assert written == list(range(1, len(written) + 1))
    assert any(r[f"top{written[-1]}_lat"] for r in rows)  # the last candidate column is used
    err = capsys.readouterr().err
    if k == 3:
        assert written == [1, 2, 3] and "--top-k" not in err
    else:
        assert len(written) <= 24 and f"--top-k 1000: the gallery offers at most {len(written)} " in err


def test_fit_on_an_empty_or_unlocated_folder_says_what_it_found(tmp_path, capsys):
    from PIL import Image

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["fit", str(empty), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "no photo files" in capsys.readouterr().err
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(empty / "a.jpg")
    assert main(["fit", str(empty), "--out", str(tmp_path / "m.joblib")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"dgae: error: {empty}: none of its 1 photos has a GPS position in its EXIF; "
                   "give a CSV with path,lat,lon instead")
    assert main(["fit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_predictions_name_the_nearest_place(tmp_path):
    from dgae.geo import place_labels

    model = _tiny_model(tmp_path)
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(tmp_path / "X.npy"), "--out", str(out), "-q",
                 "--top-k", "2"]) == 0
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    pred = np.array([[float(r["pred_lat"]), float(r["pred_lon"])] for r in rows])
    assert [r["place"] for r in rows] == place_labels(pred)
    assert [r["nearest_place"] for r in rows] == place_labels(pred, fine=True)
    top2 = np.array([[float(r["top2_lat"]), float(r["top2_lon"])] for r in rows])
    assert [r["top2_place"] for r in rows] == place_labels(top2)
    top1 = np.array([[float(r["top1_lat"]), float(r["top1_lon"])] for r in rows])
    assert (np.abs(top1 - top2).max(axis=1) > 0).all()  # distinct candidate locations


def test_ctrl_c_keeps_what_was_described_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    from PIL import Image

    from dgae.features import Im2GPSDescriptor, _extract

    rng = np.random.default_rng(0)
    lines = ["path,lat,lon"]
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png,45,15")
    (tmp_path / "photos.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(_extract, "_STEP_PER_WORKER", 5)
    real, calls = Im2GPSDescriptor.transform, []

    def ctrl_c_at_the_third_step(self, images):
        calls.append(len(images))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, images)

    monkeypatch.setattr(Im2GPSDescriptor, "transform", ctrl_c_at_the_third_step)
    out = tmp_path / "f.npy"
    args = ["extract", str(tmp_path / "photos.csv"), "--out", str(out), "--fit-size", "10",
            "--n-textons", "8", "--n-jobs", "1", "-q"]
    assert main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"dgae: interrupted: 20 of 30 photos described, kept in {out}; "
                   "run the same command to resume"]
    calls.clear()
    monkeypatch.setattr(Im2GPSDescriptor, "transform", real)
    assert main(args) == 0  # the same command finishes the other 10
    assert np.isfinite(np.load(out)).all()


def test_pickling_leaves_the_model_as_it_was(tmp_path):
    import pickle

    from dgae import GeoKNN

    model = GeoKNN().fit(np.arange(6.0).reshape(3, 2), [[0, 0], [1, 1], [2, 2]])
    before = dict(vars(model))
    pickle.dumps(model)
    assert vars(model).keys() == before.keys()  # the version goes in the pickle, not the model
