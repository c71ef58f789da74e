"""`coursekit grade`: grade a folder of submissions, robustly.

SUBMISSIONS is laid out ``<student_id>/<notebook>.ipynb`` (an LMS export, unzipped). Every
submission is graded on its own: a file that is not a notebook, a symlink, a kernel that dies or
a cell that never ends costs that student points with a readable status, never the batch.

Each submission goes to one grader: the sandbox (default; :mod:`coursekit.instructor.sandbox`,
docs/sandbox.md), as a job run here, in local worker processes or on a Dask cluster
(:mod:`coursekit.instructor.executors`), resumable (:mod:`coursekit.instructor.jobs`); or plain
nbgrader (``sandbox=False``), one after another, where student code runs with the instructor's
rights. Output:

    OUT/grades.csv                      one row per student, notebook and graded cell
    OUT/grades_wide.csv                 one row per student, one column per notebook (LMS import)
    OUT/report.html                     what the class got wrong (coursekit.instructor.report)
    OUT/feedback/<student>/<nb>.html    what the student sees (no hidden tests)
    OUT/.grading/                       finished jobs, so that a re-run grades only what changed
    OUT/nbgrader/                       nbgrader's working folder (plain nbgrader only)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

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


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="grading", unit="submission", disable=not enabled or total == 0,
                dynamic_ncols=True)


def grade(submissions: Path, out_dir: Path, root: Path, *, cell_timeout: int = CELL_TIMEOUT_S,
          sandbox: bool = True, jobs: int | None = None, scheduler: str | None = None,
          force: bool = False, progress: bool = True) -> list[CellGrade]:
    """Grade a folder of submissions and write ``grades.csv``, ``grades_wide.csv``, the class
    report and feedback to ``out_dir``.

    With the sandbox, submissions are graded ``jobs`` at a time (default: one per CPU core) in
    local processes, or on the Dask cluster at ``scheduler``; only submissions that are new or
    changed since the last run into ``out_dir`` are graded, unless ``force``. Interrupted
    (Ctrl-C), it writes what finished and raises KeyboardInterrupt."""
    # nbgrader changes directory while it works: relative paths would break its database URL.
    submissions, out_dir, root = submissions.resolve(), out_dir.resolve(), root.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # grades and feedback are student data: keep them out of git wherever the folder is
    (out_dir / ".gitignore").write_text("# written by `coursekit grade`: student data, never "
                                        "commit it\n*\n", encoding="utf-8")
    sources = {nb.stem: nb for nb in solution_notebooks(root)}
    batch, notes = collect(submissions, list(sources))
    if not sandbox:
        print(UNSANDBOXED_WARNING, file=sys.stderr)
        rows = _grade_unsandboxed(batch, sources, out_dir, cell_timeout)
        interrupted = False
    else:
        if scheduler is None:
            from coursekit.instructor.sandbox import sandbox_problem

            if problem := sandbox_problem():  # never fall back to unsandboxed grading silently
                raise CourseError(f"{problem}\nSet it up with `sudo bash tools/setup-sandbox.sh`, "
                                  "or grade without it: `coursekit grade --no-sandbox` (unsafe)")
        rows, interrupted = _grade_sandboxed(batch, sources, out_dir, cell_timeout=cell_timeout,
                                             jobs=jobs, scheduler=scheduler, force=force,
                                             progress=progress)
    write_csv(rows, out_dir / "grades.csv")
    from coursekit.instructor.report import write_reports

    write_reports(out_dir, rows)
    print(summary_table(rows))
    for note in notes:
        print(f"note: {note}")
    if not sandbox:
        print(UNSANDBOXED_WARNING)
    print(f"wrote {out_dir / 'grades.csv'} ({len(rows)} rows), grades_wide.csv, report.html and "
          f"feedback in {out_dir / 'feedback'}")
    if interrupted:
        print("interrupted: grades.csv holds what finished; run the same command again to grade "
              "the rest (finished submissions are not graded again)")
        raise KeyboardInterrupt
    return rows


def _zeros_for(cells: dict, student: str, stem: str, status: str) -> list[CellGrade]:
    return zeros(student, stem, cells[stem], status)


def _grade_unsandboxed(batch, sources, out_dir: Path, cell_timeout: int) -> list[CellGrade]:
    from coursekit.instructor.nbgrader_grader import NbgraderGrader

    grader = NbgraderGrader(sources, out_dir, cell_timeout=cell_timeout)
    cells = {stem: graded_cells(path) for stem, path in sources.items()}
    rows: list[CellGrade] = []
    for student, mine in batch.items():
        for stem, item in mine.items():
            if isinstance(item, str):
                rows += _zeros_for(cells, student, stem, item)
                continue
            nb, problem = load_submission(item)
            rows += _zeros_for(cells, student, stem, problem) if problem else \
                grader.grade_one(student, stem, nb)
    return rows


def _grade_sandboxed(batch, sources, out_dir: Path, *, cell_timeout: int, jobs: int | None,
                     scheduler: str | None, force: bool,
                     progress: bool) -> tuple[list[CellGrade], bool]:
    """Plan the jobs, reuse what the store already holds, run the rest; rows in batch order."""
    import os

    from coursekit.instructor import executors
    from coursekit.instructor.jobs import Job, Store, source_text

    cells = {stem: graded_cells(path) for stem, path in sources.items()}
    texts = {stem: source_text(path) for stem, path in sources.items()}
    store = Store(out_dir)
    graded: dict[tuple[str, str], list[CellGrade]] = {}
    pending: list[Job] = []
    kept = 0
    for student, mine in batch.items():
        for stem, item in mine.items():
            if isinstance(item, str):
                graded[(student, stem)] = _zeros_for(cells, student, stem, item)
                continue
            nb, problem = load_submission(item)
            if problem:
                graded[(student, stem)] = _zeros_for(cells, student, stem, problem)
                continue
            job = Job(student, stem, texts[stem], nbformat.writes(nb), cell_timeout)
            stored = None if force else store.load(student, stem, job.key)
            if stored is not None:
                graded[(student, stem)] = stored
                kept += 1
            else:
                pending.append(job)
    if kept:
        print(f"kept {kept} submission(s) graded before and unchanged; grading {len(pending)}",
              flush=True)
    bar = _progress_bar(len(pending), progress)
    tally = {"below full marks": 0, "errors": 0}

    def done(result) -> None:
        store.save(result)
        graded[(result.student, result.notebook)] = result.rows
        tally["below full marks"] += any(r.status != "passed" for r in result.rows)
        bar.set_postfix(tally, refresh=False)
        bar.update(1)

    def failed(job, reason: str) -> None:  # not stored: a re-run tries it again
        graded[(job.student, job.notebook)] = _zeros_for(cells, job.student, job.notebook, reason)
        tally["errors"] += 1
        bar.set_postfix(tally, refresh=False)
        bar.update(1)

    workers = max(1, jobs or os.cpu_count() or 1)
    interrupted = False
    try:
        if scheduler:
            executors.run_dask(pending, scheduler, done, failed)
        elif workers == 1 or len(pending) <= 1:
            executors.run_serial(pending, done, failed)
        else:
            executors.run_processes(pending, min(workers, len(pending)), done, failed)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    rows = [row for student, mine in batch.items() for stem in mine
            for row in graded.get((student, stem), [])]
    return rows, interrupted
