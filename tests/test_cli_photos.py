"""From a folder of photos to predictions: ``dgae fit PHOTOS.csv``, ``dgae predict``, the Pipeline.

The reference for every CLI result is the scikit-learn Pipeline fitted in
Python on the same photos with the same defaults and seed.
"""
import csv
import re
import shutil

import joblib
import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import Pipeline

from dgae import DGAE
from dgae.cli import main
from dgae.datasets import make_city_world
from dgae.features import Im2GPSDescriptor

pytestmark = pytest.mark.filterwarnings("ignore:early stopping skipped")
SMALL = ["--layers", "16,8", "--max-iter", "5"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """60 synthetic photo files; the first 45 are the gallery, the rest the queries."""
    root = tmp_path_factory.mktemp("photos")
    make_city_world(n_images=60, image_size=64, random_state=0, out_dir=root)
    rows = list(csv.DictReader(open(root / "photos.csv")))
    for name, part in (("gallery.csv", rows[:45]), ("queries.csv", rows[45:])):
        with open(root / name, "w") as f:
            f.write("path,lat,lon\n")
            f.writelines(f"{r['path']},{r['lat']},{r['lon']}\n" for r in part)
    paths = [str(root / r["path"]) for r in rows]
    gps = np.array([[float(r["lat"]), float(r["lon"])] for r in rows])
    return root, paths, gps


def _predictions(path):
    return list(csv.DictReader(open(path)))


def _latlon(rows):
    return np.array([[float(r["pred_lat"]), float(r["pred_lon"])] for r in rows])


def test_fit_predict_from_photos_equals_the_python_pipeline(photos, tmp_path, capsys):
    root, paths, gps = photos
    model, out = tmp_path / "model.joblib", tmp_path / "pred.csv"
    assert main(["fit", str(root / "gallery.csv"), "--out", str(model), "-q", *SMALL]) == 0
    assert main(["predict", str(model), str(root / "queries.csv"), "--out", str(out), "-q",
                 "--top-k", "3"]) == 0
    rows = _predictions(out)
    assert [r["path"] for r in rows] == paths[45:]
    loaded = joblib.load(model)
    assert isinstance(loaded, Pipeline) and isinstance(loaded[-1], DGAE)
    reference = Pipeline([("descriptor", Im2GPSDescriptor(random_state=0)),
                          ("dgae", DGAE(hidden_layer_sizes=(16, 8), max_iter=5, random_state=0))])
    reference.fit(paths[:45], gps[:45])
    expected = reference.predict(paths[45:])
    np.testing.assert_allclose(loaded.predict(paths[45:]), expected, rtol=0, atol=0)
    np.testing.assert_array_equal(_latlon(rows), expected)  # the CSV round-trips the floats
    # the extra columns against their definitions
    details = reference[-1].predict_details(reference[0].transform(paths[45:]), top_k=3)
    np.testing.assert_allclose([float(r["confidence"]) for r in rows], details.confidence, atol=1e-3)
    np.testing.assert_allclose([float(r["confidence_seen"]) for r in rows], details.confidence_seen,
                               atol=1e-3)
    assert {float(r["confidence_km"]) for r in rows} == {details.confidence_km}
    np.testing.assert_allclose([float(r["top1_lat"]) for r in rows], details.topk[:, 0, 0], atol=1e-6)
    space = reference[-1].retrieval_features(reference[0].transform(paths[45:]))
    nearest = np.sqrt(((space[:, None] - reference[-1].knn_.features_[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose([float(r["match_distance"]) for r in rows], nearest, rtol=1e-4)


def test_fit_from_features_and_descriptor_reuse(photos, tmp_path):
    """The two-positional form keeps working; extract --descriptor-from uses the model's."""
    root, paths, gps = photos
    feats = tmp_path / "gallery.npy"
    assert main(["extract", str(root / "gallery.csv"), "--out", str(feats), "-q"]) == 0
    model = tmp_path / "m.joblib"
    assert main(["fit", str(feats), str(root / "gallery.csv"), "--out", str(model), "-q", *SMALL]) == 0
    pipe = joblib.load(model)  # the extraction's descriptor travels with the model
    assert isinstance(pipe, Pipeline)
    qfeats = tmp_path / "queries.npy"
    assert main(["extract", str(root / "queries.csv"), "--out", str(qfeats), "-q",
                 "--descriptor-from", str(model)]) == 0
    np.testing.assert_allclose(np.load(qfeats), pipe[0].transform(paths[45:]), rtol=1e-6)
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(qfeats), "--out", str(out), "-q"]) == 0
    np.testing.assert_allclose(_latlon(_predictions(out)), pipe.predict(paths[45:]), atol=1e-6)


def test_broken_photos_are_left_out_with_a_count(photos, tmp_path, capsys):
    root, paths, gps = photos
    folder = tmp_path / "set"
    shutil.copytree(root / "images", folder / "images")
    (folder / "images" / "000003.jpg").write_bytes(b"not a jpeg")
    shutil.copy(root / "gallery.csv", folder / "gallery.csv")
    model = tmp_path / "m.joblib"
    assert main(["fit", str(folder / "gallery.csv"), "--out", str(model), "-q", *SMALL]) == 0
    # the CLI prints a warning as one line, not Python's "file:line: UserWarning" form
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.fullmatch(
        r"dgae: warning: 1 of 45 gallery photos could not be described .*errors\.jsonl\)", err[0])
    assert len(joblib.load(model)[-1].gallery_gps_) == 44
    # a folder of queries with one broken file: one row says why, the others are predicted
    queries = tmp_path / "queries"
    queries.mkdir()
    for p in paths[45:50]:
        shutil.copy(p, queries)
    (queries / "zz_broken.jpg").write_bytes(b"")
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(queries), "--out", str(out), "-q"]) == 0
    out_text, err = capsys.readouterr()
    assert "dgae: warning: 1 of 6 photos could not be read" in err and "5 predictions" in out_text
    rows = _predictions(out)
    assert [r["error"] for r in rows[:5]] == [""] * 5 and rows[5]["pred_lat"] == ""
    assert "empty file" in rows[5]["error"]
    assert not list(tmp_path.glob("p.csv.features*"))  # the default cache goes once written
    # Python gives what the CLI wrote: NaN and a warning for the unreadable photo, the rest kept
    listed = sorted(str(p) for p in queries.iterdir())
    with pytest.warns(UserWarning, match="1 of 6 photos could not be read"):
        pred = joblib.load(model).predict(listed)
    assert np.isnan(pred[5]).all()
    np.testing.assert_array_equal(_latlon(rows[:5]), pred[:5])


def test_exif_truth_and_compact_model(photos, tmp_path):
    root, paths, gps = photos
    model, small = tmp_path / "m.joblib", tmp_path / "small.joblib"
    cache = str(tmp_path / "cache.npy")
    assert main(["fit", str(root / "gallery.csv"), "--out", str(model), "-q", "--cache", cache]) == 0
    assert main(["fit", str(root / "gallery.csv"), "--out", str(small), "-q", "--cache", cache,
                 "--compact"]) == 0
    assert small.stat().st_size < 0.6 * model.stat().st_size
    np.testing.assert_array_equal(joblib.load(small).predict(paths[45:]),
                                  joblib.load(model).predict(paths[45:]))
    with pytest.raises(ValueError, match="compacted"):
        joblib.load(small)[-1].partial_fit(joblib.load(small)[0].transform(paths[:2]), gps[:2])
    # EXIF GPS on one query: the error against it is reported
    folder = tmp_path / "q"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (45.0, 30.0, 0.0), 3: "E", 4: (15.0, 0.0, 0.0)}
    Image.open(paths[50]).save(folder / "a.jpg", exif=exif)
    shutil.copy(paths[51], folder / "b.jpg")
    out = tmp_path / "p.csv"
    assert main(["predict", str(small), str(folder), "--out", str(out), "-q", "--truth", "exif"]) == 0
    a, b = _predictions(out)
    assert float(a["lat"]) == pytest.approx(45.5) and float(a["lon"]) == pytest.approx(15.0)
    from dgae.geo import great_circle_km

    expected = great_circle_km([45.5, 15.0], [float(a["pred_lat"]), float(a["pred_lon"])])
    assert float(a["error_km"]) == pytest.approx(float(expected), abs=1e-3)
    assert b["lat"] == b["error_km"] == ""


def test_resumed_description_says_so_and_other_descriptors_are_refused(photos, tmp_path, capsys):
    root, paths, gps = photos
    model = tmp_path / "m.joblib"
    args = ["fit", str(root / "gallery.csv"), "--out", str(model), *SMALL]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "resuming" in capsys.readouterr().out
    # a query cache made with one model's descriptor is refused for another's
    cache = str(tmp_path / "q.npy")
    out = str(tmp_path / "p.csv")
    assert main(["predict", str(model), str(root / "queries.csv"), "--out", out, "-q",
                 "--cache", cache]) == 0
    other = tmp_path / "other.joblib"
    assert main(["fit", str(root / "queries.csv"), "--out", str(other), "-q", *SMALL]) == 0
    assert main(["predict", str(other), str(root / "queries.csv"), "--out", out, "-q",
                 "--cache", cache]) == 2
    assert "another fitted descriptor" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["fit", "no/such.csv", "--out", "m.joblib"], "no/such.csv"),
    (["predict", "no/model.joblib", "q.csv", "--out", "p.csv"], "no/model.joblib: no such model file"),
    (["fit", "X.npy", "--out", "m.joblib"], "needs its PHOTOS.csv"),
    (["evaluate", "no/pred.csv"], "No such file"),
])
def test_errors_are_one_line_with_exit_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dgae: error: ") and message in err and err.count("\n") == 1
    with pytest.raises((ValueError, OSError)):
        main(["--debug", *argv])


@pytest.mark.parametrize("command,shown", [("fit", "(default: auto)"), ("predict", "(default: 0)"),
                                           ("extract", "(default: 1024)"), ("demo", "(default: 2000)")])
def test_help_shows_defaults(command, shown, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert shown in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("old,new", [(["--hidden", "8,4"], ["--layers", "8,4"]),
                                     (["--lr", "0.01"], ["--learning-rate", "0.01"]),
                                     (["--random-state", "3"], ["--seed", "3"])])
def test_old_flag_spellings_still_parse(old, new):
    from dgae.cli import build_parser

    parse = build_parser().parse_args
    assert vars(parse(["fit", "p.csv", "--out", "m", *old])) == vars(parse(["fit", "p.csv", "--out", "m", *new]))


def test_pipeline_names_the_unreadable_photo(photos, tmp_path):
    root, paths, gps = photos
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"GIF89a broken")
    gallery = paths[:10] + [str(bad)]
    pipe = Pipeline([("descriptor", Im2GPSDescriptor(random_state=0)),
                     ("dgae", DGAE(hidden_layer_sizes=(8, 4), max_iter=2))])
    with pytest.raises(ValueError, match="bad.jpg"):
        pipe.fit(gallery, gps[:11])
    pipe.set_params(descriptor__on_error="skip")
    with pytest.raises(ValueError, match="X row 10 contains NaN"):
        pipe.fit(gallery, gps[:11])


def test_split_model_shapes():
    from sklearn.preprocessing import StandardScaler

    from dgae.cli._common import split_model

    d, e = Im2GPSDescriptor(), DGAE()
    assert split_model(e) == (None, e)
    assert split_model(Pipeline([("d", d), ("e", e)])) == (d, e)
    assert split_model(Pipeline([("e", e)])) == (None, e)
    with pytest.raises(ValueError, match="3 steps"):
        split_model(Pipeline([("d", d), ("s", StandardScaler()), ("e", e)]))


def test_fit_describes_each_photo_once(photos, tmp_path, monkeypatch):
    """A gallery within the descriptor's fit sample is described by the fit, not again."""
    root, paths, gps = photos
    monkeypatch.setattr(Im2GPSDescriptor, "transform",
                        lambda *a, **k: pytest.fail("dgae fit described the photos twice"))
    assert main(["fit", str(root / "gallery.csv"), "--out", str(tmp_path / "m.joblib"), "-q",
                 *SMALL]) == 0
