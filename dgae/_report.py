"""Reading predictions files, accuracy tables, error curves and maps: the reporting that
``dgae evaluate``, ``dgae demo`` and ``experiments/`` share (library code; the CLI imports it,
never the reverse).

A predictions file is a CSV with a header and, per photo, the true and the
predicted position in degrees: columns ``lat,lon,pred_lat,pred_lon``.  An
optional ``method`` column holds several methods in one file.  The output of
``dgae predict`` (``path,pred_lat,pred_lon,...``) is read together with a
truth CSV (``path,lat,lon``), joined on ``path``.
"""
from pathlib import Path

import numpy as np

from ._metrics import DEFAULT_THRESHOLDS_KM
from .utils import conflicting_rows, read_table, warn

_METHOD = "method"


def read_predictions(path, truth=None):
    """Read a predictions CSV into ``{method: (y_true, y_pred)}``.

    Parameters
    ----------
    path : str or path
        CSV with ``lat,lon,pred_lat,pred_lon`` (and optionally ``method``,
        ``path``).
    truth : str or path, optional
        CSV with ``path,lat,lon``, joined on ``path`` when ``path`` lacks
        ``lat,lon``.

    Returns
    -------
    pairs : dict of str -> (ndarray (n, 2), ndarray (n, 2))

    Raises
    ------
    ValueError
        A missing column, a non-numeric value (naming the row), a path with
        no truth.

    Examples
    --------
    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    >>> _ = f.write("lat,lon,pred_lat,pred_lon\\n0,0,0,1\\n"); f.close()
    >>> [pred.tolist() for true, pred in read_predictions(f.name).values()]
    [[[0.0, 1.0]]]
    >>> os.unlink(f.name)
    """
    rows = _read_rows(path)
    if rows and not {"lat", "lon"} <= rows[0].keys():
        if truth is None:
            raise ValueError(f"{path}: no lat,lon columns; give --truth PHOTOS.csv to join on path")
        rows = _join_truth(rows, truth_by_path(truth), path, truth)
    needed = {"lat", "lon", "pred_lat", "pred_lon"}
    if not rows or not needed <= rows[0].keys():
        have = sorted(rows[0]) if rows else []
        raise ValueError(f"{path}: needs columns {sorted(needed)} (and a row), has {have}")
    pairs = {}
    skipped = 0
    for i, row in enumerate(rows, start=2):  # line numbers, header is line 1
        if not all((row.get(c) or "").strip() for c in needed):
            skipped += 1  # a photo dgae predict could not read, or one without a truth
            continue
        try:
            t = [float(row["lat"]), float(row["lon"])]
            p = [float(row["pred_lat"]), float(row["pred_lon"])]
        except (TypeError, ValueError):
            raise ValueError(f"{path}, line {i}: non-numeric coordinate in {row}") from None
        true, pred = pairs.setdefault(row.get(_METHOD) or Path(path).stem, ([], []))
        true.append(t)
        pred.append(p)
    if skipped:
        warn(f"{path}: {skipped} row(s) without a prediction or a truth are left out", UserWarning)
    if not pairs:
        raise ValueError(f"{path}: no row has both a prediction and a truth")
    return {k: (np.array(t), np.array(p)) for k, (t, p) in pairs.items()}


def _read_rows(path):
    return read_table(path)[1]


def truth_by_path(truth):
    """``{path: row}`` of a truth CSV (``path,lat,lon``); a path listed twice with other GPS
    is named in a warning (the last row wins).

    Examples
    --------
    >>> sorted(truth_by_path(["path,lat,lon", "a.jpg,1,2"])["a.jpg"].items())
    [('lat', '1'), ('lon', '2'), ('path', 'a.jpg')]
    """
    _, rows = read_table(truth, required=["path", "lat", "lon"])
    conflict = conflicting_rows(rows)
    if conflict:
        warn(f"{truth}: {conflict}; the last one is used")
    return {r["path"]: r for r in rows}


def _join_truth(rows, gps, path, truth):
    conflict = conflicting_rows(rows, values=("pred_lat", "pred_lon", _METHOD))
    if conflict:
        warn(f"{path}: {conflict}; each is scored against the same truth")
    out = []
    for i, row in enumerate(rows, start=2):
        if row.get("path") not in gps:
            raise ValueError(f"{path}, line {i}: path {row.get('path')!r} is not in {truth}")
        out.append({**row, "lat": gps[row["path"]]["lat"], "lon": gps[row["path"]]["lon"]})
    return out


def accuracy_table(errors_by_method, thresholds_km=DEFAULT_THRESHOLDS_KM, extra=None):
    """A plain-text table: % within each threshold and the median error, a row per method.

    Parameters
    ----------
    errors_by_method : dict of str -> array-like of shape (n,)
        Errors in km.
    thresholds_km : sequence of float
    extra : dict of str -> dict of str -> str, optional
        More columns per method (e.g. timings), in the order of the first method.

    Returns
    -------
    table : str

    Examples
    --------
    >>> print(accuracy_table({"LF": [0.5, 30, 3000]}, thresholds_km=(1, 25)))
    method      n     1 km    25 km  median km
    LF          3     33.3     33.3       30.0
    """
    extra = extra or {}
    ecols = list(next(iter(extra.values()), {}))
    width = max([6] + [len(m) for m in errors_by_method])
    head = [f"{'method':<{width}}", f"{'n':>5}"] + [f"{t:>4g} km" for t in thresholds_km]
    head += ["median km"] + [f"{c:>10}" for c in ecols]
    lines = ["  ".join(head)]
    for name, e in errors_by_method.items():
        e = np.asarray(e, dtype=np.float64)
        cells = [f"{name:<{width}}", f"{e.size:>5}"]
        cells += [f"{100 * np.mean(e <= t):>{len(f'{t:>4g} km')}.1f}" for t in thresholds_km]
        cells += [f"{np.median(e):>9.1f}"]
        cells += [f"{extra.get(name, {}).get(c, ''):>10}" for c in ecols]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def save_error_curves(errors_by_method, path, title=None, marks_km=DEFAULT_THRESHOLDS_KM):
    """Write the paper-style error-curve figure (Figs. 5–6) as a PNG, the axis spanning
    ``marks_km`` (the thresholds); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_error_curves

    ax = plot_error_curves(errors_by_method, title=title, marks_km=marks_km)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    return path


def save_prediction_map(pairs, path, title=None, thresholds_km=None):
    """Truth → prediction lines on a map, one panel per method in a grid with one colour bar, as
    a PNG; returns the path.  Every panel shows the same view (all methods' points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import error_colorbar, error_scale, map_view, plot_prediction_map, thresholds_for

    n = len(pairs)
    cols = 1 if n == 1 else (2 if n <= 4 else 3)
    rows = -(-n // cols)
    bounds = map_view(np.vstack([np.vstack(tp) for tp in pairs.values()]))
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 4.6 * rows), squeeze=False,
                             layout="constrained")
    if thresholds_km is None:
        thresholds_km = thresholds_for(np.vstack([true for true, _ in pairs.values()]))
    for ax, (name, (true, pred)) in zip(axes.ravel(), pairs.items()):
        plot_prediction_map(true, pred, ax=ax, title=name if n > 1 else title, colorbar=False,
                            bounds=bounds, thresholds_km=thresholds_km)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    cmap, norm = error_scale(thresholds_km)
    mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    error_colorbar(fig, mappable, thresholds_km, ax=axes.ravel().tolist(), location="bottom",
                   shrink=0.6, aspect=40)
    if title and n > 1:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
