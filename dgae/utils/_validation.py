"""Input checks shared by every layer."""
import numpy as np

from ._geo import check_gps


#: Values :func:`check_features` tests for finiteness at once (a bool copy of every value of a
#: 664,720-photo gallery in the retrieval space was 2 GiB).
FINITE_CHECK_VALUES = 1 << 24


def check_features(X, name="X", dtype=np.float32, min_samples=1):
    """Validate a 2-D feature matrix: numeric, finite, at least ``min_samples`` rows.

    Parameters
    ----------
    X : array-like of shape (n, d)
    name : str
        Used in error messages.
    dtype : numpy dtype, default=float32
        Returned dtype (a copy only when a conversion is needed).
    min_samples : int, default=1

    Returns
    -------
    X : ndarray of shape (n, d)

    Raises
    ------
    ValueError
        Not 2-D, too few rows, no columns, or a NaN / inf (naming the first
        bad row).

    Examples
    --------
    >>> check_features([[1, 2], [3, 4]]).dtype
    dtype('float32')
    """
    try:
        X = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 2-D array: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < min_samples:
        raise ValueError(f"{name} has {X.shape[0]} sample(s); at least {min_samples} needed")
    if X.shape[1] < 1:
        raise ValueError(f"{name} has no features (shape {X.shape})")
    step = max(1, FINITE_CHECK_VALUES // X.shape[1])
    for r0 in range(0, len(X), step):  # a block at a time: no bool copy of the whole array
        finite = np.isfinite(X[r0:r0 + step]).all(axis=1)
        if not finite.all():
            raise ValueError(f"{name} row {r0 + int(np.argmin(finite))} contains NaN or inf")
    return X


def check_labels(labels, n, name="poi_labels"):
    """Validate an integer label vector of length ``n``.

    Examples
    --------
    >>> check_labels([0, 1, 1], 3).tolist()
    [0, 1, 1]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {labels.dtype}")
    return labels


def check_k(k, name):
    """``k`` as an int, or a ValueError naming ``name`` unless it is an integer >= 1.

    Examples
    --------
    >>> check_k(np.int64(3), "k1")
    3
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {k!r}")
    return int(k)


def check_gps_rows(gps, n, name):
    """Validated ``[lat, lon]`` rows (:func:`~dgae.utils.check_gps`), exactly ``n`` of them.

    Examples
    --------
    >>> check_gps_rows([[45.0, 16.0]], 1, "query_gps").shape
    (1, 2)
    """
    gps = check_gps(gps, name)
    if len(gps) != n:
        raise ValueError(f"{name} has {len(gps)} rows, expected {n}")
    return gps
