"""Shared fixtures: the ../shared data folder, GPU skipping."""
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    from dgae.utils import gpu_available

    if gpu_available():
        return
    skip = pytest.mark.skip(reason="CuPy finds no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    """Path of ../shared/data; skips the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED
