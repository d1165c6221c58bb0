"""The README's figures are the records' and the demo's: every number of the README's result
tables is in docs/experiments.md (where each sits beside the command that made it), every such
table of the README names its command, and the demo run here prints the README's demo table
within the tolerance the README states."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RECORD = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
#: A figure: a decimal (48.5, 3,192.5) or a number with thousands separators (3,326).
FIGURE = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})*\.\d+|(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d.])")
#: What a command beside a figure looks like.
COMMAND = re.compile(r"python (-m dgae|experiments/\w+\.py)|dgae demo|photos\.py|make demo")


def _sections(text):
    """(heading, body) of each part of the README between headings (fenced blocks kept whole)."""
    parts, heading, body, fenced = [], "", [], False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            parts.append((heading, "\n".join(body)))
            heading, body = line, []
        else:
            body.append(line)
    return parts + [(heading, "\n".join(body))]


def _table_rows(body):
    """Lines of result tables: markdown rows and method rows of fenced tables, with figures."""
    return [line for line in body.splitlines()
            if (line.startswith("|") or re.match(r"^[A-Za-z][\w +]*\s+\d+\s+\d", line))
            and FIGURE.search(line)]


def test_every_figure_of_the_readme_tables_is_in_the_record():
    missing = [(figure, line) for _, body in _sections(README) for line in _table_rows(body)
               for figure in FIGURE.findall(line) if figure not in RECORD
               and not re.search(r"\s(fit|predict) s", line)]
    assert not missing, missing


def test_every_section_with_result_tables_names_its_command():
    silent = [heading for heading, body in _sections(README) if _table_rows(body)
              and not COMMAND.search(body)]
    assert not silent, silent


def _demo_block(text):
    block = text[text.index("[1nn head]"):]
    return block[:block.index("```")]


def _cells(block):
    """{method: (accuracy cells, median km)} of the 1-NN table of a demo printout."""
    rows = {}
    for line in block.splitlines()[2:]:
        if not line.strip() or line.startswith("["):
            break
        name, _, *values = line.split()
        values = [float(v) for v in values]
        rows[name] = (values[:-3], values[-3])  # then fit s, predict s
    return rows


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from dgae._demo import head_tables, run_demo

    res = run_demo(out_dir=tmp_path_factory.mktemp("demo"), heads=("1nn",), n_jobs=2, verbose=0)
    return head_tables(res, ("1nn",))


@pytest.mark.slow
def test_the_demo_prints_the_readme_table_within_the_stated_tolerance(demo):
    points = float(re.search(r"every accuracy cell within (\d+(?:\.\d+)?) points", README)[1])
    factor = float(re.search(r"every median within a factor of (\d+(?:\.\d+)?)", README)[1])
    ran = _cells(demo)
    for where, text in (("README", README), ("docs/experiments.md", RECORD)):
        quoted = _cells(_demo_block(text))
        assert set(quoted) == set(ran), where
        for name, (cells, median) in quoted.items():
            got, got_median = ran[name]
            assert max(abs(a - b) for a, b in zip(cells, got)) <= points, (where, name, cells, got)
            assert max(median, got_median) <= factor * min(median, got_median), (where, name)
