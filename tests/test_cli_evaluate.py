"""Tests of ``dgae evaluate`` (dgae.cli._evaluate)."""
import numpy as np
import pytest

from dgae.cli import main
from dgae._report import accuracy_table, read_predictions
from dgae.utils import great_circle_km


def _write(path, text):
    path.write_text(text)
    return path


def test_evaluate_prints_table_and_writes_png(tmp_path, capsys):
    # errors: 0 km, ~111 km (1 degree of latitude), ~20,000 km (antipode)
    p = _write(tmp_path / "pred.csv",
               "lat,lon,pred_lat,pred_lon\n10,20,10,20\n0,0,1,0\n45,0,-45,180\n")
    assert main(["evaluate", str(p), "--out", str(tmp_path / "c.png"), "--thresholds", "paper"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("pred"))
    cells = row.split()
    # n, 1 km, 25 km, 200 km, 750 km, 2500 km, median
    assert cells[1] == "3"
    assert [float(c) for c in cells[2:7]] == pytest.approx([33.3, 33.3, 66.7, 66.7, 66.7])
    assert float(cells[7]) == pytest.approx(float(great_circle_km([0, 0], [1, 0])), abs=0.1)
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "pred.map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("given, printed", [
    ("auto", "0.1, 0.25, 0.5, 1, 5 km (auto)"),        # one city: thresholds at its own scale
    ("0.05,0.2", "0.05, 0.2 km (given)"),
])
def test_evaluate_thresholds_suit_the_gallery(tmp_path, capsys, given, printed):
    p = _write(tmp_path / "pred.csv", "lat,lon,pred_lat,pred_lon\n45.800,15.970,45.8001,15.970\n"
               "45.810,15.980,45.812,15.980\n45.805,15.990,45.805,15.990\n")
    assert main(["evaluate", str(p), "--no-map", "--out", str(tmp_path / "c.png"),
                 "--thresholds", given]) == 0
    out = capsys.readouterr().out
    assert f"thresholds: {printed}" in out
    row = next(line for line in out.splitlines() if line.startswith("pred"))
    first = float(row.split()[2])        # 0.1 / 0.05 km: errors 11 m, 222 m, 0 m
    assert first == pytest.approx(66.7)


@pytest.mark.parametrize("bad", ["0,1", "one", ""])
def test_evaluate_rejects_bad_thresholds_in_one_line(tmp_path, capsys, bad):
    p = _write(tmp_path / "pred.csv", "lat,lon,pred_lat,pred_lon\n1,2,1,2\n")
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(p), "--thresholds", bad])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--thresholds" in err[-1] and "positive distances" in err[-1]


def test_methods_column_and_join_on_path(tmp_path):
    truth = _write(tmp_path / "photos.csv", "path,lat,lon\na.jpg,0,0\nb.jpg,10,10\n")
    pred = _write(tmp_path / "p.csv",
                  "path,pred_lat,pred_lon,method\na.jpg,0,0,LF\nb.jpg,0,0,LF\n"
                  "a.jpg,0,0,DGAE\nb.jpg,10,10,DGAE\n")
    pairs = read_predictions(pred, truth=truth)
    assert list(pairs) == ["LF", "DGAE"]
    np.testing.assert_array_equal(pairs["LF"][0], [[0, 0], [10, 10]])
    np.testing.assert_array_equal(pairs["DGAE"][1], [[0, 0], [10, 10]])


@pytest.mark.parametrize("text,truth,match", [
    ("lat,lon,pred_lat\n0,0,0\n", None, "pred_lon"),
    ("lat,lon,pred_lat,pred_lon\n0,0,x,0\n", None, "line 2"),
    ("path,pred_lat,pred_lon\na.jpg,0,0\n", None, "--truth"),
    ("path,pred_lat,pred_lon\nz.jpg,0,0\n", "path,lat,lon\na.jpg,0,0\n", "z.jpg"),
])
def test_bad_files(tmp_path, text, truth, match):
    p = _write(tmp_path / "p.csv", text)
    t = _write(tmp_path / "t.csv", truth) if truth else None
    with pytest.raises(ValueError, match=match):
        read_predictions(p, truth=t)


def test_accuracy_table_extra_columns():
    table = accuracy_table({"A": [1, 2], "B": [3000, 4000]}, thresholds_km=(2,),
                           extra={"A": {"fit s": "1.5"}, "B": {"fit s": "2.5"}})
    lines = table.splitlines()
    assert lines[0].split()[-2:] == ["fit", "s"]
    assert lines[1].split() == ["A", "2", "100.0", "1.5", "1.5"]
    assert lines[2].split() == ["B", "2", "0.0", "3500.0", "2.5"]


def test_rows_without_a_prediction_are_left_out_with_a_warning(tmp_path):
    """dgae predict leaves the columns of an unreadable photo empty; evaluate counts them."""
    p = _write(tmp_path / "p.csv", "path,pred_lat,pred_lon,error\na.jpg,0,0,\nb.jpg,,,empty file\n")
    t = _write(tmp_path / "t.csv", "path,lat,lon\na.jpg,0,1\nb.jpg,5,5\n")
    with pytest.warns(UserWarning, match="1 row"):
        pairs = read_predictions(p, truth=t)
    np.testing.assert_array_equal(pairs["p"][0], [[0, 1]])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no row has both"):
        read_predictions(_write(tmp_path / "q.csv", "path,pred_lat,pred_lon\nb.jpg,,\n"), truth=t)


def test_prediction_map_lines_join_truth_to_prediction():
    import matplotlib

    matplotlib.use("Agg")
    from dgae.plotting import plot_prediction_map

    true, pred = np.array([[45.0, 15.0], [10.0, 20.0]]), np.array([[46.0, 15.0], [10.0, 30.0]])
    ax = plot_prediction_map(true, pred)
    segments = np.array(ax.collections[-1].get_segments())  # the longest first
    np.testing.assert_allclose(segments[0], [[20.0, 10.0], [30.0, 10.0]])  # lon, lat
    np.testing.assert_allclose(segments[1], [[15.0, 45.0], [15.0, 46.0]])
    np.testing.assert_allclose(ax.collections[-1].get_array(),
                               great_circle_km(true, pred)[::-1], rtol=1e-9)
