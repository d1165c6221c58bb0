"""``python -m dgae`` runs the ``dgae`` command line."""
from .cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
