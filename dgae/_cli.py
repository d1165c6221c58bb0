"""The ``dgae`` command line.

Each subcommand lives in its own module that defines ``add_parser(subparsers)``;
the parser it adds sets ``func`` (called with the parsed args, returns an exit
code).  Modules keep heavy imports inside ``func`` so ``dgae --help`` is fast.
"""
import argparse
import importlib
import sys

from ._version import __version__

# subcommand modules, in the order --help lists them
_COMMAND_MODULES = (
    "dgae._cli_extract",
    "dgae._cli_evaluate",
    "dgae._cli_demo",
    "dgae._cli_fit",
)


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
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for mod in _COMMAND_MODULES:
        importlib.import_module(mod).add_parser(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
