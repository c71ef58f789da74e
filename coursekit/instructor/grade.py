"""`coursekit grade`: grade a folder of submissions, robustly.

SUBMISSIONS is laid out ``<student_id>/<notebook>.ipynb`` (an LMS export, unzipped). Every
submission is graded on its own: a file that is not a notebook, a symlink, a kernel that dies or
a cell that never ends costs that student points with a readable status, never the batch.

Each submission goes to one grader: the sandbox (default; :mod:`coursekit.instructor.sandbox`,
docs/sandbox.md), or plain nbgrader (``sandbox=False``), where student code runs with the
instructor's rights. Output:

    OUT/grades.csv                      one row per student, notebook and graded cell
    OUT/feedback/<student>/<nb>.html    what the student sees (no hidden tests)
    OUT/nbgrader/                       nbgrader's working folder (plain nbgrader only)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Protocol

import nbformat

from coursekit.instructor.course import CELL_TIMEOUT_S, CourseError, solution_notebooks
from coursekit.instructor.results import (
    CellGrade,
    graded_cells,
    summary_table,
    write_csv,
    zeros,
)
from coursekit.instructor.submissions import load_submission

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")

UNSANDBOXED_WARNING = (
    "WARNING: graded WITHOUT the sandbox (--no-sandbox): student code ran with your rights. It "
    "could read solutions/, the gradebook and other submissions, and tamper with its own tests.")


class SubmissionGrader(Protocol):
    """What the batch needs of a grader: one readable submission in, one row per graded cell out
    (and its feedback written under the output folder)."""

    def grade_one(self, student: str, stem: str, nb: nbformat.NotebookNode) -> list[CellGrade]: ...


def make_grader(sources: dict[str, Path], out_dir: Path, *, cell_timeout: int = CELL_TIMEOUT_S,
                sandbox: bool = True) -> SubmissionGrader:
    if sandbox:
        from coursekit.instructor.sandbox import SandboxGrader, sandbox_problem

        if problem := sandbox_problem():  # never fall back to unsandboxed grading silently
            raise CourseError(f"{problem}\nSet it up with `sudo bash tools/setup-sandbox.sh`, "
                              "or grade without it: `coursekit grade --no-sandbox` (unsafe)")
        return SandboxGrader(sources, out_dir, cell_timeout=cell_timeout)
    from coursekit.instructor.nbgrader_grader import NbgraderGrader

    return NbgraderGrader(sources, out_dir, cell_timeout=cell_timeout)


def collect(submissions: Path, stems: list[str]) -> tuple[dict[str, dict[str, Path | str]], list[str]]:
    """student -> notebook stem -> the file to grade, or the status of a submission that cannot
    be graded; and notes on what was skipped. Only notebooks that someone in the batch handed in
    are listed, so grading one notebook does not report every other one as missing."""
    if not submissions.is_dir():
        raise CourseError(f"submissions folder not found: {submissions}")
    found: dict[str, dict[str, Path | str]] = {}
    notes: list[str] = []
    for student_dir in sorted(submissions.iterdir()):
        student = student_dir.name
        if not student_dir.is_dir() or student_dir.is_symlink():
            notes.append(f"skipped {student}: not a student folder")
            continue
        if not STUDENT_ID.match(student):
            notes.append(f"skipped {student!r}: student ids use letters, digits and . _ @ + -")
            continue
        entries = sorted(student_dir.iterdir())
        mine: dict[str, Path | str] = {}
        for path in entries:
            if path.stem not in stems:
                notes.append(f"{student}: ignored {path.name} (not a course notebook)")
            elif path.suffix == ".ipynb":
                mine[path.stem] = path
            elif path.stem not in mine:
                mine[path.stem] = "unreadable: not an .ipynb file"
        found[student] = mine
    handed_in = {stem for mine in found.values() for stem in mine}
    for mine in found.values():
        for stem in stems:
            if stem in handed_in and stem not in mine:
                mine[stem] = "missing: not submitted"
    return {s: dict(sorted(m.items(), key=lambda kv: stems.index(kv[0]))) for s, m in found.items()}, notes


def grade_batch(submissions: Path, grader: SubmissionGrader,
                sources: dict[str, Path]) -> tuple[list[CellGrade], list[str]]:
    """Grade every submission of the batch, one after another."""
    cells = {stem: graded_cells(path) for stem, path in sources.items()}
    batch, notes = collect(submissions, list(sources))
    rows: list[CellGrade] = []
    for student, mine in batch.items():
        for stem, item in mine.items():
            if isinstance(item, str):
                rows += zeros(student, stem, cells[stem], item)
                continue
            nb, problem = load_submission(item)
            rows += zeros(student, stem, cells[stem], problem) if problem else \
                grader.grade_one(student, stem, nb)
    return rows, notes


def grade(submissions: Path, out_dir: Path, root: Path, *, cell_timeout: int = CELL_TIMEOUT_S,
          sandbox: bool = True) -> list[CellGrade]:
    """Grade a folder of submissions and write ``grades.csv`` and feedback to ``out_dir``."""
    # nbgrader changes directory while it works: relative paths would break its database URL.
    submissions, out_dir, root = submissions.resolve(), out_dir.resolve(), root.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # grades and feedback are student data: keep them out of git wherever the folder is
    (out_dir / ".gitignore").write_text("# written by `coursekit grade`: student data, never "
                                        "commit it\n*\n", encoding="utf-8")
    sources = {nb.stem: nb for nb in solution_notebooks(root)}
    grader = make_grader(sources, out_dir, cell_timeout=cell_timeout, sandbox=sandbox)
    if not sandbox:
        print(UNSANDBOXED_WARNING, file=sys.stderr)
    rows, notes = grade_batch(submissions, grader, sources)
    write_csv(rows, out_dir / "grades.csv")
    print(summary_table(rows))
    for note in notes:
        print(f"note: {note}")
    if not sandbox:
        print(UNSANDBOXED_WARNING)
    print(f"wrote {out_dir / 'grades.csv'} ({len(rows)} rows) and feedback in {out_dir / 'feedback'}")
    return rows
