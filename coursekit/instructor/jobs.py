"""One submission to grade, as a job any process can run, and the store of finished jobs.

A :class:`Job` carries everything a grader needs as plain data (the instructor notebook without
its outputs, the submission, the settings), so that it runs the same in this process, in a local
worker process or on a Dask worker on another machine, none of which needs the course's files.
:func:`grade_job` runs it with the sandbox and returns the rows and the feedback page.

The :class:`Store` keeps each finished job as ``OUT/.grading/<student>/<notebook>.json``, written
atomically by the one process that drives the batch, under a key: the hash of the source, the
submission, the settings and coursekit's version. A re-run grades only jobs whose key changed
(unless forced); a job graded twice (a Dask worker lost after finishing) is stored once; an
interrupted batch leaves every finished job in the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from coursekit.instructor.results import CellGrade


@dataclass(frozen=True)
class Job:
    student: str
    notebook: str
    source: str       # the instructor notebook (JSON, without outputs)
    submission: str   # the student's notebook (JSON)
    cell_timeout: int

    @property
    def key(self) -> str:
        from coursekit import __version__

        digest = hashlib.sha256()
        for part in (__version__, str(self.cell_timeout), self.source, self.submission):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass
class JobResult:
    student: str
    notebook: str
    key: str
    rows: list[CellGrade]
    feedback: str      # the feedback page (HTML), "" when there is none
    seconds: float
    peak_rss_mb: float  # the grading process and its sandboxes, at most


def source_text(path: Path) -> str:
    """The instructor notebook as a job carries it: outputs dropped (the grader never needs
    them, and a solution's stored figures would only weigh on every job)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb)


def _peak_rss_mb() -> float:
    import resource

    kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kib / 1024


def grade_job(job: Job) -> JobResult:
    """Grade one submission with the sandbox (in whichever process runs this)."""
    import nbformat

    from coursekit.instructor.sandbox import feedback_html, grade_submission

    start = time.perf_counter()
    source = nbformat.reads(job.source, as_version=4)
    submission = nbformat.reads(job.submission, as_version=4)
    rows, executed = grade_submission(source, submission, student=job.student, stem=job.notebook,
                                      cell_timeout=job.cell_timeout)
    page = feedback_html(executed) if executed.cells else ""
    return JobResult(job.student, job.notebook, job.key, rows, page,
                     time.perf_counter() - start, _peak_rss_mb())


class Store:
    """Finished jobs under ``out_dir/.grading``; feedback pages under ``out_dir/feedback``."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.folder = out_dir / ".grading"

    def _path(self, student: str, notebook: str) -> Path:
        return self.folder / student / f"{notebook}.json"

    def load(self, student: str, notebook: str, key: str) -> list[CellGrade] | None:
        """The stored rows of this job if they were graded under ``key``, else None."""
        try:
            record = json.loads(self._path(student, notebook).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("key") != key:
            return None
        return [CellGrade(**row) for row in record["rows"]]

    def save(self, result: JobResult) -> None:
        """The feedback page first, then the record (atomically): a stored record means the job
        is complete."""
        if result.feedback:
            page = self.out_dir / "feedback" / result.student / f"{result.notebook}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(page, result.feedback)
        record = {"key": result.key, "seconds": round(result.seconds, 2),
                  "peak_rss_mb": round(result.peak_rss_mb, 1),
                  "rows": [asdict(r) for r in result.rows]}
        path = self._path(result.student, result.notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, json.dumps(record))

    def records(self) -> list[dict]:
        """Every stored record (for reports), with its student and notebook."""
        out = []
        for path in sorted(self.folder.glob("*/*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            out.append(record)
        return out


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
