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
                     "confidence": "" if bad else rng.uniform(), "confidence_km": 1,
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
