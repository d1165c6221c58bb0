"""The one place that decides NumPy or CuPy.

Every array computation that may run on a GPU asks :func:`get_xp` for its
array module and converts only at the edges with :func:`to_device` /
:func:`to_host`.  CuPy is imported lazily, on the first request for the GPU.

This is a base module: it imports nothing from the rest of ``dgae``, so the
lower layers (``dgae.features``, ``dgae.graphs``) may use it.
"""
import functools

import numpy as np

DEVICES = ("auto", "cpu", "gpu")


@functools.lru_cache(maxsize=1)
def _cupy_or_reason():
    """Return ``(cupy, None)`` when a usable CUDA device exists, else ``(None, why)``."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        return None, f"CuPy is not importable ({exc.__class__.__name__}: {exc}); install the 'gpu' extra: pip install 'dgae[gpu]'"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy finds no CUDA device ({exc.__class__.__name__}: {exc})"
    if n < 1:
        return None, "CuPy finds no CUDA device"
    return cupy, None


def gpu_available():
    """Whether CuPy is importable and sees at least one CUDA device.

    Examples
    --------
    >>> isinstance(gpu_available(), bool)
    True
    """
    return _cupy_or_reason()[0] is not None


def resolve_device(device="auto"):
    """Resolve ``"auto" | "cpu" | "gpu"`` to ``"cpu"`` or ``"gpu"``.

    ``"auto"`` picks the GPU when CuPy finds one and falls back to the CPU;
    ``"gpu"`` without a usable device raises ``RuntimeError`` saying why.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return "cpu"
    cupy, why = _cupy_or_reason()
    if cupy is not None:
        return "gpu"
    if device == "gpu":
        raise RuntimeError(f"device='gpu' was requested but {why}")
    return "cpu"


def get_xp(device="auto"):
    """Array module (``numpy`` or ``cupy``) for ``device``.

    Examples
    --------
    >>> get_xp("cpu").__name__
    'numpy'
    """
    if resolve_device(device) == "gpu":
        return _cupy_or_reason()[0]
    return np


def array_module(a):
    """Array module that ``a`` belongs to (``cupy`` for CuPy arrays, else ``numpy``).

    Examples
    --------
    >>> array_module(np.zeros(2)).__name__
    'numpy'
    """
    mod = type(a).__module__
    if mod.startswith("cupy"):
        return _cupy_or_reason()[0]
    return np


def to_device(a, xp, dtype=None):
    """Move ``a`` to the array module ``xp`` (no copy when already there).

    Examples
    --------
    >>> to_device([1, 2], np, dtype=np.float32).dtype
    dtype('float32')
    """
    if xp is np:
        return np.asarray(to_host(a), dtype=dtype)
    return xp.asarray(a, dtype=dtype)


def to_host(a):
    """Return ``a`` as a NumPy array (copies from the GPU when needed).

    Examples
    --------
    >>> to_host(np.ones(2)).tolist()
    [1.0, 1.0]
    """
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)
