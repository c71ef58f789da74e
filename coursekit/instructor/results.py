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
    detail: str = ""  # a failed test's whole message (the check's sub-check and hint): for reports


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


# Errors that are usually the consequence of an earlier cell's failure (its names are missing)
CONSEQUENCES = ("NameError", "UnboundLocalError", "AttributeError", "ImportError")


def failure_status(ename: str, message: str, earlier: str = "", full_message: str = "") -> str:
    """The status of a test cell that raised ``ename: message`` (its first line): "not attempted"
    for a stub, else "failed: ...". ``earlier`` is the first problem of a cell before the test
    ("cell 'x' raised SyntaxError: ..." or "cell 'x' timed out after 120 s"): when the test's own
    error is its likely consequence (a NameError, also one a check reports in ``full_message``),
    the status names the real error first."""
    if "not attempted" in message:
        return "not attempted"
    failure = f"{ename}: {message}" if message else f"{ename} (hidden test)"
    reported = {line.strip().split(":")[0] for line in full_message.splitlines()}
    if earlier and (ename in CONSEQUENCES or reported & set(CONSEQUENCES)):
        return f"failed: {earlier} (then {failure})"
    return f"failed: {failure}" + (f" ({earlier} before this)" if earlier else "")


def cell_problem(grade_id: str, ename: str, evalue: str, timeout_s: int) -> str:
    """How a non-test cell's failure is named in the statuses of the tests after it."""
    if ename == "CellTimeoutError":
        return f"cell '{grade_id}' timed out after {timeout_s} s"
    return f"cell '{grade_id}' raised {ename}: {first_line(evalue, 100)}"


def cell_statuses(nb: nbformat.NotebookNode, timeout_s: int = CELL_TIMEOUT_S) -> dict[str, str]:
    """grade_id -> "passed", "not attempted" or a one-line reason, from an executed notebook.

    A cell that failed (a SyntaxError, a timeout) leaves later cells without its definitions;
    their status names that cell's error, so that the "NameError" it causes does not hide it.
    """
    statuses = {}
    earlier = ""
    for index, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        meta = cell.metadata.get("nbgrader", {})
        is_test = meta.get("grade") and not meta.get("solution")
        if errors and not is_test and not earlier:
            earlier = cell_problem(meta.get("grade_id") or f"cell {index + 1}",
                                   errors[0].get("ename", "Error"), errors[0].get("evalue", ""),
                                   timeout_s)
        if not is_test:
            continue
        status = "passed"
        if errors:
            ename, evalue = errors[0].get("ename", "Error"), first_line(errors[0].get("evalue", ""))
            if ename == "CellTimeoutError":
                status = f"failed: timed out after {timeout_s} s"
            else:
                status = failure_status(ename, evalue, earlier, str(errors[0].get("evalue", "")))
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
