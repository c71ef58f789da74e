"""The notebook template, as code: every course notebook has the same parts in the same order.

Used by the tests (and available to authors as `template_problems`) so that a notebook that
drops its objectives, its setup cell or an exercise's check fails loudly. What the setup cell
*does* (installs coursekit alone in Colab, nothing elsewhere) is tested by running it:
tests/test_notebooks.py.
"""

from __future__ import annotations

import re

import nbformat

from coursekit import REPOSITORY


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def template_problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """What is missing or out of place in notebook ``name`` (its file stem); [] when it conforms."""
    problems = []
    cells = nb.cells
    text = [c.source for c in cells]
    if not cells or not text[0].lstrip().startswith("# "):
        problems.append("the first cell must be the title (a '# ' heading)")
    badge = f"colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name}.ipynb"
    if not cells or badge not in text[0]:
        problems.append(f"the title cell needs the Open-in-Colab badge linking {badge}")
    if not re.search(r"\*\*Prerequisites:\*\*.*\*\*Time:\*\*", text[0] if cells else "", re.S):
        problems.append("the title cell states **Prerequisites:** and **Time:**")
    setup = [c for c in cells if c.get("id") == "setup"]
    if not setup or setup[0] is not next((c for c in cells if c.cell_type == "code"), None):
        problems.append("the first code cell must be the locked 'setup' cell")
    else:
        src = setup[0].source
        for needed in ("google.colab", "seed_everything(0)", "get_device()", "runall.enable()"):
            if needed not in src:
                problems.append(f"the setup cell must contain {needed!r}")
        if not _nbgrader(setup[0]).get("locked"):
            problems.append("the setup cell must be locked")
    if not any(c.cell_type == "markdown" and "## Learning objectives" in c.source for c in cells):
        problems.append("a '## Learning objectives' cell is missing")
    for heading in ("## Reflection", "## Summary"):
        if not any(c.cell_type == "markdown" and c.source.lstrip().startswith(heading) for c in cells):
            problems.append(f"a '{heading}' cell is missing")
    if nb.metadata.get("accelerator") != "GPU" or "gpuType" not in nb.metadata.get("colab", {}):
        problems.append("notebook metadata must ask Colab for a GPU (accelerator, colab.gpuType)")
    ids = [c.get("id") for c in cells]
    if len(set(ids)) != len(ids) or None in ids:
        problems.append("every cell needs a unique id")
    for i, cell in enumerate(cells):
        meta = _nbgrader(cell)
        if not meta.get("solution") or cell.cell_type != "code":
            continue
        exercise = meta["grade_id"]
        following = next((c for c in cells[i + 1:] if c.cell_type == "code" and _nbgrader(c).get("grade")), None)
        if following is None or not following.source.lstrip().startswith(f"check_{exercise}("):
            problems.append(f"exercise '{exercise}' must be followed by its graded check cell "
                            f"starting with check_{exercise}(")
        elif not _nbgrader(following).get("locked") or not _nbgrader(following).get("points"):
            problems.append(f"the check cell of '{exercise}' must be locked and worth points")
        elif _nbgrader(following).get("grade_id") != f"{exercise}_test":
            problems.append(f"the check cell of '{exercise}' must have the grade id "
                            f"'{exercise}_test'")
    return problems
