"""Every Python block of README.md and docs/*.md runs as written (defect: the quick start didn't).

Each file's blocks run in order in one namespace (a reader pastes them one after the other),
in an empty working folder.  A block that needs an optional extra that is not installed
(torch, cupy, faiss) is skipped with the reason; anything else that fails fails the test.
"""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OPTIONAL = {"torch", "cupy", "faiss", "timm", "open_clip", "onnxruntime"}


def python_blocks(path):
    """The ```python blocks of a Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)]


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_python_blocks_run_as_written(path, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, code in python_blocks(path):
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except ImportError as exc:  # ours name the missing module too (e.g. CNNDescriptor's)
            if exc.name and exc.name.split(".")[0] in OPTIONAL:
                pytest.skip(f"{path.name}:{line} needs the optional {exc.name}")
            raise


def test_the_readme_shows_the_report_and_the_two_commands():
    first_screen = "\n".join(ROOT.joinpath("README.md").read_text().splitlines()[:40])
    assert "docs/report.png" in first_screen and "dgae report" in first_screen
    assert os.path.exists(ROOT / "docs" / "report.png")
