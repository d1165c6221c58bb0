"""Streaming extraction: chunks, resume after a crash, the ``dgae extract`` command."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from dgae.cli import main
from dgae.features import Im2GPSDescriptor, extract_to_npy, read_errors
from dgae.features._extract import state_paths

BLOCKS = ("tiny5", "lab_hist", "texton", "gist")
pytestmark = pytest.mark.filterwarnings("ignore:1 photos could not be read")


@pytest.fixture
def collection(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(11):
        img = np.kron(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), np.ones((6, 6, 1), np.uint8))
        paths.append(tmp_path / f"p{i:02d}.png")
        Image.fromarray(img).save(paths[-1])
    (tmp_path / "broken.jpg").write_text("not a photo")
    paths.insert(5, tmp_path / "broken.jpg")
    return paths


def _descriptor():
    return Im2GPSDescriptor(descriptors=BLOCKS, n_textons=8, on_error="skip", random_state=0)


def test_interrupted_run_resumes_to_the_identical_array(collection, tmp_path, monkeypatch):
    ref = np.array(extract_to_npy(collection, tmp_path / "ref.npy", _descriptor(), chunk_size=3, fit_size=3))

    out = tmp_path / "run.npy"
    real = Im2GPSDescriptor.transform
    calls = []

    def crash_after_two_chunks(self, images):
        calls.append(len(images))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(self, images)

    monkeypatch.setattr(Im2GPSDescriptor, "transform", crash_after_two_chunks)
    with pytest.raises(RuntimeError, match="killed"):
        extract_to_npy(collection, out, _descriptor(), chunk_size=3, fit_size=3)
    done = np.load(state_paths(out)["done"])
    assert done.sum() == 3 + 6  # the fit's 3 photos and two flushed chunks, nothing more

    calls.clear()
    monkeypatch.setattr(Im2GPSDescriptor, "transform", lambda self, images: (calls.append(len(images)),
                                                                              real(self, images))[1])
    X = extract_to_npy(collection, out, chunk_size=3, fit_size=3)  # no descriptor: the saved one
    assert calls == [3]  # only the unfinished chunk was computed
    np.testing.assert_array_equal(np.isnan(X), np.isnan(ref))
    np.testing.assert_array_equal(np.nan_to_num(X), np.nan_to_num(ref))
    assert np.isnan(X[5]).all() and np.isfinite(np.delete(X, 5, axis=0)).all()
    errors = [json.loads(line) for line in open(state_paths(out)["errors"])]
    assert [e["index"] for e in errors] == [5] and "broken.jpg" in errors[0]["source"]
    assert list(read_errors(out)) == [5]


@pytest.mark.parametrize("fit_size", [12, 6])  # the whole collection, or part of it, fits
def test_ctrl_c_while_the_descriptor_is_fitted_keeps_what_was_described(collection, tmp_path,
                                                                        monkeypatch, fit_size):
    """A collection within ``fit_size`` is described by the descriptor's fit itself: Ctrl-C there
    keeps the rows described so far (the message names the file that holds them) and the same
    call resumes from them to the array an uninterrupted run gives."""
    from dgae.features import ExtractionInterrupted

    ref = np.array(extract_to_npy(collection, tmp_path / "ref.npy", _descriptor(), chunk_size=2,
                                  fit_size=fit_size))
    out = tmp_path / "run.npy"
    real = Im2GPSDescriptor._raw_transform
    described = []

    def interrupt_at_the_third_step(self, images):
        if len(described) == 2:
            raise KeyboardInterrupt
        described.append(len(images))
        return real(self, images)

    monkeypatch.setattr(Im2GPSDescriptor, "_raw_transform", interrupt_at_the_third_step)
    monkeypatch.setattr("dgae.features._extract._STEP_PER_WORKER", 2)
    with pytest.raises(ExtractionInterrupted) as info:
        extract_to_npy(collection, out, _descriptor(), chunk_size=4, fit_size=fit_size, n_jobs=1)
    assert (info.value.n_done, info.value.n_total) == (4, 12)
    kept = np.load(info.value.out)  # the file the message names holds them
    assert (np.abs(np.nan_to_num(kept)).sum(axis=1) > 0).sum() in (3, 4)  # one may be the broken photo
    assert str(info.value) == f"interrupted: 4 of 12 photos described, kept in {info.value.out}"

    described.clear()
    monkeypatch.setattr(Im2GPSDescriptor, "_raw_transform",
                        lambda self, images: (described.append(len(images)), real(self, images))[1])
    X = extract_to_npy(collection, out)
    assert sum(described) == fit_size - 4  # the kept rows are not described again
    np.testing.assert_array_equal(np.isnan(X), np.isnan(ref))
    np.testing.assert_array_equal(np.nan_to_num(X), np.nan_to_num(ref))
    assert not any(os.path.exists(state_paths(out)[k]) for k in ("fit", "fit_rows", "fit_done"))


def test_a_collection_within_fit_size_is_described_once(collection, tmp_path, monkeypatch):
    ref = _descriptor().fit_transform(collection)
    monkeypatch.setattr(Im2GPSDescriptor, "transform", lambda *a: pytest.fail("described twice"))
    X = extract_to_npy(collection, tmp_path / "f.npy", _descriptor(), fit_size=len(collection))
    np.testing.assert_array_equal(np.nan_to_num(X), np.nan_to_num(ref))
    assert list(read_errors(tmp_path / "f.npy")) == [5]


@pytest.mark.parametrize("interrupt", ["ctrl-c", "killed"])
def test_finished_rows_are_saved_every_few_seconds(collection, tmp_path, monkeypatch, interrupt):
    """Saved on time, not only per chunk: a 1,024-row chunk would otherwise keep nothing."""
    from dgae.features import ExtractionInterrupted
    from dgae.features import _extract

    monkeypatch.setattr(_extract, "SAVE_EVERY_S", 0.0)
    monkeypatch.setattr(_extract, "_STEP_PER_WORKER", 2)
    real, calls = Im2GPSDescriptor.transform, []

    def stop_at_the_third_step(self, images):
        calls.append(len(images))
        if len(calls) == 3:
            raise KeyboardInterrupt if interrupt == "ctrl-c" else RuntimeError("killed")
        return real(self, images)

    monkeypatch.setattr(Im2GPSDescriptor, "transform", stop_at_the_third_step)
    out = tmp_path / "f.npy"
    error = ExtractionInterrupted if interrupt == "ctrl-c" else RuntimeError
    with pytest.raises(error) as info:
        extract_to_npy(collection, out, _descriptor(), fit_size=2, chunk_size=1024, n_jobs=1)
    assert np.load(state_paths(out)["done"]).sum() == 2 + 2 * 2  # fit rows and two steps
    if interrupt == "ctrl-c":
        assert (info.value.n_done, info.value.n_total) == (6, len(collection))
        assert isinstance(info.value, KeyboardInterrupt) and str(out) in str(info.value)


def test_finished_run_is_not_recomputed(collection, tmp_path, monkeypatch):
    out = tmp_path / "f.npy"
    X = np.array(extract_to_npy(collection, out, _descriptor(), chunk_size=5))
    monkeypatch.setattr(Im2GPSDescriptor, "transform", lambda *a: pytest.fail("recomputed"))
    np.testing.assert_array_equal(np.nan_to_num(extract_to_npy(collection, out)), np.nan_to_num(X))


def test_other_photos_or_foreign_file_are_refused(collection, tmp_path):
    out = tmp_path / "f.npy"
    extract_to_npy(collection[:4], out, _descriptor(), chunk_size=5)
    with pytest.raises(ValueError, match="other photos"):
        extract_to_npy(collection[1:5], out)
    assert extract_to_npy(collection[1:5], out, _descriptor(), overwrite=True).shape[0] == 4
    np.save(tmp_path / "mine.npy", np.zeros(3))
    with pytest.raises(ValueError, match="overwrite"):
        extract_to_npy(collection, tmp_path / "mine.npy")


def test_cli_extract(collection, tmp_path, capsys):
    csv = tmp_path / "photos.csv"
    csv.write_text("path,lat,lon\n" + "".join(f"{p.name},0,0\n" for p in collection))
    out = tmp_path / "cli.npy"
    args = ["extract", str(csv), "--out", str(out), "--chunk-size", "4", "--n-textons", "8",
            "--descriptors", ",".join(BLOCKS), "--quiet"]
    assert main(args) == 0
    out_text, err = capsys.readouterr()
    assert "12 x 1467 float32, 1 unreadable" in out_text
    assert "dgae: warning: 1 of 12 photos could not be read" in err
    X = np.load(out)
    ref = _descriptor().fit([collection[i] for i in range(12) if i != 5])
    saved = __import__("joblib").load(state_paths(out)["descriptor"])
    np.testing.assert_array_equal(saved.textons_.shape, ref.textons_.shape)
    np.testing.assert_allclose(X[[0, 1]], saved.transform(collection[:2]))
    assert main(args) == 0  # resume of a finished run: nothing to do


_SLOW_RUN = """
import sys, time
import numpy as np
from dgae.features import Im2GPSDescriptor, extract_to_npy
real = Im2GPSDescriptor.transform
def slow(self, images):
    time.sleep(0.4)
    return real(self, images)
Im2GPSDescriptor.transform = slow
paths = sys.argv[2:]
d = Im2GPSDescriptor(descriptors=("tiny5", "lab_hist", "texton", "gist"), n_textons=8,
                     on_error="skip", random_state=0)
extract_to_npy(paths, sys.argv[1], d, chunk_size=2, fit_size=6)
"""


def test_killed_subprocess_resumes_to_the_identical_array(collection, tmp_path):
    import subprocess
    import sys
    import time

    ref = np.array(extract_to_npy(collection, tmp_path / "ref.npy", _descriptor(), chunk_size=2, fit_size=6))
    out = tmp_path / "killed.npy"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_RUN, str(out), *map(str, collection)])
    done_file = state_paths(out)["done"]
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if np.load(done_file).sum() >= 4:
                    break
            except (OSError, ValueError):  # not written yet
                pass
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    done = np.load(done_file)
    assert 4 <= done.sum() < len(collection)  # killed halfway
    X = extract_to_npy(collection, out)
    np.testing.assert_array_equal(np.nan_to_num(X), np.nan_to_num(ref))
    np.testing.assert_array_equal(np.isnan(X), np.isnan(ref))


def test_cli_extract_names_a_missing_path_column(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # the CLI must not need pandas
    csv = tmp_path / "photos.csv"
    csv.write_text("file,lat,lon\na.jpg,0,0\n")
    assert main(["extract", str(csv), "--out", str(tmp_path / "x.npy"), "--quiet"]) == 2
    assert "missing column(s) ['path'] (columns: ['file', 'lat', 'lon'])" in capsys.readouterr().err
