"""The README's report, end to end on real photos: fit, predict, report, screenshot.

Protocol (issue 21's check): the shared Croatia street-view set, the first 60 ``location_id``s
in sorted order; headings 0 / 90 / 180 are the gallery (180 photos), heading 270 the queries
(60 photos).  Runs the three commands a user types::

    dgae fit gallery.csv --out model.joblib
    dgae predict model.joblib queries.csv --out p.csv --top-k 3
    dgae report p.csv --truth queries.csv --out report.html

checks that the CSV's predictions equal ``joblib.load("model.joblib").predict(paths)`` and that
every row has a place name, prints the time of each step, and, where Debian's chromium is
installed, renders the page headless into ``--screenshot`` (the README's ``docs/report.png``).

    python experiments/report_example.py [--data ../shared/data/croatia_streetview]
                                         [--out experiments_out/report] [--screenshot docs/report.png]
"""
import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_split(data, out, n_places=60):
    """gallery.csv (headings 0/90/180) and queries.csv (270) of the first ``n_places`` places."""
    rows = list(csv.DictReader(open(Path(data) / "photos.csv", encoding="utf-8")))
    places = set(sorted({r["location_id"] for r in rows})[:n_places])
    chosen = [r for r in rows if r["location_id"] in places]
    for name, keep in (("gallery.csv", lambda h: h != "270"), ("queries.csv", lambda h: h == "270")):
        with open(Path(out) / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["path", "lat", "lon"])
            for r in chosen:
                if keep(r["heading"]):
                    w.writerow([str(Path(data).resolve() / r["path"]), r["lat"], r["lon"]])


def screenshot(page, png, size="1400,1250"):
    """Render ``page`` in headless chromium into ``png``; False when no chromium is installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return False
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={tempfile.mkdtemp()}",
             f"--window-size={size}", f"--screenshot={Path(png).resolve()}"]
    subprocess.run([browser, *flags, Path(page).resolve().as_uri()], check=True,
                   capture_output=True, timeout=120)
    return True


def main(argv=None):
    import joblib

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(HERE.parent.parent / "shared/data/croatia_streetview"))
    p.add_argument("--out", default="experiments_out/report")
    p.add_argument("--screenshot", default=None, help="PNG of the rendered page (e.g. docs/report.png)")
    args = p.parse_args(argv)
    if not (Path(args.data) / "photos.csv").exists():
        sys.exit(f"{args.data}: no photos.csv (the shared Croatia set)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_split(args.data, out)
    steps = {"fit": ["fit", str(out / "gallery.csv"), "--out", str(out / "model.joblib"), "-q"],
             "predict": ["predict", str(out / "model.joblib"), str(out / "queries.csv"), "--out",
                         str(out / "p.csv"), "--top-k", "3", "-q"],
             "report": ["report", str(out / "p.csv"), "--truth", str(out / "queries.csv"), "--out",
                        str(out / "report.html")]}
    for name, argv_ in steps.items():  # the commands a user types, each its own process
        t = time.perf_counter()
        if subprocess.run([sys.executable, "-m", "dgae", *argv_]).returncode != 0:
            sys.exit(f"dgae {name} failed")
        print(f"dgae {name}: {time.perf_counter() - t:.1f} s")
    rows = list(csv.DictReader(open(out / "p.csv", encoding="utf-8")))
    pred = np.array([[float(r["pred_lat"]), float(r["pred_lon"])] for r in rows])
    same = np.array_equal(pred, joblib.load(out / "model.joblib").predict([r["path"] for r in rows]))
    print(f"{len(rows)} predictions; equal to joblib.load(model).predict(paths): {same}; "
          f"rows with a place name: {sum(bool(r['place']) for r in rows)}")
    if args.screenshot:
        shot = screenshot(out / "report.html", args.screenshot)
        print(f"screenshot: {args.screenshot if shot else 'skipped (no chromium)'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
