"""The gallery's own scale: evaluation thresholds, confidence radius, Q floor and head widths.

Imports only :mod:`dgae.utils` and the paper's thresholds.  Every distance that used to be
fixed in km (25 km Q floor and confidence radius, 50 km KDE kernel, 500 km
mean-shift bandwidth, the 1 / 25 / 200 / 750 / 2500 km thresholds) is read off
one number, the gallery's *extent* (:func:`dgae.geo.gallery_extent_km`: the
median distance of its photos to their spherical mean), through one ladder of
round distances:

* thresholds: the ladder's steps from the finer of 1 km and the confidence
  radius up to the first step of at least twice the extent: a world-wide set
  (extent ~4,700 km) gets the paper's 1 / 25 / 200 / 750 / 2500 km and 5 km,
  a country (Croatia, ~120 km) 1 / 5 / 25 / 200 / 750 km, a city (~1 km)
  0.1 / 0.25 / 0.5 / 1 / 5 km;
* confidence radius (the distance the confidence is a probability of being
  within) and Q floor (look-alikes nearer than it are not confusers): the
  ladder step nearest, in log distance, to a hundredth of the extent: 25 km
  (world), 1 km (country), 0.1 km (city);
* KDE kernel widths tried by ``head="auto"``: the confidence radius and the
  three ladder steps above it; mean-shift bandwidth: the second step above it
  (750 km world-wide, near Im2GPS's 500 km).
"""
import numpy as np

from .utils import gallery_extent_km
from ._metrics import DEFAULT_THRESHOLDS_KM

#: Round distances (km) the scales are chosen from.
LADDER_KM = (0.1, 0.25, 0.5, 1.0, 5.0, 25.0, 200.0, 750.0, 2500.0)
#: The last threshold is the first ladder step at least this many extents.
THRESHOLD_REACH = 2.0
#: The confidence radius and the Q floor: the ladder step log-nearest to this share of the extent.
FINE_FRACTION = 0.01


def thresholds_for_extent(extent_km):
    """The accuracy thresholds (km) suited to a gallery of this extent.

    The ladder's steps from the finer of 1 km and :func:`fine_scale_km` up to the
    first step of at least twice the extent (the ladder's last, 2,500 km, for a
    world-wide gallery).

    Parameters
    ----------
    extent_km : float

    Returns
    -------
    thresholds : tuple of float
        Ascending.

    Examples
    --------
    >>> thresholds_for_extent(4712.0)
    (1.0, 5.0, 25.0, 200.0, 750.0, 2500.0)
    >>> thresholds_for_extent(120.0)
    (1.0, 5.0, 25.0, 200.0, 750.0)
    >>> thresholds_for_extent(1.0)
    (0.1, 0.25, 0.5, 1.0, 5.0)
    """
    ladder = np.asarray(LADDER_KM)
    reach = np.flatnonzero(ladder >= THRESHOLD_REACH * float(extent_km))
    top = ladder[reach[0]] if reach.size else ladder[-1]
    low = min(1.0, fine_scale_km(extent_km))
    return tuple(float(t) for t in ladder[(ladder >= low) & (ladder <= top)])


def fine_scale_km(extent_km):
    """The confidence radius and Q floor (km): the ladder step log-nearest to 1 % of the extent.

    Examples
    --------
    >>> fine_scale_km(4712.0), fine_scale_km(120.0), fine_scale_km(1.0)
    (25.0, 1.0, 0.1)
    """
    target = max(FINE_FRACTION * float(extent_km), 1e-9)
    ladder = np.asarray(LADDER_KM)
    return float(ladder[np.argmin(np.abs(np.log(ladder / target)))])


def gallery_scales(gps):
    """Every distance a fit derives from the gallery (see the module docstring).

    Parameters
    ----------
    gps : array-like of shape (n, 2)

    Returns
    -------
    scales : dict
        ``extent_km``, ``thresholds_km``, ``confidence_km``,
        ``q_min_km``, ``kde_sigmas_km`` (4 floats), ``meanshift_km``.

    Examples
    --------
    >>> s = gallery_scales([[45.80, 15.95], [45.81, 15.97], [45.82, 15.99]])
    >>> s["thresholds_km"], s["confidence_km"], s["kde_sigmas_km"]
    ((0.1, 0.25, 0.5, 1.0, 5.0), 0.1, (0.1, 0.25, 0.5, 1.0))
    """
    extent = gallery_extent_km(gps)
    fine = fine_scale_km(extent)
    above = [t for t in LADDER_KM if t > fine][:3]
    above += [LADDER_KM[-1]] * (3 - len(above))
    return dict(extent_km=extent, thresholds_km=thresholds_for_extent(extent), confidence_km=fine,
                q_min_km=fine, kde_sigmas_km=(fine, *above), meanshift_km=above[1])


def thresholds_for_gallery(gps):
    """Accuracy thresholds (km) suited to where a gallery's photos lie.

    Parameters
    ----------
    gps : array-like of shape (n, 2)

    Returns
    -------
    thresholds : tuple of float

    Examples
    --------
    >>> thresholds_for_gallery([[45.0, 14.0], [44.0, 16.0], [43.0, 17.0]])
    (1.0, 5.0, 25.0, 200.0, 750.0)
    """
    return thresholds_for_extent(gallery_extent_km(gps))


def parse_thresholds(text):
    """A ``--thresholds`` value: ``"auto"``, ``"paper"`` or positive km, comma-separated.

    Returns
    -------
    choice : "auto", "paper" or tuple of float
        Distances sorted ascending.

    Raises
    ------
    ValueError
        Naming the text and what is accepted.

    Examples
    --------
    >>> parse_thresholds("auto"), parse_thresholds("5, 0.1")
    ('auto', (0.1, 5.0))
    """
    if text in ("auto", "paper"):
        return text
    from .utils import comma_floats

    try:
        values = comma_floats(text)
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        raise ValueError(f"{text!r} is not 'auto', 'paper' or positive distances in km "
                         f"(e.g. 0.1,0.5,1,5)")
    return tuple(sorted(values))


def resolve_thresholds(choice, gps):
    """The thresholds a ``--thresholds`` choice names.

    Parameters
    ----------
    choice : "auto", "paper" or sequence of float
        ``"auto"``: :func:`thresholds_for_gallery` of ``gps``; ``"paper"``: the
        paper's 1 / 25 / 200 / 750 / 2500 km; a sequence: those.
    gps : array-like of shape (n, 2)
        The positions whose extent ``"auto"`` follows.

    Returns
    -------
    thresholds : tuple of float

    Examples
    --------
    >>> resolve_thresholds("paper", [[0, 0]]), resolve_thresholds((5, 1), [[0, 0]])
    ((1, 25, 200, 750, 2500), (5, 1))
    """
    if isinstance(choice, str) and choice == "auto":
        return thresholds_for_gallery(gps)
    if isinstance(choice, str) and choice == "paper":
        return DEFAULT_THRESHOLDS_KM
    return tuple(choice)
