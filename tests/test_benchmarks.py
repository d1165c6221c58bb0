"""Benchmarks that print figures the docs quote: they run and report what they measure."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_bench_space_search_finds_every_neighbour_when_the_components_span_the_input(tmp_path, capsys):
    """On descriptors of rank below the components the reduced pass ranks exactly: 100 % of
    the k exact nearest at every share (a low-rank input is the closed form here)."""
    from bench_space_search import main

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(1500, 6)) @ rng.normal(size=(6, 40))).astype(np.float32)  # 4k < 1,450
    np.save(tmp_path / "X.npy", X)
    assert main(["--npy", str(tmp_path / "X.npy"), "--held", "50", "--components", "8"]) == 0
    rows = capsys.readouterr().out.splitlines()
    found = next(r for r in rows if r.startswith("reduced"))
    assert found.count("100.0%") == 5, found
