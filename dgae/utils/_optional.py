"""Optional packages: one way to import them, one way to say what installs them."""
import importlib
import importlib.util


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
    needs = f"{purpose} needs {module}, which is" if purpose else module + " is"
    how = f'pip install "dgae[{extra}]"' if extra else f"pip install {package or module}"
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            raise ImportError(f"{needs} missing: {how}", name=exc.name or module) from exc
        broken = exc
    except (OSError, RuntimeError) as exc:  # a binary built for another torch, CUDA, ...
        broken = exc
    raise ImportError(f"{needs} installed but does not import ({type(broken).__name__}: "
                      f"{str(broken).splitlines()[0] if str(broken) else ''}); reinstall it with "
                      f"the packages it was built for", name=module) from broken
