"""What grading produces, shared by both graders and the batch that drives them.

One :class:`CellGrade` per student, notebook and graded cell; the statuses a graded cell can
have; ``grades.csv`` and the terminal summary. Both graders (the sandbox's,
:mod:`coursekit.instructor.sandbox.grade`, and plain nbgrader's,
:mod:`coursekit.instructor.nbgrader_grader`) import from here; nothing here imports them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.course import CELL_TIMEOUT_S
from coursekit.instructor.submissions import first_line

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


def zeros(student: str, notebook: str, cells, status: str) -> list[CellGrade]:
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
