"""Progress bars for long work (a base module: imports nothing from dgae)."""
from tqdm.auto import tqdm


def progress(iterable=None, *, verbose=0, desc=None, total=None, unit="it", **kwargs):
    """A tqdm progress bar shown only when ``verbose`` is truthy.

    Parameters
    ----------
    iterable : iterable, optional
    verbose : int
        Nothing is shown when 0.
    desc, total, unit
        Passed to :class:`tqdm.tqdm`.

    Returns
    -------
    bar : tqdm.tqdm
        Iterate over it, or call ``update`` / ``set_postfix`` on it.

    Examples
    --------
    >>> sum(progress(range(3), verbose=0))
    3
    """
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not verbose,
                leave=False, dynamic_ncols=True, **kwargs)


def say(text, *, verbose=0):
    """Print a progress message (through tqdm, so bars stay intact) when ``verbose``.

    Examples
    --------
    >>> say("hidden", verbose=0)
    """
    if verbose:
        tqdm.write(text)


def warn(message, category=UserWarning):
    """``warnings.warn`` pointing at the user's own line, whatever the depth of the call.

    Frames inside this library (``dgae`` and the folders it installs as ``dgae.features``,
    ``dgae.graphs``, ``dgae.cells``) and inside scikit-learn / joblib (whose wrappers call
    our ``fit``) are skipped, so the warning names the line of the user's script, not ours.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn("look here")
    >>> w[0].filename.endswith("_progress.py"), str(w[0].message)
    (False, 'look here')
    """
    import sys
    import warnings

    roots = _library_roots()
    frame, level = sys._getframe(1), 2  # stacklevel 2: the caller of warn()
    while frame is not None and frame.f_code.co_filename.startswith(roots):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _library_roots():
    """Folders whose frames :func:`warn` skips."""
    import os
    import sys

    names = ("dgae", "dgae.features", "dgae.graphs", "dgae.cells", "sklearn", "joblib")
    return tuple(os.path.dirname(sys.modules[n].__file__) + os.sep for n in names
                 if getattr(sys.modules.get(n), "__file__", None))
