"""Error-curve plots in the style of the DGAE paper's Figs. 5–6.

matplotlib is imported only when a plot is made.
"""
import numpy as np

__all__ = ["plot_error_curves"]

_MARKS_KM = (1, 25, 200, 750, 2500)


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
