"""Optional packages: one way to import them, one way to say what installs them."""
import importlib


def require(module, extra=None, purpose=None, package=None):
    """Import a module that is not always installed, or raise an ImportError that says what
    installs it.

    Parameters
    ----------
    module : str
        The module to import.
    extra : str, optional
        The dgae extra that installs it (``pip install "dgae[extra]"``).
    purpose : str, optional
        What needs it, opening the message (e.g. ``"FaissIndex"``).
    package : str, optional
        Without ``extra``: the PyPI package to install (default: ``module``).

    Returns
    -------
    module

    Examples
    --------
    >>> require("math").sqrt(4.0)
    2.0
    >>> require("no_such_module_xyz", "cnn", purpose="CNNDescriptor")
    Traceback (most recent call last):
    ...
    ImportError: CNNDescriptor needs no_such_module_xyz, which is missing: pip install "dgae[cnn]"
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        needs = f"{purpose} needs {module}, which is" if purpose else module + " is"
        how = f'pip install "dgae[{extra}]"' if extra else f"pip install {package or module}"
        raise ImportError(f"{needs} missing: {how}", name=exc.name or module) from exc
