"""`coursekit release`: regenerate the student notebooks from the instructor ones."""

from __future__ import annotations

import tempfile
from pathlib import Path

from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.course import (
    NOTEBOOKS,
    CourseError,
    generate_assignments,
    solution_notebooks,
    stage_sources,
)


def build_release(root: Path) -> dict[str, str]:
    """Generate every student notebook with nbgrader; returns file name -> canonical text.

    Raises CourseError if anything of a solution or hidden test survives generation.
    """
    with tempfile.TemporaryDirectory(prefix="coursekit-release-") as tmp:
        course_dir = Path(tmp)
        ids = stage_sources(course_dir, solution_notebooks(root))
        released = generate_assignments(course_dir, ids)
        texts = {}
        for assignment, path in released.items():
            nb = nbu.clean(nbu.read(path), keep_outputs=False)
            text = nbu.dumps(nb)
            if leaked := nbu.find_markers(text):
                raise CourseError(f"{assignment}: {leaked} still present after generation")
            texts[f"{assignment}.ipynb"] = text
    return texts


def release(root: Path, *, check: bool = False) -> list[str]:
    """Write (or with ``check``, only compare) ``notebooks/``; returns the stale or changed files.

    Student notebooks that no longer have a source are stale too (and removed when writing).
    """
    texts = build_release(root)
    out_dir = root / NOTEBOOKS
    differing = []
    for name, text in texts.items():
        target = out_dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            differing.append(name)
            if not check:
                out_dir.mkdir(exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for orphan in sorted(p.name for p in out_dir.glob("*.ipynb")) if out_dir.exists() else []:
        if orphan not in texts:
            differing.append(orphan)
            if not check:
                (out_dir / orphan).unlink()
    return differing


__all__ = ["build_release", "release", "solution_notebooks", "CourseError"]
