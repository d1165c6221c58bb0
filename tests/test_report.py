"""``dgae report``: one self-contained HTML file that renders every row in a real browser."""
import csv
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from PIL import Image

from dgae.cli import main

N = 60


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    """60 photos (written here) with truth, predictions, confidences; one could not be read."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(N):
        path = f"photos/{i:03d}.jpg"
        (root / "photos").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(root / path)
        lat, lon = 45.0 + rng.normal(0, 0.5), 16.0 + rng.normal(0, 0.8)
        bad = i == 7
        rows.append({"path": path, "lat": lat, "lon": lon,
                     "pred_lat": "" if bad else lat + rng.normal(0, 0.1),
                     "pred_lon": "" if bad else lon + rng.normal(0, 0.1),
                     "confidence": "" if bad else rng.uniform(),
                     "confidence_seen": "" if bad else 0.5 + i / 1000, "confidence_km": 1,
                     "top1_lat": "" if bad else lat, "top1_lon": "" if bad else lon,
                     "error": "photos/007.jpg: empty file" if bad else ""})
    with open(root / "p.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = root / "report.html"
    assert main(["report", str(root / "p.csv"), "--out", str(out)]) == 0
    return root, out


def test_report_is_one_offline_file(predictions):
    root, out = predictions
    page = out.read_text(encoding="utf-8")
    # nothing is fetched: no external script, style, image or font; links out are plain anchors
    assert not re.search(r'<(script|img|link|iframe)[^>]+(src|href)="(https?:)?//', page)
    assert "@import" not in page and "url(" not in page
    assert page.count('<img src="data:image/jpeg;base64,') == N  # every thumbnail embedded
    assert page.count('<img src="data:image/png;base64,') == 3  # curves, map, reliability
    assert page.count("<tr>") == N + 1
    assert "openstreetmap.org/?mlat=" in page and "empty file" in page
    assert re.search(r"1 km\s+5 km", page)  # thresholds suited to a country-sized set
    # both probabilities in the row table (and both curves in the one reliability plot)
    assert "if a known place" in page and ">0.56<" in page  # photo 60's confidence_seen, 0.559


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")


def test_report_renders_every_row_in_a_browser(predictions):
    _, out = predictions
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0", f"--user-data-dir={tempfile.mkdtemp()}"]
    run = subprocess.run([_chromium(), *flags, "--dump-dom", out.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert f'data-rendered="{N}"' in dom  # the page's script ran to its end over every row
    assert re.search(r'<pre id="problems"></pre>', dom)  # window.onerror saw nothing
    console_errors = [line for line in run.stderr.splitlines()
                      if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not console_errors


@pytest.mark.parametrize("argv, message", [
    (["report", "no/such.csv", "--out", "r.html"], "No such file"),
    (["report", "p.csv", "--out", "/nonexistent-dir/r.html"], "does not exist"),
    (["report", "p.csv", "--out", "r.html", "--max-rows", "0"], None),
])
def test_report_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("path,pred_lat,pred_lon\na.jpg,1,2\n")
    if message is None:  # argparse's own error
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dgae: error: ") and message in err and err.count("\n") == 1


def test_report_without_truth_shows_predictions_and_places(tmp_path):
    (tmp_path / "p.csv").write_text("path,pred_lat,pred_lon\na.jpg,45.815,15.982\nb.jpg,,\n")
    assert main(["report", str(tmp_path / "p.csv"), "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Zagreb" in page and "Accuracy" not in page and "Map: predictions" in page


@pytest.mark.parametrize("scale, spread_deg, error_deg, thresholds", [
    ("city", 0.01, 0.005, r"0\.1 km\s+0\.25 km"),
    ("world", 60.0, 20.0, r"750 km\s+2500 km")])
def test_city_and_world_reports_screenshot_at_their_own_scale(scale, spread_deg, error_deg,
                                                             thresholds, tmp_path):
    """The two reports a person reads -- a city's and the world's -- render in a real browser;
    each is scaled to its own thresholds (its table, and the map's bands: tests/
    test_places_maps.py checks the figure itself) and its screenshot is a page, not a blank."""
    rng = np.random.default_rng(1)
    n = 150
    lat = np.clip(37.78 + rng.normal(0, spread_deg, n), -60, 70)
    lon = np.clip(-122.42 + rng.normal(0, spread_deg * 2, n), -179, 179)
    with open(tmp_path / "p.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "lat", "lon", "pred_lat", "pred_lon", "confidence", "confidence_km"])
        for i in range(n):
            w.writerow([f"p{i}.jpg", lat[i], lon[i], np.clip(lat[i] + rng.normal(0, error_deg), -89, 89),
                        lon[i] + rng.normal(0, error_deg), rng.uniform(), 1])
    out = tmp_path / f"{scale}.html"
    assert main(["report", str(tmp_path / "p.csv"), "--out", str(out)]) == 0
    assert re.search(thresholds, out.read_text(encoding="utf-8"))
    shot = tmp_path / f"{scale}.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1280,1400", f"--user-data-dir={tempfile.mkdtemp()}"]
    subprocess.run([_chromium(), *flags, f"--screenshot={shot}", out.as_uri()],
                   capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (1400, 1280) and pixels.std() > 20  # text, figures and a map
