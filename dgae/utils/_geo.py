"""Geodesy on a spherical earth (float64 throughout).

A base module: imports nothing from the rest of ``dgae``.
"""
import numpy as np

#: Earth radius of the DGAE paper's Eq. 11, in km.
EARTH_RADIUS_KM = 6371.004


def _latlon(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., 2) of [lat, lon] degrees, got shape {a.shape}")
    return np.radians(a[..., 0]), np.radians(a[..., 1])


def great_circle_km(a, b, radius_km=EARTH_RADIUS_KM):
    """Great-circle distance between ``[lat, lon]`` points, in km.

    The DGAE paper (Eq. 11) writes this distance with the spherical law of
    cosines, which loses all precision below ~1 km in float64.  This function
    evaluates the same quantity with the Vincenty ``atan2`` form, which is
    well conditioned everywhere: exact at 0, at antipodes and across the
    ±180° meridian.

    Parameters
    ----------
    a, b : array-like of shape (..., 2)
        Latitude and longitude in degrees; broadcast against each other.
    radius_km : float, default=6371.004
        Sphere radius (the paper's value).

    Returns
    -------
    distance : ndarray of shape (...,), float64
        Distance in km (a 0-d array for single points).

    Examples
    --------
    >>> round(float(great_circle_km([0, 0], [0, 180])), 3)
    20015.099
    >>> float(great_circle_km([10, 179.9], [10, -179.9])) < 25
    True
    """
    lat1, lon1 = _latlon(a, "a")
    lat2, lon2 = _latlon(b, "b")
    dlon = lon2 - lon1
    s1, c1 = np.sin(lat1), np.cos(lat1)
    s2, c2 = np.sin(lat2), np.cos(lat2)
    sd, cd = np.sin(dlon), np.cos(dlon)
    y = np.hypot(c2 * sd, c1 * s2 - s1 * c2 * cd)
    x = s1 * s2 + c1 * c2 * cd
    return radius_km * np.arctan2(y, x)


def to_unit_vectors(gps):
    """``[lat, lon]`` degrees → points on the unit sphere.

    Parameters
    ----------
    gps : array-like of shape (..., 2)

    Returns
    -------
    xyz : ndarray of shape (..., 3), float64

    Examples
    --------
    >>> to_unit_vectors([[0, 90]]).round(12).tolist()
    [[0.0, 1.0, 0.0]]
    """
    lat, lon = _latlon(gps, "gps")
    c = np.cos(lat)
    return np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)], axis=-1)


def from_unit_vectors(xyz):
    """Points in 3-D (any non-zero norm) → ``[lat, lon]`` degrees.

    The vectors are projected radially onto the sphere, so the (normalised)
    mean of unit vectors gives the spherical centroid.  Longitude is in
    [-180, 180).

    Parameters
    ----------
    xyz : array-like of shape (..., 3)

    Returns
    -------
    gps : ndarray of shape (..., 2), float64

    Examples
    --------
    >>> from_unit_vectors([[0.0, 0.0, 2.0]]).tolist()
    [[90.0, 0.0]]
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim < 1 or xyz.shape[-1] != 3:
        raise ValueError(f"xyz must have shape (..., 3), got {xyz.shape}")
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = wrap_longitude(np.degrees(np.arctan2(y, x)))
    return np.stack([lat, lon], axis=-1)


def wrap_longitude(lon):
    """Wrap longitudes (degrees) into [-180, 180).

    Examples
    --------
    >>> wrap_longitude([180.0, -180.0, 190.0, 540.0]).tolist()
    [-180.0, -180.0, -170.0, -180.0]
    """
    lon = np.asarray(lon, dtype=np.float64)
    inside = (lon >= -180.0) & (lon < 180.0)
    return np.where(inside, lon, (lon + 180.0) % 360.0 - 180.0)  # in-range values kept bit-exact


def check_gps(gps, name="gps"):
    """Validate ``[lat, lon]`` coordinates and wrap longitude into [-180, 180).

    Parameters
    ----------
    gps : array-like of shape (n, 2)
        Latitude and longitude in degrees.
    name : str, default="gps"
        Name used in error messages.

    Returns
    -------
    gps : ndarray of shape (n, 2), float64
        A new array; longitudes wrapped.

    Raises
    ------
    ValueError
        Wrong shape, a non-finite value or ``|lat| > 90``; the message names
        the first bad row.

    Examples
    --------
    >>> check_gps([[45.0, 190.0]]).tolist()
    [[45.0, -170.0]]
    """
    try:
        arr = np.array(gps, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric [lat, lon] pairs: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2) of [lat, lon] degrees, got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} row {i} is not finite: {arr[i].tolist()}")
    bad = np.abs(arr[:, 0]) > 90
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} row {i} has latitude {arr[i, 0]} outside [-90, 90]")
    arr[:, 1] = wrap_longitude(arr[:, 1])
    return arr


def km_to_chord(km, radius_km=EARTH_RADIUS_KM):
    """Great-circle distance in km → chord length on the unit sphere.

    Examples
    --------
    >>> round(float(km_to_chord(np.pi * 6371.004)), 12)
    2.0
    """
    return 2.0 * np.sin(np.minimum(np.asarray(km, dtype=np.float64) / radius_km, np.pi) / 2.0)


def km_to_degrees(km, radius_km=EARTH_RADIUS_KM):
    """Great-circle distance in km → arc in degrees.

    Examples
    --------
    >>> round(km_to_degrees(111.19494), 4)
    1.0
    """
    return float(np.degrees(float(km) / radius_km))


def degrees_to_km(deg, radius_km=EARTH_RADIUS_KM):
    """Arc in degrees → great-circle distance in km (the inverse of :func:`km_to_degrees`).

    Examples
    --------
    >>> round(degrees_to_km(0.005), 4)  # the paper's POI bandwidth
    0.556
    """
    return float(np.radians(float(deg)) * radius_km)


def deg_to_chord(deg):
    """Great-circle arc in degrees → chord length on the unit sphere.

    Examples
    --------
    >>> round(float(deg_to_chord(180)), 12)
    2.0
    """
    return 2.0 * np.sin(np.radians(np.minimum(np.asarray(deg, dtype=np.float64), 180.0)) / 2.0)


def spherical_mean(gps, weights=None):
    """Spherical centroid: the normalised (weighted) mean of unit vectors.

    Parameters
    ----------
    gps : array-like of shape (n, 2)
    weights : array-like of shape (n,), optional

    Returns
    -------
    centre : ndarray of shape (2,)

    Examples
    --------
    >>> spherical_mean([[0, 179], [0, -179]]).round(9).tolist()
    [0.0, -180.0]
    """
    return from_unit_vectors(unit_mean(to_unit_vectors(gps), weights=weights))


def unit_mean(xyz, groups=None, n_groups=None, weights=None):
    """The spherical mean of unit vectors, as a unit vector: of all rows, or of each group.

    Parameters
    ----------
    xyz : ndarray of shape (n, 3)
    groups : ndarray of int, shape (n,), optional
        Group of each row (``0 .. n_groups - 1``; every group non-empty).
    n_groups : int, optional
        Default: ``groups.max() + 1``.
    weights : array-like of shape (n,), optional
        Only without ``groups``.

    Returns
    -------
    mean : ndarray of shape (3,), or (n_groups, 3) with ``groups``

    Examples
    --------
    >>> xyz = to_unit_vectors([[0, 0], [0, 90], [0, 180]])
    >>> unit_mean(xyz, np.array([0, 0, 1])).round(6).tolist()
    [[0.707107, 0.707107, 0.0], [-1.0, 0.0, 0.0]]
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if groups is None:
        m = np.average(xyz, axis=0, weights=weights)
        return m / np.linalg.norm(m)
    n_groups = int(np.max(groups)) + 1 if n_groups is None else int(n_groups)
    m = np.stack([np.bincount(groups, weights=xyz[:, c], minlength=n_groups) for c in range(3)],
                 axis=1)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def gallery_extent_km(gps):
    """How far a collection spreads: the median great-circle distance (km) of its
    points to their spherical mean.

    One number for the scale of a gallery: about 1 km for one city's centre,
    120 km for Croatia, 4,700 km for a world-wide set.

    Parameters
    ----------
    gps : array-like of shape (n, 2)

    Returns
    -------
    extent : float
        Kilometres (0 for a single point).

    Examples
    --------
    >>> round(gallery_extent_km([[0, -1], [0, 0], [0, 1]]), 2)
    111.19
    """
    gps = check_gps(gps)
    centre = np.broadcast_to(spherical_mean(gps), gps.shape)
    return float(np.median(great_circle_km(gps, centre)))
