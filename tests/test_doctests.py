"""Every module's Examples run, and every public name has one."""
import doctest
import importlib
import inspect
import pkgutil

import matplotlib
import pytest

matplotlib.use("Agg")

import dgae  # noqa: E402

PUBLIC = ["dgae", "dgae.base", "dgae.utils", "dgae.geo", "dgae.metrics", "dgae.datasets", "dgae.plotting",
          "dgae.features", "dgae.graphs", "dgae.cells"]


def _modules():
    names = set(PUBLIC)
    # the folders under dgae/ (dgae.cli, ...) and the packages mapped in from elsewhere
    names.update(m.name for m in pkgutil.walk_packages(dgae.__path__, "dgae."))
    for pkg in ("dgae.features", "dgae.graphs", "dgae.cells"):
        mod = importlib.import_module(pkg)
        names.update(m.name for m in pkgutil.walk_packages(mod.__path__, pkg + "."))
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_module_doctests(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:  # an optional extra (torch, cupy) is missing
        pytest.skip(f"{name}: {exc}")
    for package in getattr(mod, "DOCTEST_REQUIRES", ()):  # examples that need an optional extra
        pytest.importorskip(package)
    tests = doctest.DocTestFinder(exclude_empty=True).find(mod, name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0, f"{runner.failures} doctest failure(s) in {name} (see output)"


def _public_names():
    for modname in PUBLIC:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{modname}.{name}", obj


@pytest.mark.parametrize("qualname, obj", list(_public_names()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_names_have_examples(qualname, obj):
    doc = inspect.getdoc(obj) or ""
    assert "Examples\n--------" in doc, f"{qualname} has no Examples section"
