"""The ``dgae`` command line.

Each subcommand lives in its own module that defines ``add_parser(subparsers)``;
the parser it adds sets ``func`` (called with the parsed args, returns an exit
code).  Modules keep heavy imports inside ``func`` so ``dgae --help`` is fast.
"""
import argparse
import contextlib
import importlib
import sys
import warnings

from .. import __version__

# subcommand modules, in the order --help lists them
_COMMAND_MODULES = (
    "dgae.cli._extract",
    "dgae.cli._evaluate",
    "dgae.cli._demo",
    "dgae.cli._fit",
    "dgae.cli._predict",
    "dgae.cli._report",
)

#: What a user's input can raise: reported in one line, exit status 2.
_USER_ERRORS = (ValueError, OSError, ImportError, KeyError, EOFError)


def build_parser():
    """The ``argparse`` parser with every subcommand.

    Examples
    --------
    >>> build_parser().prog
    'dgae'
    """
    parser = argparse.ArgumentParser(
        prog="dgae",
        description="Photo geolocation with the Deep Geo-constrained Auto-Encoder.",
    )
    parser.add_argument("--version", action="version", version=f"dgae {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (default: one line, exit 2)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for mod in _COMMAND_MODULES:
        importlib.import_module(mod).add_parser(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP

    Errors in the user's input (a missing file, a bad CSV, ...) print one line
    ``dgae: error: ...`` on stderr and return 2; ``--debug`` re-raises them.
    Ctrl-C prints one line (what was kept, and how to resume) and returns 130;
    warnings print as one line ``dgae: warning: ...``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        with _one_line_warnings(args.debug):
            return int(args.func(args) or 0)
    except _USER_ERRORS as exc:
        if args.debug:
            raise
        print(f"dgae: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        if getattr(exc, "n_done", None):  # dgae.features.ExtractionInterrupted
            what = (f": {exc.n_done} of {exc.n_total} photos described, kept in {exc.out}; run the "
                    "same command to resume")
        else:  # nothing described yet, or an Interrupted saying what was not written
            what = f" {exc}" if str(exc) and not hasattr(exc, "n_done") else ""
        print("dgae: interrupted" + what, file=sys.stderr)
        return 130


@contextlib.contextmanager
def _one_line_warnings(debug):
    """Warnings print as one line, ``dgae: warning: ...`` (with ``--debug``: Python's form)."""
    if debug:
        yield
        return

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"dgae: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _one_line(exc):
    """An exception as one line (its type when the message does not say much).

    Examples
    --------
    >>> _one_line(FileNotFoundError(2, "No such file or directory", "m.joblib"))
    "[Errno 2] No such file or directory: 'm.joblib'"
    >>> _one_line(KeyError("path"))
    "KeyError: 'path'"
    """
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) or not text:
        text = f"{type(exc).__name__}: {text}".rstrip(": ")
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
