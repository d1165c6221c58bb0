"""The ``dgae`` command line: one module per subcommand (its parser and its handler).

``dgae.cli.main(argv)`` runs it; ``python -m dgae`` and the ``dgae`` script call it.
The library never imports this package.
"""
from ._main import build_parser, main

__all__ = ["build_parser", "main"]
