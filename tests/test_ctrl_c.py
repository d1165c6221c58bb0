"""Ctrl-C on a real ``dgae fit`` process: SIGINT while the gallery is described (the descriptor's
fit describes it all when it is small) and while the autoencoder trains.  Exit status 130, one
line that is true, the described rows kept and the same command resuming from them."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from dgae.cli import main
from dgae.features import Im2GPSDescriptor, state_paths

N = 40
# runs `dgae fit` with one function slowed down; it appends a line to MARK after each call
_SLOWED = """
import sys, time
from dgae.cli import main
target, mark = sys.argv[1], sys.argv[2]
owner, name = target.rsplit(".", 1)
module = __import__(owner, fromlist=[name]) if owner.startswith("dgae._") else None
import dgae.features
holder = module if module is not None else getattr(dgae.features, owner)
real = getattr(holder, name)
def slowed(*args, **kwargs):
    time.sleep(0.3)
    out = real(*args, **kwargs)
    with open(mark, "a") as f:
        f.write("x\\n")
    return out
setattr(holder, name, slowed)
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture
def gallery(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["path,lat,lon"]
    for i in range(N):
        img = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((6, 6, 1), np.uint8))
        Image.fromarray(img).save(tmp_path / f"p{i:02d}.png")
        lines.append(f"p{i:02d}.png,{45 + (i % 5) * 0.5 + rng.random() * 1e-3},{15 + (i // 5) * 0.3}")
    (tmp_path / "photos.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def _interrupt(tmp_path, target, calls, args):
    """Run ``dgae ARGS`` with ``target`` slowed; SIGINT after ``calls`` calls of it."""
    mark = tmp_path / "calls.txt"
    proc = subprocess.Popen([sys.executable, "-c", _SLOWED, target, str(mark), *args],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if mark.exists() and len(mark.read_text().split()) >= calls:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err.strip().splitlines()


def test_ctrl_c_while_describing_keeps_the_rows_and_the_rerun_resumes(gallery, monkeypatch):
    model, cache = gallery / "m.joblib", gallery / "m.joblib.features.npy"
    args = ["fit", "photos.csv", "--out", "m.joblib", "--n-jobs", "1", "-q"]
    code, _, err = _interrupt(gallery, "Im2GPSDescriptor._raw_transform", 2, args)
    assert code == 130
    kept = state_paths("m.joblib.features.npy")["fit"]  # as the user typed it
    n_done = int(np.load(state_paths(cache)["fit_done"]).sum())
    assert n_done >= 16 and n_done % 16 == 0  # whole steps of 16 photos
    assert err[-1] == (f"dgae: interrupted: {n_done} of {N} photos described, kept in {kept}; "
                       "run the same command to resume")
    assert (gallery / kept).exists() and not model.exists()

    described = []
    real = Im2GPSDescriptor._raw_transform
    monkeypatch.setattr(Im2GPSDescriptor, "_raw_transform",
                        lambda self, images: (described.append(len(images)), real(self, images))[1])
    monkeypatch.chdir(gallery)
    assert main(args) == 0
    assert sum(described) == N - n_done and model.exists()


def test_ctrl_c_while_training_exits_130_and_writes_no_model(gallery):
    args = ["fit", "photos.csv", "--out", "m.joblib", "--max-iter", "500", "-q"]
    code, _, err = _interrupt(gallery, "dgae._autoencoder._training.objective", 3, args)
    assert code == 130
    cache = gallery / "m.joblib.features.npy"
    assert err[-1] == (f"dgae: interrupted while training, no model written; the photos' "
                       f"descriptions are kept in m.joblib.features.npy; the same command starts "
                       "the training again")
    assert not (gallery / "m.joblib").exists()
    assert np.load(state_paths(cache)["done"]).all()  # described completely, nothing to redo
