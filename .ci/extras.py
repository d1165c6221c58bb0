"""An extra that installs must import: install every extra of setup.py this machine can run
(not ``gpu``: CuPy needs CUDA) into the current environment, then import each top-level module
its distributions ship.  Prints one line per extra; exits 1 naming the ones that fail."""
import ast
import importlib
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"gpu": "CuPy needs a CUDA device"}


def extras():
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXTRAS_REQUIRE":
            return ast.literal_eval(node.value)
    raise SystemExit("no EXTRAS_REQUIRE in setup.py")


def modules(requirement, shipped):
    name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    key = re.sub(r"[-_.]+", "-", name).lower()
    return sorted(m for m, dists in shipped.items() if not m.startswith("_")
                  and any(re.sub(r"[-_.]+", "-", d).lower() == key for d in dists))


def main():
    wanted = {k: v for k, v in extras().items() if k not in SKIP}
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{ROOT}[{','.join(wanted)}]"],
                         capture_output=True, text=True)
    if pip.returncode:
        raise SystemExit(f"the extras do not install:\n{pip.stderr[-2000:]}")
    shipped = md.packages_distributions()
    failed = []
    for extra, requirements in wanted.items():
        names = [m for r in requirements for m in modules(r, shipped)]
        errors = []
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 -- any failure to import is the finding
                errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        if not names:
            errors.append("no module found for " + ", ".join(requirements))
        print(f"extra {extra}: " + ("; ".join(errors) if errors else "imports " + ", ".join(names)))
        failed += [extra] if errors else []
    for extra, why in SKIP.items():
        print(f"extra {extra}: not checked ({why})")
    if failed:
        raise SystemExit(f"extras that install but do not import: {', '.join(failed)}")


if __name__ == "__main__":
    main()
