"""`coursekit validate`: for students, before submitting. Is the notebook still gradable, and
do its checks pass? (nbgrader's own `validate` exits 0 even when tests fail; this does not.)"""

from __future__ import annotations

from pathlib import Path

import nbformat

from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.course import NOTEBOOKS, CourseError, find_root


def _protected_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """grade_id -> cell for every cell a student must keep: graded, locked or solution cells."""
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("locked") or meta.get("solution"):
            cells[meta["grade_id"]] = cell
    return cells


def structure_problems(student: nbformat.NotebookNode, reference: nbformat.NotebookNode) -> list[str]:
    """What would stop grading: graded cells deleted or re-labelled, locked cells edited."""
    problems = []
    mine = _protected_cells(student)
    for grade_id, ref_cell in _protected_cells(reference).items():
        meta = ref_cell.metadata["nbgrader"]
        if grade_id not in mine:
            problems.append(f"cell '{grade_id}' is missing (deleted, or its metadata was removed): "
                            "copy it back from a fresh copy of the notebook")
        elif meta.get("locked") and not meta.get("solution") and mine[grade_id].source != ref_cell.source:
            problems.append(f"locked cell '{grade_id}' was edited: undo your changes to it "
                            "(it is restored from the original when graded)")
    return problems


def _failure_messages(nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the full message of the error a graded cell raised."""
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if meta.get("grade") and errors:
            out[meta["grade_id"]] = str(errors[0].get("evalue", ""))
    return out


def _reference_for(path: Path, root: Path | None) -> nbformat.NotebookNode | None:
    try:
        folder = (root or find_root(path.parent)) / NOTEBOOKS
    except CourseError:
        return None  # e.g. in Colab: no repository beside the notebook
    candidate = folder / path.name
    return nbu.read(candidate) if candidate.exists() else None


def validate(path: Path, root: Path | None = None, *, progress: bool = True) -> int:
    """Print a report; return 0 when the notebook is gradable and every check passes."""
    from coursekit.instructor.results import cell_statuses
    from coursekit.instructor.runner import execute

    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except FileNotFoundError:
        print(f"❌ {path}: file not found")
        return 1
    except Exception as exc:  # noqa: BLE001
        print(f"❌ {path.name}: not a valid notebook ({exc}). Restore it from your last good copy.")
        return 1
    reference = _reference_for(path, root)
    problems = structure_problems(nb, reference) if reference is not None else []
    if reference is None:
        print(f"note: no original of {path.name} found in notebooks/; checking its checks only")
    execute(nb, path.parent, allow_errors=True, progress=progress, label=path.stem, grading=True)
    statuses = cell_statuses(nb)
    messages = _failure_messages(nb)
    for grade_id, status in statuses.items():
        mark = "✅" if status == "passed" else ("⏳" if status == "not attempted" else "❌")
        print(f"{mark} {grade_id}: {status}")
        if status.startswith("failed") and messages.get(grade_id, "").count("\n"):
            # the check's whole message: sub-check, inputs, expected vs got, tolerance, hint
            print("\n".join("    " + line for line in messages[grade_id].splitlines()))
    for problem in problems:
        print(f"❌ not gradable: {problem}")
    passed = sum(s == "passed" for s in statuses.values())
    print(f"{path.name}: {passed}/{len(statuses)} graded cells pass"
          + ("" if not problems else f"; {len(problems)} problem(s) would stop grading"))
    return 0 if passed == len(statuses) and not problems else 1
