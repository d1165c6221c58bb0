"""Packaging, layering and the command line."""
import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dgae
from dgae.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
#: The library's folders and the dotted names they install as (setup.py's package_dir).
FOLDERS = {"dgae": "dgae", "features": "dgae.features", "graphs": "dgae.graphs", "cells": "dgae.cells"}
#: The rooms, lowest first, and the rooms each may import: data flows one way.
ROOMS = {
    "utils": {"utils"},
    "base": {"utils", "base"},
    "features": {"utils", "base", "features"},
    "cells": {"utils", "base", "cells"},
    "graphs": {"utils", "base", "graphs", "features"},
    "estimators": {"utils", "base", "features", "graphs", "cells", "estimators"},
    "cli": {"utils", "base", "features", "graphs", "cells", "estimators", "cli"},
}
#: Packages: a private module (a ``_name``) is imported only from inside its own package.
PACKAGE_OF_ROOM = {"utils": "utils", "base": "dgae", "features": "features", "graphs": "graphs",
                   "cells": "cells", "estimators": "dgae", "cli": "cli"}
#: Private names outside the library that have no public hook yet, each with its reason.
PRIVATE_OUTSIDE = {
    ("benchmarks/bench_scale.py", "dgae.graphs._build"):
        "--q-proxy swaps the Q search for random pairs to time the rest of a fit at sizes the "
        "search cannot reach; no public parameter takes a precomputed Q (issue 36)",
}


def _modules():
    """``{dotted name: (path, is_package)}`` of every library module."""
    out = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            is_pkg = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _room(name):
    """The room of a dotted module name."""
    for prefix, room in (("dgae.utils", "utils"), ("dgae._version", "base"), ("dgae.base", "base"),
                         ("dgae.features", "features"), ("dgae.graphs", "graphs"),
                         ("dgae.cells", "cells"), ("dgae.cli", "cli"), ("dgae.__main__", "cli")):
        if name == prefix or name.startswith(prefix + "."):
            return room
    return "estimators"


def _imports(path, package):
    """Absolute dotted names a module imports, at module level or deferred inside a function
    (relative imports resolved against ``package``; ``from a import b`` yields ``a.b`` too, so a
    private module imported by name is seen)."""
    tree = ast.parse(path.read_text())
    parts = package.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module
            if node.module is None:  # from . import _network: the module, not the package
                yield from (f"{mod}.{a.name}" for a in node.names)
                continue
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names if a.name.startswith("_"))


def _edges():
    """``{module: {imported library module}}`` over the whole tree."""
    modules = _modules()
    edges = {}
    for name, (path, is_pkg) in modules.items():
        package = name if is_pkg else name.rpartition(".")[0]
        edges[name] = {m for m in _imports(path, package) if m in modules and m != name}
    return edges


def _is_private(name):
    return any(part.startswith("_") and part != "__init__" for part in name.split(".")[1:])


def test_every_import_goes_down_the_rooms_and_no_private_one_crosses_a_package():
    """utils <- features / graphs / cells <- estimators <- cli, module-level and deferred
    imports alike; a package's private modules are its own."""
    bad = []
    for mod, targets in _edges().items():
        src = _room(mod)
        for t in sorted(targets):
            dst = _room(t)
            if dst not in ROOMS[src]:
                bad.append(f"{mod} ({src}) imports {t} ({dst})")
            elif PACKAGE_OF_ROOM[src] != PACKAGE_OF_ROOM[dst] and _is_private(t):
                bad.append(f"{mod} imports the private {t} of another package")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", ["experiments", "benchmarks"])
def test_experiments_and_benchmarks_use_public_names_only(folder):
    """What they need is public (and documented): no private module of the library, no private
    name from it (their own ``_common`` modules are theirs)."""
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        pkg = ".".join([folder, *path.parent.relative_to(ROOT / folder).parts])
        rel = path.relative_to(ROOT).as_posix()
        for name in _imports(path, pkg):
            if name.split(".")[0] == "dgae" and _is_private(name) \
                    and (rel, name) not in PRIVATE_OUTSIDE:
                bad.append(f"{rel} imports {name}")
    assert not bad, "\n".join(bad)


def test_no_import_cycle_in_the_tree():
    """No module imports itself back, through any chain of module-level or deferred imports
    (a package's ``__init__`` re-exports; nothing below it imports it back)."""
    edges = _edges()
    state = {}

    def visit(node, stack):
        if state.get(node) == "done":
            return
        if node in stack:
            pytest.fail("import cycle: " + " -> ".join(stack[stack.index(node):] + [node]))
        for nxt in sorted(edges.get(node, ())):
            visit(nxt, stack + [node])
        state[node] = "done"

    for mod in sorted(edges):
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


@pytest.mark.parametrize("command", ["fit", "predict", "extract", "evaluate", "report", "demo"])
def test_help_is_plain_text_naming_no_private_module(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert not re.search(r"``|:(mod|class|func|meth|attr):`", text), text
    assert not re.search(r"\bdgae\._", text), text


def test_fit_help_shows_the_defaults_a_left_out_flag_takes(capsys):
    from dgae import DGAE

    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = DGAE().get_params()
    assert "None: DGAE's" not in text
    for flag, param in [("--alpha", "alpha"), ("--k1", "k1"), ("--max-iter", "max_iter"),
                        ("--graph", "graph"), ("--optimizer", "optimizer")]:
        shown = re.search(re.escape(flag) + r" (?:(?! --).)*?\(default: DGAE's, ([^)]+)\)", text)
        assert shown and shown.group(1) == str(defaults[param]), flag
    assert f"(default: DGAE's, {','.join(map(str, defaults['hidden_layer_sizes']))})" in text


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        dgae.no_such_thing


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    (path,) = out.glob("dgae-*.whl")
    return path


def test_wheel_maps_features_and_graphs_into_dgae(wheel):
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


def test_a_script_in_the_checkout_root_imports_what_the_wheel_installs(wheel, tmp_path):
    """``pip install .`` then a script saved in the root: the source ``dgae/`` comes first on
    ``sys.path`` and shadows the installed one, so the root's ``features/``, ``graphs/`` and
    ``cells/`` must import as ``dgae.*`` from there too.  ``-S`` keeps this interpreter's editable
    finder (a ``.pth`` file) out: only the installed wheel and the checkout are on the path."""
    import site

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    code = ("import dgae, dgae.graphs, dgae.features, dgae.cells; from dgae.graphs import POIMiner; "
            "print(dgae.__file__, dgae.graphs.__file__)")
    path = ":".join([str(target), *site.getsitepackages()])
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-500:]
    init, graphs = (Path(p) for p in out.stdout.split())
    assert init.parent == ROOT / "dgae" and graphs.parent == ROOT / "graphs"


def test_the_source_finder_maps_the_folders_setup_py_maps():
    from dgae._source_tree import ROOT_PACKAGES

    assert set(ROOT_PACKAGES) == set(FOLDERS) - {"dgae"}


def test_cli_choices_are_the_estimators_constraints():
    """The CLI writes no list of choices of its own: they are DGAE's ``StrOptions`` (its
    retrieval's, GeoKNN's, for the head and the index), read when argparse first needs them
    (building the parser does not import the estimators)."""
    from sklearn.utils._param_validation import StrOptions

    from dgae import DGAE, GeoKNN

    code = ("import sys; from dgae.cli import build_parser; build_parser(); "
            "print('dgae._estimator' in sys.modules or 'dgae._knn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    import argparse

    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction)).choices
    for command, flag, param, left_out in [("fit", "--graph", "graph", set()),
                                           ("fit", "--objective", "objective", set()),
                                           ("fit", "--optimizer", "optimizer", set()),
                                           ("fit", "--index", "index", set()),
                                           ("fit", "--head", "head", set()),
                                           ("fit", "--device", "device", set()),
                                           ("predict", "--head", "head", {"auto"})]:
        action = next(a for a in sub[command]._actions if flag in a.option_strings)
        owner = GeoKNN if param in ("head", "index") else DGAE
        want = {o for c in owner._parameter_constraints[param] if isinstance(c, StrOptions)
                for o in c.options} - left_out
        assert set(action.choices) == want, (command, flag)
