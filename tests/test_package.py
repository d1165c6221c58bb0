"""Packaging, layering and the command line."""
import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dgae
from dgae.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
# what features/ and graphs/ may use from the dgae package
BASE_MODULES = {"dgae._backend", "dgae._geo", "dgae.geo", "dgae._validation", "dgae._progress",
                "dgae._version", "dgae._places", "dgae._coastlines"}


def _imports(path, package):
    """Absolute dotted names a module imports (relative imports resolved against ``package``)."""
    tree = ast.parse(path.read_text())
    parts = package.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
                if node.module is None:
                    yield from (f"{mod}.{a.name}" for a in node.names)
                    continue
            else:
                mod = node.module
            yield mod


@pytest.mark.parametrize("folder, package, allowed", [
    ("features", "dgae.features", BASE_MODULES),
    ("graphs", "dgae.graphs", BASE_MODULES | {"dgae.features"}),
    ("cells", "dgae.cells", BASE_MODULES | {"dgae._table"}),
])
def test_lower_layers_import_only_base_modules(folder, package, allowed):
    for path in (ROOT / folder).rglob("*.py"):
        for name in _imports(path, package):
            if not name.startswith("dgae"):
                continue
            if name.startswith(package) or any(name == a or name.startswith(a + ".") for a in allowed):
                continue
            pytest.fail(f"{path.relative_to(ROOT)} imports {name}: lower layers must not import higher ones")


@pytest.mark.parametrize("folder, package", [("features", "dgae.features"),
                                             ("graphs", "dgae.graphs"), ("cells", "dgae.cells")])
def test_no_import_cycle_inside_a_package(folder, package):
    """Module-level and deferred imports alike: a package's modules form a DAG."""
    edges = {}
    for path in (ROOT / folder).glob("*.py"):
        mod = f"{package}.{path.stem}" if path.stem != "__init__" else package
        edges[mod] = {name for name in _imports(path, package)
                      if name.startswith(package + ".") and name != mod}
    edges.pop(package, None)  # __init__ re-exports; nothing imports it back

    def visit(node, stack):
        if node in stack:
            pytest.fail("import cycle: " + " -> ".join(stack[stack.index(node):] + [node]))
        for nxt in edges.get(node, ()):
            visit(nxt, stack + [node])

    for mod in edges:
        visit(mod, [])


@pytest.mark.parametrize("folder, package", [("dgae", "dgae"), ("experiments", "experiments"),
                                             ("benchmarks", "benchmarks")])
def test_library_code_does_not_import_the_command_line(folder, package):
    for path in (ROOT / folder).rglob("*.py"):
        if "cli" in path.relative_to(ROOT).parts or path.stem == "__main__":
            continue
        pkg = ".".join([package, *path.parent.relative_to(ROOT / folder).parts])
        bad = [n for n in _imports(path, pkg) if n == "dgae.cli" or n.startswith("dgae.cli.")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}: the CLI sits on top of the library"


def test_importing_features_does_not_load_the_estimator():
    code = "import sys, dgae.features, dgae.graphs; print('dgae._estimator' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version_everywhere():
    assert dgae.__version__.count(".") == 2
    out = subprocess.run([sys.executable, "-m", "dgae", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"dgae {dgae.__version__}"


def test_cli_help_lists_subcommands(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    sub = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    for name in sub.choices:
        assert name in text
    assert main([]) == 2


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        dgae.no_such_thing


def test_wheel_maps_features_and_graphs_into_dgae(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("dgae-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dgae/features/__init__.py" in names
    assert "dgae/graphs/__init__.py" in names
    assert "dgae/cells/__init__.py" in names
    # every sub-package of the source tree ships (setup.py lists them one by one)
    for init in (ROOT / "dgae").rglob("__init__.py"):
        assert f"dgae/{init.relative_to(ROOT / 'dgae').as_posix()}" in names, init
    tops = {n.split("/")[0] for n in names}
    assert not {"features", "graphs", "cells"} & tops
    assert any(n.startswith("dgae-") and n.endswith("entry_points.txt") for n in names)
