"""`coursekit grade`: autograde a folder of submissions with nbgrader, robustly.

SUBMISSIONS is laid out ``<student_id>/<notebook>.ipynb`` (an LMS export, unzipped).
Every submission is graded on its own: a file that is not a notebook, a symlink, a kernel
that dies or a cell that never ends costs that student points with a readable status,
never the batch.

By default each submission runs in the sandbox (coursekit.sandbox, docs/sandbox.md): the
student's code in a locked-down process, the tests in this one. ``sandbox=False`` grades with
plain nbgrader autograde instead, where student code runs with the instructor's rights.
Output:

    OUT/grades.csv                      one row per student, notebook and graded cell
    OUT/feedback/<student>/<nb>.html    what the student sees (no hidden tests)
    OUT/nbgrader/                       nbgrader's own working folder, for inspection
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursekit import nbformat_utils as nbu
from coursekit.course import (
    CELL_TIMEOUT_S,
    CourseError,
    generate_assignments,
    make_api,
    solution_notebooks,
    stage_sources,
)
from coursekit.submissions import first_line, load_submission

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
CSV_FIELDS = ("student", "notebook", "cell", "score", "max_score", "status")


@dataclass
class CellGrade:
    student: str
    notebook: str
    cell: str
    score: float
    max_score: float
    status: str


def graded_cells(notebook: Path) -> list[tuple[str, float]]:
    """(grade_id, points) of every autograded cell of an instructor notebook, in order."""
    cells = []
    for cell in nbu.read(notebook).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cells.append((meta["grade_id"], float(meta.get("points", 0))))
    return cells


def _zeros(student: str, notebook: str, cells, status: str) -> list[CellGrade]:
    return [CellGrade(student, notebook, cid, 0.0, pts, status) for cid, pts in cells]


def failure_status(ename: str, message: str, timed_out: str = "", timeout_s: int = 0) -> str:
    """The status of a test cell that raised ``ename: message`` (its first line): "not attempted"
    for a stub, else "failed: ..."; ``timed_out`` names an earlier cell that timed out, the
    likely cause (its definitions are missing)."""
    if "not attempted" in message:
        return "not attempted"
    status = f"failed: {ename}" + (f": {message}" if message else " (hidden test)")
    if timed_out:
        status += f" (cell '{timed_out}' timed out after {timeout_s} s before this)"
    return status


def cell_statuses(nb: nbformat.NotebookNode, timeout_s: int = CELL_TIMEOUT_S) -> dict[str, str]:
    """grade_id -> "passed", "not attempted" or a one-line reason, from an executed notebook.

    A cell that timed out leaves later cells without its definitions; their status says so,
    so that "NameError" does not hide the real cause.
    """
    statuses = {}
    timed_out = ""
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        meta = cell.metadata.get("nbgrader", {})
        if errors and errors[0].get("ename") == "CellTimeoutError" and not timed_out:
            timed_out = meta.get("grade_id") or cell.get("id", "?")
            if not meta.get("grade"):
                continue
        if not meta.get("grade") or meta.get("solution"):
            continue
        status = "passed"
        if errors:
            ename, evalue = errors[0].get("ename", "Error"), first_line(errors[0].get("evalue", ""))
            if ename == "CellTimeoutError":
                status = f"failed: timed out after {timeout_s} s"
            else:
                status = failure_status(ename, evalue, timed_out, timeout_s)
        statuses[meta["grade_id"]] = status
    return statuses


def _failure_reason(result: dict) -> str:
    """One readable line from nbgrader's captured error (e.g. a dead kernel)."""
    text = f"{result.get('error', '')}\n{result.get('log', '')}"
    if "DeadKernelError" in text or "Kernel died" in text:
        return "error: the kernel died while running this notebook (os._exit, crash or out of memory)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln), lines[-1] if lines else "")
    return f"error: grading could not finish: {first_line(last)}"


class Grader:
    """Grades submissions against the course's instructor notebooks."""

    def __init__(self, root: Path, out_dir: Path, *, cell_timeout: int = CELL_TIMEOUT_S,
                 sandbox: bool = True):
        self.root = root
        self.out_dir = out_dir
        self.cell_timeout = cell_timeout
        self.sandbox = sandbox
        self.course_dir = out_dir / "nbgrader"
        self.sources = {nb.stem: nb for nb in solution_notebooks(root)}
        self.cells = {stem: graded_cells(nb) for stem, nb in self.sources.items()}
        if sandbox:
            from coursekit.sandbox import sandbox_problem

            if problem := sandbox_problem():  # never fall back to unsandboxed grading silently
                raise CourseError(f"{problem}\nSet it up with `sudo bash tools/setup-sandbox.sh`, "
                                  "or grade without it: `coursekit grade --no-sandbox` (unsafe)")
            return
        if self.course_dir.exists():
            shutil.rmtree(self.course_dir)  # every run grades from scratch
        self.course_dir.mkdir(parents=True)
        stage_sources(root, self.course_dir, list(self.sources.values()))
        generate_assignments(self.course_dir, list(self.sources))
        self.api = make_api(self.course_dir, cell_timeout=cell_timeout)

    def grade_all(self, submissions: Path) -> tuple[list[CellGrade], list[str]]:
        """Grade every ``<student>/<notebook>.ipynb``; returns the rows and notes on skipped files."""
        if not submissions.is_dir():
            raise CourseError(f"submissions folder not found: {submissions}")
        rows: list[CellGrade] = []
        notes: list[str] = []
        for student_dir in sorted(p for p in submissions.iterdir()):
            student = student_dir.name
            if not student_dir.is_dir() or student_dir.is_symlink():
                notes.append(f"skipped {student}: not a student folder")
                continue
            if not STUDENT_ID.match(student):
                notes.append(f"skipped {student!r}: student ids use letters, digits and . _ @ + -")
                continue
            submitted = {p.stem: p for p in student_dir.glob("*.ipynb")}
            for extra in sorted(p.name for p in student_dir.iterdir() if p.stem not in self.sources):
                notes.append(f"{student}: ignored {extra} (not a course notebook)")
            for stem in self.sources:
                if stem in submitted:
                    rows += self.grade_one(student, stem, submitted[stem])
                elif any(p.stem == stem for p in student_dir.iterdir()):
                    rows += _zeros(student, stem, self.cells[stem], "unreadable: not an .ipynb file")
                else:
                    rows += _zeros(student, stem, self.cells[stem], "missing: not submitted")
        return rows, notes

    def grade_one(self, student: str, stem: str, path: Path) -> list[CellGrade]:
        cells = self.cells[stem]
        nb, problem = load_submission(path)
        if problem:
            return _zeros(student, stem, cells, problem)
        if self.sandbox:
            return self._grade_sandboxed(student, stem, nb)
        dest = self.course_dir / "submitted" / student / stem / f"{stem}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest, follow_symlinks=False)
        result = self.api.autograde(stem, student)
        autograded = self.course_dir / "autograded" / student / stem / f"{stem}.ipynb"
        if not result.get("success") or not autograded.exists():
            return _zeros(student, stem, cells, _failure_reason(result))
        statuses = cell_statuses(nbu.read(autograded), self.cell_timeout)
        scores = self._scores(stem, student)
        self._feedback(student, stem)
        return [
            CellGrade(student, stem, cid, scores.get(cid, 0.0), pts,
                      statuses.get(cid, "failed: graded cell missing"))
            for cid, pts in cells
        ]

    def _grade_sandboxed(self, student: str, stem: str, nb) -> list[CellGrade]:
        from coursekit.sandbox import feedback_html, grade_submission

        rows, executed = grade_submission(self.sources[stem], nb, student=student,
                                          cell_timeout=self.cell_timeout)
        if executed.cells:
            target = self.out_dir / "feedback" / student / f"{stem}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(feedback_html(executed), encoding="utf-8")
        return rows

    def _scores(self, stem: str, student: str) -> dict[str, float]:
        from nbgrader.api import Gradebook

        with Gradebook(self.api.coursedir.db_url, self.api.coursedir.course_id) as gb:
            notebook = gb.find_submission_notebook(stem, stem, student)
            return {g.name: float(g.score or 0.0) for g in notebook.grades if g.max_score}

    def _feedback(self, student: str, stem: str) -> None:
        result = self.api.generate_feedback(stem, student)
        html = self.course_dir / "feedback" / student / stem / f"{stem}.html"
        if result.get("success") and html.exists():
            target = self.out_dir / "feedback" / student / f"{stem}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(html, target)


def write_csv(rows: list[CellGrade], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for r in rows:
            writer.writerow([r.student, r.notebook, r.cell, f"{r.score:g}", f"{r.max_score:g}", r.status])


def summary_table(rows: list[CellGrade]) -> str:
    """One line per student and notebook: score, max and the worst status."""
    by_key: dict[tuple[str, str], list[CellGrade]] = {}
    for r in rows:
        by_key.setdefault((r.student, r.notebook), []).append(r)
    lines = [f"{'student':<20} {'notebook':<18} {'score':>11}  status"]
    for (student, notebook), cells in by_key.items():
        got, total = sum(c.score for c in cells), sum(c.max_score for c in cells)
        problems = sorted({c.status for c in cells if c.status != "passed"})
        status = "all passed" if not problems else "; ".join(problems)
        if len(status) > 90:
            status = status[:87] + "..."
        lines.append(f"{student:<20} {notebook:<18} {got:>5g} / {total:<4g}  {status}")
    return "\n".join(lines)


UNSANDBOXED_WARNING = (
    "WARNING: graded WITHOUT the sandbox (--no-sandbox): student code ran with your rights. It "
    "could read solutions/, the gradebook and other submissions, and tamper with its own tests.")


def grade(submissions: Path, out_dir: Path, root: Path, *, cell_timeout: int = CELL_TIMEOUT_S,
          sandbox: bool = True) -> list[CellGrade]:
    """Grade a folder of submissions and write ``grades.csv`` and feedback to ``out_dir``."""
    # nbgrader changes directory while it works: relative paths would break its database URL.
    submissions, out_dir, root = submissions.resolve(), out_dir.resolve(), root.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    grader = Grader(root, out_dir, cell_timeout=cell_timeout, sandbox=sandbox)
    if not sandbox:
        print(UNSANDBOXED_WARNING, file=sys.stderr)
    rows, notes = grader.grade_all(submissions)
    write_csv(rows, out_dir / "grades.csv")
    print(summary_table(rows))
    for note in notes:
        print(f"note: {note}")
    if not sandbox:
        print(UNSANDBOXED_WARNING)
    print(f"wrote {out_dir / 'grades.csv'} ({len(rows)} rows) and feedback in {out_dir / 'feedback'}")
    return rows
