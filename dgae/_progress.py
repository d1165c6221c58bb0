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
