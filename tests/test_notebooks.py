"""The course notebooks: template, single source, no leaks, executed and deterministic storage."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.course import solution_notebooks
from coursekit.instructor.release import build_release, release
from coursekit.instructor.template import template_problems

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = solution_notebooks(ROOT)


def _blocks(text: str, begin: str, end: str) -> list[str]:
    return [m.strip() for m in re.findall(rf"### {begin}\n(.*?)### {end}", text, re.S)]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_notebook_follows_the_template(path):
    assert template_problems(nbu.read(path), path.stem) == []


def test_template_validator_catches_missing_parts():
    nb = nbu.read(SOLUTIONS[0])
    nb.cells = [c for c in nb.cells if not c.source.startswith("## Learning objectives")
                and not c.source.lstrip().startswith("check_weighted_sum(")]
    problems = template_problems(nb, SOLUTIONS[0].stem)
    assert any("Learning objectives" in p for p in problems)
    assert any("'weighted_sum' must be followed by its graded check" in p for p in problems)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_are_stored_executed_and_clean(path):
    nb = nbu.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "execute with `coursekit run --save`"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert path.read_text() == nbu.dumps(nbu.clean(nbu.read(path), keep_outputs=True)), \
        "stray metadata: save with `coursekit run --save`"
    assert not re.search(r"/(home|root|tmp|Users)/\w", path.read_text()), "machine-specific path"


def test_student_notebooks_are_in_sync_with_solutions():
    stale = release(ROOT, check=True)
    assert stale == [], f"run `coursekit release`: {stale}"


def test_release_is_deterministic():
    assert build_release(ROOT) == build_release(ROOT)


def test_release_check_names_a_stale_notebook(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    nb = nbu.read(tmp_path / "solutions" / SOLUTIONS[0].name)
    nb.cells[0].source += "\n\nAn edit an instructor forgot to release."
    nbu.write(nb, tmp_path / "solutions" / SOLUTIONS[0].name)
    result = subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(tmp_path),
                             "release", "--check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"stale: notebooks/{SOLUTIONS[0].name}" in result.stdout
    fixed = subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(tmp_path),
                            "release"], capture_output=True, text=True, timeout=300)
    assert fixed.returncode == 0 and release(tmp_path, check=True) == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_no_solution_or_hidden_test_reaches_students(path):
    source = path.read_text()
    student_path = ROOT / "notebooks" / path.name
    student = student_path.read_text()
    assert nbu.find_markers(student) == []
    student_code = "\n".join(c.source for c in nbu.read(student_path).cells)
    src_nb = nbu.read(path)
    for cell in src_nb.cells:
        for block in (_blocks(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                      + _blocks(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 12 and not line.startswith("#"):
                    assert line not in student_code, f"leaked into {student_path.name}: {line}"
    assert all(not c.get("outputs") for c in nbu.read(student_path).cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" in source  # the source really has solutions to hide


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", str(ROOT), "-w", str(out)], check=True, timeout=600,
                   cwd=tmp_path_factory.mktemp("build-cwd"))
    return next(out.glob("coursekit-*.whl"))


@pytest.mark.slow
def test_built_wheel_has_no_solutions_or_hidden_tests(built_wheel):
    import zipfile

    with zipfile.ZipFile(built_wheel) as zf:
        names = zf.namelist()
        contents = "\n".join(zf.read(n).decode("utf-8", "replace") for n in names
                             if n.endswith((".py", ".txt", ".json", ".ipynb", ".md")))
    assert not any(n.endswith(".ipynb") or n.startswith(("solutions/", "notebooks/")) for n in names)
    # coursekit's own code names the markers in strings; a marker standing as a line is a leak
    marker_lines = re.findall(r"^\s*### (?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)\s*$", contents, re.M)
    assert marker_lines == []
    for path in SOLUTIONS:
        for cell in nbu.read(path).cells:
            for block in (_blocks(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                          + _blocks(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
                if block.count("\n") >= 1:  # multi-line blocks: a one-liner can coincide
                    assert block not in contents, block


@pytest.mark.slow
def test_notebook_01_shows_its_figures_without_the_repository(built_wheel, tmp_path, monkeypatch):
    """As in Colab: coursekit comes from the wheel, no imgs/ beside the notebook, no network."""
    import zipfile

    from nbformat.v4 import new_code_cell

    from coursekit.instructor.runner import execute

    site = tmp_path / "site"
    zipfile.ZipFile(built_wheel).extractall(site)
    nb = nbu.read(ROOT / "solutions" / "01_neurons.ipynb")
    nb.cells.insert(0, new_code_cell(
        "import socket\n"
        "def _no_network(*args, **kwargs):\n    raise OSError('network disabled for this test')\n"
        "socket.create_connection = _no_network\n"
        "import coursekit\nprint('coursekit from', coursekit.__file__)"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(site))
    execute(nb, elsewhere, progress=False)
    assert str(site) in nb.cells[0].outputs[0]["text"]
    shown = [c for c in nb.cells if "show_figure(" in c.source and c.cell_type == "code"]
    assert len(shown) == 3
    for cell in shown:
        assert any("image/gif" in o.get("data", {}) for o in cell.outputs), cell.source
