"""Import the source checkout as the installed package.

The design card keeps ``cells/``, ``features/`` and ``graphs/`` at the
repository root; ``setup.py`` maps them into ``dgae.*`` through
``package_dir``.  A script saved in the checkout's root imports ``dgae`` from
the source folder (the script's folder comes first on ``sys.path``), where
those three are not below ``dgae/``.  The finder here maps them the way
``setup.py`` does, so that such a script sees the same package an installed
wheel gives.  An installed wheel has them under ``dgae/`` and registers
nothing.
"""
import importlib.abc
import importlib.util
import sys
from pathlib import Path

# the root folders setup.py maps into dgae (tests/test_package.py checks the two agree)
ROOT_PACKAGES = ("cells", "features", "graphs")


class SourceTreeFinder(importlib.abc.MetaPathFinder):
    """Find ``dgae.<name>`` in ``<root>/<name>`` for the root packages."""

    def __init__(self, root):
        self.root = Path(root)

    def find_spec(self, fullname, path=None, target=None):
        parent, _, name = fullname.partition(".")
        if parent != "dgae" or name not in ROOT_PACKAGES:
            return None
        folder = self.root / name
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )


def register(package_dir):
    """Register the finder when ``package_dir`` is a source checkout's ``dgae/``."""
    package_dir = Path(package_dir)
    root = package_dir.parent
    if (package_dir / ROOT_PACKAGES[0]).exists() or not (root / "setup.py").is_file():
        return  # an installed package, or not our checkout
    if not all((root / name / "__init__.py").is_file() for name in ROOT_PACKAGES):
        return
    if not any(isinstance(f, SourceTreeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, SourceTreeFinder(root))
