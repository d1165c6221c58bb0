import numpy as np
import pytest

from dgae.utils import _backend
from dgae.utils import array_module, get_xp, resolve_device, to_device, to_host


def test_cpu_is_numpy():
    assert resolve_device("cpu") == "cpu"
    assert get_xp("cpu") is np


def test_bad_device_name():
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")


def test_auto_falls_back_and_gpu_raises_without_device(monkeypatch):
    monkeypatch.setattr(_backend, "_cupy_or_reason", lambda: (None, "CuPy is not importable (test)"))
    assert resolve_device("auto") == "cpu"
    assert get_xp("auto") is np
    with pytest.raises(RuntimeError, match="device='gpu' was requested but CuPy is not importable"):
        resolve_device("gpu")


def test_host_device_round_trip_numpy():
    a = to_device([[1, 2]], np, dtype=np.float32)
    assert a.dtype == np.float32 and array_module(a) is np
    assert to_host(a) is a


@pytest.mark.gpu
def test_host_device_round_trip_cupy():
    xp = get_xp("gpu")
    a = to_device(np.arange(6, dtype=np.float32), xp)
    assert array_module(a) is xp
    np.testing.assert_array_equal(to_host(a * 2), np.arange(6) * 2)
