"""`coursekit release`: regenerate the student notebooks from the instructor ones."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.course import (
    NOTEBOOKS,
    SOLUTIONS,
    CourseError,
    colab_url,
    generate_assignments,
    identity,
    install_spec,
    solution_notebooks,
    stage_sources,
)

_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/main/"
                    r"notebooks/(\w+)\.ipynb")
_INSTALL = re.compile(r"coursekit @ git\+https://github\.com/[\w.-]+/[\w.-]+@[\w.-]+")


_FIGURE = re.compile(r"\(attachment:([\w-]+\.gif)\)")


def _figure_attachments(cell, imgs: Path) -> dict:
    """The attachments a markdown cell should carry: every ``attachment:NAME.gif`` it shows, as
    drawn in imgs/ (one source for figures: ``coursekit figures``)."""
    import base64

    wanted = {}
    for name in _FIGURE.findall(cell.source):
        path = imgs / name
        if not path.is_file():
            raise CourseError(f"a notebook shows attachment:{name}, but imgs/{name} does not exist "
                              "(run `coursekit figures`)")
        wanted[name] = {"image/gif": base64.b64encode(path.read_bytes()).decode("ascii")}
    return wanted


def sync_solutions(root: Path, *, check: bool = False) -> list[str]:
    """Bring every solution in line with what it is generated from (or, with ``check``, only
    list those that differ): the repository and version from pyproject.toml in its Colab badge
    and setup cell, and the animated figures from imgs/ as its markdown cells' attachments, so
    that they show before anything is run (in JupyterLab, on GitHub and in Colab)."""
    repository, version = identity(root)
    differing = []
    for path in solution_notebooks(root):
        nb = nbu.read(path)
        changed = False
        for cell in nb.cells:
            text = _BADGE.sub(lambda m: colab_url(repository, m[1]), cell.source)
            text = _INSTALL.sub(install_spec(repository, version), text)
            if text != cell.source:
                cell.source, changed = text, True
            if cell.cell_type == "markdown":
                wanted = _figure_attachments(cell, root / "imgs")
                if wanted != dict(cell.get("attachments") or {}):
                    cell.attachments, changed = wanted, True
        if changed:
            differing.append(path.name)
            if not check:
                nbu.write(nbu.clean(nb, keep_outputs=True), path)
    return differing


def build_release(root: Path, stems: list[str] | None = None) -> dict[str, str]:
    """Generate every student notebook (or those in ``stems``) with nbgrader; returns file name
    -> canonical text. Raises CourseError if anything of a solution or hidden test survives."""
    sources = [p for p in solution_notebooks(root) if stems is None or p.stem in stems]
    with tempfile.TemporaryDirectory(prefix="coursekit-release-") as tmp:
        course_dir = Path(tmp)
        ids = stage_sources(course_dir, sources)
        released = generate_assignments(course_dir, ids)
        texts = {}
        for assignment, path in released.items():
            nb = nbu.clean(nbu.read(path), keep_outputs=False)
            text = nbu.dumps(nb)
            if leaked := nbu.find_markers(text):
                raise CourseError(f"{assignment}: {leaked} still present after generation")
            texts[f"{assignment}.ipynb"] = text
    return texts


def release(root: Path, *, check: bool = False, stems: list[str] | None = None) -> list[str]:
    """Write (or with ``check``, only compare) ``notebooks/``; returns the stale or changed files
    as paths from the root (``notebooks/NAME``, ``solutions/NAME``).

    First the solutions are brought in line with pyproject.toml and imgs/. Student
    notebooks that no longer have a source are stale too (and removed when writing).
    """
    stale_sources = [f"{SOLUTIONS}/{name}" for name in sync_solutions(root, check=check)]
    texts = build_release(root, stems)
    out_dir = root / NOTEBOOKS
    differing = []
    for name, text in texts.items():
        target = out_dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            differing.append(name)
            if not check:
                out_dir.mkdir(exist_ok=True)
                target.write_text(text, encoding="utf-8")
    orphans = sorted(p.name for p in out_dir.glob("*.ipynb")) if out_dir.exists() and not stems else []
    for orphan in orphans:
        if orphan not in texts:
            differing.append(orphan)
            if not check:
                (out_dir / orphan).unlink()
    return stale_sources + [f"{NOTEBOOKS}/{name}" for name in differing]


__all__ = ["build_release", "release", "solution_notebooks", "CourseError"]
