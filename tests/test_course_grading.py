"""Every notebook's grading round trip, through `coursekit grade` and its sandbox.

One batch for the whole course, graded once per test session by the real command:

* alice: the solution, each exercise cell isolated so that it leaves only its own functions and
  classes in the notebook (its imports stay private). Full marks prove the checks accept the
  solution through the sandbox's data-only channel, and that every graded test cell is
  self-contained: it uses only the locked cells' names, the exercise's own names and what it
  imports itself.
* bob: the untouched release. Zero, every cell "not attempted", no crash.
* carol: the first two exercises solved. Their points, nothing else.

A new notebook is covered as soon as its solution exists in solutions/.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import course_notebooks, require_sandbox

from coursekit.instructor.course import answered_notebook
from coursekit.instructor.results import graded_cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [nb.stem for nb in course_notebooks()]
CELL_TIMEOUT = 120

pytestmark = pytest.mark.slow


def _points(stem: str) -> dict[str, float]:
    return dict(graded_cells(ROOT / "solutions" / f"{stem}.ipynb"))


def _first_two_exercises(stem: str) -> set[str]:
    source = nbformat.read(str(ROOT / "solutions" / f"{stem}.ipynb"), as_version=4)
    solutions = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")]
    return set(solutions[:2])


@pytest.fixture(scope="session")
def course_batch(tmp_path_factory):
    """(rows by (student, notebook), output folder, the command's stdout)."""
    require_sandbox()
    subs = tmp_path_factory.mktemp("course-submissions")
    out = tmp_path_factory.mktemp("course-graded")
    for stem in NOTEBOOKS:
        submissions = {
            "alice": answered_notebook(ROOT, stem, isolated=True),
            "bob": nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4),
            "carol": answered_notebook(ROOT, stem, only=_first_two_exercises(stem)),
        }
        for student, nb in submissions.items():
            (subs / student).mkdir(exist_ok=True)
            nbformat.write(nb, str(subs / student / f"{stem}.ipynb"))
    result = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade", str(subs),
         "--out", str(out), "--timeout", str(CELL_TIMEOUT)],
        capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WITHOUT the sandbox" not in result.stdout + result.stderr
    assert not (out / "nbgrader").exists()  # nbgrader's kernels were not used
    by_key: dict[tuple[str, str], list[dict]] = {}
    with (out / "grades.csv").open() as f:
        for row in csv.DictReader(f):
            by_key.setdefault((row["student"], row["notebook"]), []).append(row)
    return by_key, out, result.stdout


def _score(rows: list[dict]) -> float:
    return sum(float(r["score"]) for r in rows)


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_the_solution_gets_full_marks_with_self_contained_tests(course_batch, stem):
    rows = course_batch[0][("alice", stem)]
    failed = [(r["cell"], r["status"]) for r in rows if r["status"] != "passed"]
    assert failed == [], failed
    assert _score(rows) == sum(_points(stem).values()) > 0
    assert (course_batch[1] / "feedback" / "alice" / f"{stem}.html").exists()


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_the_untouched_release_gets_zero_without_a_crash(course_batch, stem):
    rows = course_batch[0][("bob", stem)]
    assert _score(rows) == 0
    assert [r["cell"] for r in rows] == list(_points(stem))
    assert all(r["status"] == "not attempted" for r in rows), rows


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_a_partly_solved_notebook_gets_partial_marks(course_batch, stem):
    rows = {r["cell"]: r for r in course_batch[0][("carol", stem)]}
    points = _points(stem)
    solved = [f"{ex}_test" for ex in _first_two_exercises(stem)]
    assert all(rows[c]["status"] == "passed" for c in solved), rows
    assert _score(list(rows.values())) == sum(points[c] for c in solved)
    assert 0 < _score(list(rows.values())) < sum(points.values())


def test_an_isolated_answer_really_hides_its_imports(tmp_path):
    """The isolation alice's answers use: a test that needs an import from the exercise cell
    fails under it (so the full marks above mean something)."""
    code = "import math\n\ndef area(r):\n    return math.pi * r ** 2\n"
    from coursekit.instructor.course import _isolate

    ns: dict = {}
    exec(_isolate(code), ns)  # noqa: S102 - our own test code
    assert abs(ns["area"](1.0) - 3.141592653589793) < 1e-12
    assert "math" not in ns and "_own" not in ns
