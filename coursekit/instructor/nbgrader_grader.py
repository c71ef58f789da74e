"""Plain nbgrader autograding (``coursekit grade --no-sandbox``): student code and tests in one
kernel with the instructor's rights. Use it only for submissions you trust.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat

from coursekit.checks.core import GRADING_ENV
from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.course import (
    CELL_TIMEOUT_S,
    generate_assignments,
    make_api,
    stage_sources,
)
from coursekit.instructor.results import CellGrade, cell_statuses, graded_cells, zeros
from coursekit.instructor.submissions import first_line


def _failure_reason(result: dict) -> str:
    """One readable line from nbgrader's captured error (e.g. a dead kernel)."""
    text = f"{result.get('error', '')}\n{result.get('log', '')}"
    if "DeadKernelError" in text or "Kernel died" in text:
        return "error: the kernel died while running this notebook (os._exit, crash or out of memory)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln), lines[-1] if lines else "")
    return f"error: grading could not finish: {first_line(last)}"


class NbgraderGrader:
    """Grades with nbgrader's own autograde in a working course folder (``out_dir/nbgrader``,
    kept for inspection). Every run grades from scratch."""

    def __init__(self, sources: dict[str, Path], out_dir: Path, *,
                 cell_timeout: int = CELL_TIMEOUT_S):
        self.sources, self.out_dir = sources, out_dir
        self.cell_timeout = cell_timeout
        self.cells = {stem: graded_cells(nb) for stem, nb in sources.items()}
        self.course_dir = out_dir / "nbgrader"
        if self.course_dir.exists():
            shutil.rmtree(self.course_dir)
        self.course_dir.mkdir(parents=True)
        stage_sources(self.course_dir, list(sources.values()))
        generate_assignments(self.course_dir, list(sources))
        self.api = make_api(self.course_dir, cell_timeout=cell_timeout)
        # nbgrader's kernels inherit this process's environment: a stub's check fails its cell
        os.environ[GRADING_ENV] = "1"

    def grade_one(self, student: str, stem: str, nb: nbformat.NotebookNode) -> list[CellGrade]:
        cells = self.cells[stem]
        dest = self.course_dir / "submitted" / student / stem / f"{stem}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(dest))
        result = self.api.autograde(stem, student)
        autograded = self.course_dir / "autograded" / student / stem / f"{stem}.ipynb"
        if not result.get("success") or not autograded.exists():
            return zeros(student, stem, cells, _failure_reason(result))
        statuses = cell_statuses(nbu.read(autograded), self.cell_timeout)
        scores = self._scores(stem, student)
        self._feedback(student, stem)
        return [
            CellGrade(student, stem, cid, scores.get(cid, 0.0), pts,
                      statuses.get(cid, "failed: graded cell missing"))
            for cid, pts in cells
        ]

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
