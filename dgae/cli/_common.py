"""Flags and steps shared by the ``dgae`` subcommands (one spelling for each shared flag).

* ``--seed`` (``--random-state`` is accepted as an old spelling, not listed);
* ``-q/--quiet`` (no progress bars) and ``-v/--verbose`` (more detail);
* ``--layers`` (``--hidden``) and ``--learning-rate`` (``--lr``) for the model flags;
* ``--dask-scheduler ADDRESS`` / ``--dask-workers N`` for the long steps (describing photos).
"""
import argparse
import contextlib
import os
import re

from ..utils import comma_ints, warn


#: A model flag's help ends with this when leaving it out takes DGAE's default; ``--help`` shows
#: that default in its place (read from DGAE only when help is printed).
FROM_MODEL = "(None: DGAE's)"
#: Flags whose destination is not DGAE's parameter name.
MODEL_PARAMS = {"layers": "hidden_layer_sizes"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each flag's default: its own, or DGAE's for a model flag left out."""

    def _get_help_string(self, action):
        text = action.help or ""
        if FROM_MODEL in text:
            from dgae import DGAE

            value = DGAE().get_params()[MODEL_PARAMS.get(action.dest, action.dest)]
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            return text.replace(FROM_MODEL, f"(default: DGAE's, {shown})")
        if action.default is None or action.default is False or action.required:
            return action.help
        return super()._get_help_string(action)


def plain_text(doc):
    """A docstring paragraph as ``--help`` prints it: reST markup dropped, one line.

    Examples
    --------
    >>> plain_text("columns ``lat,lon``; see :func:`~dgae.metrics.accuracy` and :mod:`dgae.geo`.")
    'columns lat,lon; see accuracy and dgae.geo.'
    """
    text = re.sub(r":\w+:`~[\w.]*?(\w+)`", r"\1", doc)  # :func:`~a.b.name` -> name
    text = re.sub(r":\w+:`([^`]+)`", r"\1", text)
    return " ".join(text.replace("``", "").split())


class ParameterChoices:
    """An option's choices, read from an estimator's ``_parameter_constraints`` (its
    ``StrOptions``) when argparse first needs them -- to check a value or print ``--help`` --,
    so that ``dgae --help`` does not import the estimators and no list of choices is written
    twice.

    Parameters
    ----------
    estimator : str
        ``"module:Class"``.
    param : str
    exclude : tuple of str
        Options the flag does not offer.

    Examples
    --------
    >>> choices = ParameterChoices("dgae:GeoKNN", "head", exclude=("auto",))
    >>> list(choices), "kde" in choices, "auto" in choices
    (['1nn', 'kde', 'meanshift'], True, False)
    """

    def __init__(self, estimator, param, exclude=()):
        self.estimator, self.param, self.exclude = estimator, param, tuple(exclude)
        self._options = None

    def _get(self):
        if self._options is None:
            import importlib

            from sklearn.utils._param_validation import StrOptions

            module, _, name = self.estimator.partition(":")
            constraints = getattr(importlib.import_module(module), name)._parameter_constraints
            found = {o for c in constraints[self.param] if isinstance(c, StrOptions)
                     for o in c.options} - set(self.exclude)
            self._options = sorted(found, key=lambda o: (o != "auto", o))
        return self._options

    def __iter__(self):
        return iter(self._get())

    def __contains__(self, value):
        return value in self._get()

    def __len__(self):
        return len(self._get())


def add_choice_flag(parser, flag, estimator, param, exclude=(), **kwargs):
    """``parser.add_argument(flag, **kwargs)`` whose choices are :class:`ParameterChoices`
    (set after ``add_argument``, which would otherwise read them at once)."""
    action = parser.add_argument(flag, **kwargs)
    action.choices = ParameterChoices(estimator, param, exclude)
    return action


def add_seed(p, default=0):
    """``--seed`` (and the hidden old spelling ``--random-state``)."""
    p.add_argument("--seed", type=int, default=default, help="random seed")
    p.add_argument("--random-state", type=int, dest="seed", help=argparse.SUPPRESS)


def add_verbosity(p):
    """``-q/--quiet`` and ``-v/--verbose``; read them with :func:`verbosity`."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more detail (repeatable)")


def add_cluster_flags(p):
    """``--dask-scheduler ADDRESS`` or ``--dask-workers N``: where the long steps run."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="run the photo workers on this Dask cluster (tcp://host:8786; dgae "
                        "predict also spreads the gallery over its workers); the photo paths "
                        "must be readable from every worker")
    g.add_argument("--dask-workers", type=int, default=None, metavar="N",
                   help="start a local Dask cluster of N worker processes (one thread each) for "
                        "this run")


@contextlib.contextmanager
def on_cluster(args):
    """joblib work inside runs on Dask when ``--dask-scheduler`` / ``--dask-workers`` asks;
    yields the ``distributed.Client`` (None without a cluster).

    Examples
    --------
    >>> with on_cluster(argparse.Namespace()) as client:
    ...     print(client)
    None
    """
    address, workers = getattr(args, "dask_scheduler", None), getattr(args, "dask_workers", None)
    if not address and not workers:
        yield None
        return
    import joblib

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--dask-scheduler / --dask-workers need Dask: "
                         "pip install 'dgae[dask]'") from None
    if workers is not None and workers < 1:
        raise ValueError(f"--dask-workers must be at least 1, got {workers}")
    local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=":0") if workers else None
    try:
        client = Client(local if local is not None else address)
    except OSError as exc:
        raise ValueError(f"cannot reach the Dask scheduler {address}: {exc}") from None
    try:
        with joblib.parallel_config(backend="dask", n_jobs=getattr(args, "n_jobs", None) or -1):
            yield client
    finally:
        client.close()
        if local is not None:
            local.close()


def verbosity(args):
    """0 when ``--quiet``, else 1 + the number of ``-v``.

    Examples
    --------
    >>> verbosity(argparse.Namespace(quiet=False, verbose=2)), verbosity(argparse.Namespace(quiet=True, verbose=1))
    (3, 0)
    """
    return 0 if args.quiet else 1 + args.verbose


def layers(text):
    """``"512,128"`` -> ``(512, 128)``.

    Examples
    --------
    >>> layers("64, 32")
    (64, 32)
    """
    try:
        out = comma_ints(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not out:
        raise argparse.ArgumentTypeError("expected at least one layer width")
    return out


def add_model_flags(p, layers_default=None):
    """``--layers`` (``--hidden``), ``--max-iter``, ``--gamma``, ``--learning-rate`` (``--lr``)."""
    p.add_argument("--layers", "--hidden", dest="layers", type=layers, default=layers_default,
                   help=f"encoder widths, comma-separated, e.g. 512,128 {FROM_MODEL}")
    p.add_argument("--max-iter", type=int, default=None, help=f"training iterations {FROM_MODEL}")
    p.add_argument("--gamma", type=float, default=None, help=f"weight decay {FROM_MODEL}")
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", default=None,
                   type=_learning_rate, help=f'initial step or "auto" {FROM_MODEL}')


def at_least(minimum):
    """An argparse type: an integer ``>= minimum`` (``--top-k``, ``--max-rows``).

    Examples
    --------
    >>> at_least(0)("3")
    3
    >>> at_least(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at least 1, got 0
    """
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _learning_rate(text):
    return text if text == "auto" else float(text)


def list_images(folder):
    """Photo files under ``folder`` (recursively), sorted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.JPG", "a.png", "notes.txt"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [os.path.basename(p) for p in list_images(d)]
    ['a.png', 'b.JPG']
    """
    from dgae.datasets import IMAGE_EXTENSIONS  # the photo files picked up

    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not found:
        raise ValueError(f"{folder}: no photo files ({', '.join(IMAGE_EXTENSIONS)})")
    return sorted(found)


def describe(paths, cache, descriptor, args, what="photos"):
    """Describe ``paths`` into the resumable ``cache`` (.npy); returns ``(X, descriptor)``.

    ``descriptor`` fitted: used as is (a cache made with another one is
    refused); not fitted: fitted on the photos (as ``dgae extract`` does).
    Says so when a cache is resumed; :func:`failed_rows` counts the photos
    that could not be read.
    """
    from dgae.pipeline import describe_photos

    verbose = verbosity(args)
    note_resume(cache, what, verbose)
    with on_cluster(args):
        X, _, descriptor = describe_photos(paths, descriptor, cache, verbose=verbose,
                                           n_jobs=getattr(args, "n_jobs", None),
                                           random_state=args.seed)
    return X, descriptor


def note_resume(cache, what, verbose):
    """Say so when ``cache`` holds an unfinished or finished extraction to resume."""
    import numpy as np

    from ..utils import say
    from dgae.features import state_paths

    files = state_paths(cache)
    if os.path.exists(files["done"]) and os.path.exists(cache):
        done = np.load(files["done"])
        # while the descriptor is fitted, its photos' rows are counted in their own mask
        fitting = np.load(files["fit_done"]) if os.path.exists(files["fit"]) else done[:0]
        say(f"resuming {cache}: {int(done.sum() + fitting.sum())} of {done.size} {what} already "
            "described", verbose=verbose)


def split_model(model, name="the model"):
    """``(descriptor or None, geolocating estimator)`` of a loaded model.

    A model ``dgae fit`` writes is ``Pipeline(descriptor, estimator)``; a bare
    estimator (fitted on a feature file) has no descriptor.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return None, model
    if len(model) > 2:
        raise ValueError(f"{name}: expected a Pipeline(descriptor, estimator), got {len(model)} steps")
    return (model[0] if len(model) == 2 else None), model[-1]


def load_model(path):
    """The model a ``dgae fit`` wrote, or one clear error for any other file.

    Examples
    --------
    >>> import tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "m.joblib")
    >>> _ = open(bad, "wb").write(b"not a model")
    >>> try:
    ...     load_model(bad)
    ... except ValueError as e:
    ...     print(str(e).split(" (")[0].endswith("is not a dgae model"))
    True
    """
    import joblib

    from dgae import GeoPipeline

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        model = joblib.load(path)
    except Exception as exc:  # random bytes, a CSV, a truncated file: whatever unpickling raises
        raise ValueError(f"{path} is not a dgae model (it does not unpickle: "
                         f"{type(exc).__name__}: {str(exc)[:80]})") from None
    descriptor, estimator = split_model(model, path)
    if not hasattr(estimator, "predict_details"):
        raise ValueError(f"{path} is not a dgae model (it holds a {type(model).__name__}; "
                         f"dgae fit writes one)")
    if descriptor is not None and not isinstance(model, GeoPipeline):  # written before GeoPipeline
        model = GeoPipeline(model.steps)
    return model


def check_output(path):
    """Fail before any work when ``path`` cannot be written (missing or read-only folder).

    Examples
    --------
    >>> check_output("/nonexistent-dir/p.csv")
    Traceback (most recent call last):
    ...
    OSError: /nonexistent-dir/p.csv: the folder /nonexistent-dir does not exist
    """
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise OSError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OSError(f"{path}: the folder {folder} is not writable")
    if os.path.isdir(path):
        raise OSError(f"{path} is a folder; give a file name")


def load_fitted_descriptor(path):
    """The fitted descriptor of a ``dgae fit`` model, a ``dgae extract`` .npy or a joblib file."""
    import joblib

    from dgae.features import state_paths

    if os.fspath(path).endswith(".npy"):
        side = state_paths(path)["descriptor"]
        if not os.path.exists(side):
            raise ValueError(f"{path}: no {side} beside it (not made by dgae extract)")
        return joblib.load(side)
    obj = joblib.load(path)
    if hasattr(obj, "steps"):  # a Pipeline(descriptor, estimator) from dgae fit
        obj = split_model(obj, path)[0]
    from dgae.features import is_fitted

    if not hasattr(obj, "transform") or not is_fitted(obj):
        raise ValueError(f"{path}: holds no fitted descriptor (found {type(obj).__name__})")
    return obj


def failed_rows(X, what, reasons):
    """Rows of ``X`` that could not be described, with a warning that counts them.

    ``reasons`` says where the reasons are (e.g. the extraction's error log).
    """
    import numpy as np

    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        warn(f"{int(bad.sum())} of {len(X)} {what} could not be described and are left "
             f"out (reasons: {reasons})", UserWarning)
    return bad


class Interrupted(KeyboardInterrupt):
    """Ctrl-C where nothing is kept to resume from; its message says what was not written."""
