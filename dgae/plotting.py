"""Error-curve plots in the style of the DGAE paper's Figs. 5–6.

matplotlib is imported only when a plot is made.
"""
import numpy as np

from ._metrics import DEFAULT_THRESHOLDS_KM as _MARKS_KM  # the paper's levels

__all__ = ["plot_error_curves", "plot_prediction_map"]


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


def plot_prediction_map(y_true, y_pred, ax=None, title=None, margin_deg=2.0):
    """Truth → prediction lines on a longitude / latitude map, coloured by the error.

    Plain equirectangular axes with a graticule: no coastline layer, because
    no package installable from PyPI ships one offline (cartopy downloads
    Natural Earth at run time).  The view is the data's extent plus
    ``margin_deg``, clipped to the globe.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, 2)
        ``[lat, lon]`` degrees.
    ax : matplotlib Axes, optional
    title : str, optional
    margin_deg : float, default=2.0

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_prediction_map([[45.8, 16.0], [43.5, 16.4]], [[45.8, 16.1], [48.2, 16.4]])
    >>> len(ax.collections) >= 2, ax.get_xlabel()
    (True, 'longitude (°)')
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm

    from .metrics import geolocation_errors_km

    t = np.asarray(y_true, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1, 2)
    if t.shape != p.shape or not len(t):
        raise ValueError(f"y_true and y_pred must be (n, 2) with n >= 1, got {t.shape} and {p.shape}")
    err = np.maximum(geolocation_errors_km(t, p), 0.1)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    segments = np.stack([t[:, ::-1], p[:, ::-1]], axis=1)  # (n, 2 points, lon/lat)
    norm = LogNorm(vmin=0.1, vmax=max(2e4, err.max()))
    lines = LineCollection(segments, cmap="viridis", norm=norm, linewidths=0.8, alpha=0.8)
    lines.set_array(err)
    ax.add_collection(lines)
    ax.scatter(t[:, 1], t[:, 0], s=6, c="k", label="truth", zorder=3)
    ax.scatter(p[:, 1], p[:, 0], s=6, c="tab:red", marker="x", label="prediction", zorder=3)
    both = np.vstack([t, p])
    ax.set_xlim(max(-180, both[:, 1].min() - margin_deg), min(180, both[:, 1].max() + margin_deg))
    ax.set_ylim(max(-90, both[:, 0].min() - margin_deg), min(90, both[:, 0].max() + margin_deg))
    ax.set_aspect("equal", adjustable="box")
    ax.figure.colorbar(lines, ax=ax, label="error (km)")
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax
