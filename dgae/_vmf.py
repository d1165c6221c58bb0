"""The von Mises-Fisher density on the unit sphere S^2, in log space.

``vMF(y; mu, kappa) = kappa / (4 pi sinh kappa) * exp(kappa mu.y)`` (Izbicki et
al. Eq. 1 with the normaliser of S^2; the paper's print drops the 4 pi).
Everything here is written for any array module (NumPy or CuPy) and stays
finite for kappa anywhere in [1e-3, 1e8]:

* the normaliser is ``log kappa - log 2 pi - kappa - log(1 - exp(-2 kappa))``,
  never ``sinh`` itself (which overflows past kappa ~ 710);
* the exponent is written ``kappa (mu.y - 1)`` so that the two large terms
  ``kappa`` and ``kappa mu.y`` cancel before they are formed.
"""
import math

import numpy as np

#: The range every concentration is kept in (the issue's stability range).
KAPPA_RANGE = (1e-3, 1e8)


def log_normalizer(kappa, xp=np):
    """``log(kappa / (4 pi sinh kappa)) + kappa``, stable for every kappa > 0.

    (The ``+ kappa`` pairs with the exponent ``kappa (mu.y - 1)``.)

    Examples
    --------
    >>> k = np.array([1e-3, 1.0, 1e8])
    >>> np.allclose(log_normalizer(k)[:2], np.log(k[:2] / (4 * np.pi * np.sinh(k[:2]))) + k[:2])
    True
    """
    return xp.log(kappa) - math.log(2 * math.pi) - xp.log(-xp.expm1(-2.0 * kappa))


def dlog_normalizer_dlogkappa(kappa, xp=np):
    """Derivative of :func:`log_normalizer` with respect to ``log kappa``:
    ``1 - 2 kappa e^{-2 kappa} / (1 - e^{-2 kappa})``.

    Examples
    --------
    >>> k, h = 2.0, 1e-6
    >>> fd = (log_normalizer(np.exp(np.log(k) + h)) - log_normalizer(np.exp(np.log(k) - h))) / (2 * h)
    >>> bool(np.isclose(dlog_normalizer_dlogkappa(np.array(k)), fd))
    True
    """
    return 1.0 - 2.0 * kappa * xp.exp(-2.0 * kappa) / (-xp.expm1(-2.0 * kappa))


def log_vmf(y, mu, kappa, xp=np):
    """Log densities (per steradian) of unit vectors under vMF components.

    Parameters
    ----------
    y : ndarray of shape (n, 3)
        Unit vectors.
    mu : ndarray of shape (c, 3)
        Unit mean directions.
    kappa : ndarray of shape (c,)
        Concentrations.

    Returns
    -------
    logp : ndarray of shape (n, c), float64

    Examples
    --------
    >>> mu = np.array([[0.0, 0.0, 1.0]])
    >>> float(np.exp(log_vmf(mu, mu, np.array([1e-3])))[0, 0] * 4 * np.pi).__round__(3)
    1.001
    """
    dtype = xp.result_type(y, mu, kappa, xp.float64)   # float64, or wider when given
    y, mu, kappa = (xp.asarray(a, dtype=dtype) for a in (y, mu, kappa))
    return log_normalizer(kappa, xp)[None, :] + kappa[None, :] * (y @ mu.T - 1.0)


# logsumexp / softmax are written here (not scipy.special's) because they must
# run on CuPy arrays as well as NumPy ones; each is three lines.
def logsumexp(a, axis, xp=np):
    """``log(sum(exp(a), axis))`` without overflow (``-inf`` rows stay ``-inf``)."""
    m = a.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    return xp.log(xp.exp(a - m).sum(axis=axis)) + m.squeeze(axis)


def softmax(a, axis, xp=np):
    """Row-wise softmax of ``a`` (stable)."""
    e = xp.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
