"""Grading a whole class: in parallel, on a Dask cluster, resumable, and its report.

One small class (four students, notebooks 01 and 03: an honest, an untouched, a partial and a
broken submission each) graded by the real `coursekit grade`: serially, with --jobs 2, through a
Dask scheduler and two workers started as separate processes on the loopback interface (one of
them killed in the middle of a batch), interrupted with Ctrl-C and resumed. Every run must give
the serial run's grades.csv, byte for byte.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import require_sandbox

from coursekit.instructor.course import answered_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_neurons", "03_backprop")
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _grade(subs: Path, out: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade",
                           str(subs), "--out", str(out), "--quiet", "--timeout", "60", *args],
                          capture_output=True, text=True, timeout=timeout)


def _start_grade(subs: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade",
                             str(subs), "--out", str(out), "--quiet", "--timeout", "60", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_results(out: Path, n: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(list((out / ".grading").glob("*/*.json"))) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no result came"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def subs(tmp_path_factory) -> Path:
    require_sandbox()
    folder = tmp_path_factory.mktemp("class")
    for stem in NOTEBOOKS:
        first = "weighted_sum" if stem == "01_neurons" else "value"
        broken = answered_notebook(ROOT, stem)
        cell = next(c for c in broken.cells if c.metadata.get("nbgrader", {}).get("grade_id") == first)
        cell.source = "def oops(:\n    pass\n\n" + cell.source  # a SyntaxError in the first exercise
        for student, nb in {
            "ann": answered_notebook(ROOT, stem),
            "ben": nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4),
            "cat": answered_notebook(ROOT, stem, only={first}),
            "dan": broken,
        }.items():
            (folder / student).mkdir(exist_ok=True)
            nbformat.write(nb, str(folder / student / f"{stem}.ipynb"))
    return folder


@pytest.fixture(scope="module")
def serial(subs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial")
    result = _grade(subs, out, "--jobs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_serial_grades_are_what_each_submission_deserves(serial):
    import csv

    from coursekit.instructor.results import graded_cells

    with (serial / "grades.csv").open() as f:
        rows = list(csv.DictReader(f))
    cells = sum(len(graded_cells(ROOT / "solutions" / f"{stem}.ipynb")) for stem in NOTEBOOKS)
    assert len(rows) == 4 * cells
    by: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        by.setdefault((r["student"], r["notebook"]), []).append(r["status"])
    assert all(s == "passed" for s in by[("ann", "01_neurons")] + by[("ann", "03_backprop")])
    assert all(s == "not attempted" for s in by[("ben", "03_backprop")])
    assert by[("cat", "01_neurons")][0] == "passed"
    assert "SyntaxError" in by[("dan", "01_neurons")][0]


def test_parallel_grading_gives_the_serial_grades(subs, serial, tmp_path):
    out = tmp_path / "parallel"
    result = _grade(subs, out, "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("grades.csv", "grades_wide.csv"):
        assert (out / name).read_bytes() == (serial / name).read_bytes(), name
    feedback = sorted(p.relative_to(out) for p in (out / "feedback").rglob("*.html"))
    assert feedback == sorted(p.relative_to(serial) for p in (serial / "feedback").rglob("*.html"))
    assert len(feedback) == 8


def test_a_rerun_grades_only_what_is_new_or_changed(subs, serial, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(serial, out)
    again = _grade(subs, out)
    assert "kept 8 submission(s) graded before and unchanged; grading 0" in again.stdout
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()
    changed = tmp_path / "changed"
    shutil.copytree(subs, changed)
    nb = nbformat.read(str(changed / "ben" / "01_neurons.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("a note added after grading"))
    nbformat.write(nb, str(changed / "ben" / "01_neurons.ipynb"))
    result = _grade(changed, out)
    assert "kept 7 submission(s) graded before and unchanged; grading 1" in result.stdout
    forced = _grade(changed, out, "--force")
    assert "kept" not in forced.stdout
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()


def test_an_interrupted_run_keeps_what_finished_and_a_rerun_finishes(subs, serial, tmp_path):
    out = tmp_path / "interrupted"
    proc = _start_grade(subs, out, "--jobs", "1")
    _wait_for_results(out, 2, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted: grades.csv holds what finished" in stdout
    lines = (out / "grades.csv").read_text().splitlines()
    serial_lines = set((serial / "grades.csv").read_text().splitlines())
    assert 1 < len(lines) < len(serial_lines)
    assert set(lines) <= serial_lines  # only whole, finished submissions, graded as serially
    finished = _grade(subs, out)
    assert finished.returncode == 0 and "kept" in finished.stdout
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Dask scheduler and two workers, three separate processes on 127.0.0.1."""
    require_sandbox()
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              start_new_session=True)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.2)
    for name in ("w1", "w2"):
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file), "--name", name,
             "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True))
    from distributed import Client

    with Client(scheduler_file=str(scheduler_file), timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
        address = client.scheduler.address
    yield address, procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_grading_on_a_dask_cluster_gives_the_local_grades(subs, serial, cluster, tmp_path):
    address, _ = cluster
    out = tmp_path / "dask"
    result = _grade(subs, out, "--scheduler", address)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()


def test_a_killed_worker_s_submissions_are_graded_elsewhere_exactly_once(subs, serial, cluster,
                                                                        tmp_path):
    address, procs = cluster
    out = tmp_path / "killed"
    proc = _start_grade(subs, out, "--scheduler", address, "--force")
    _wait_for_results(out, 1, proc)
    os.killpg(procs[1].pid, signal.SIGKILL)  # worker w1 and its nanny, in the middle of the batch
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stdout + stderr
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()
    assert len(list((out / ".grading").glob("*/*.json"))) == 8


def test_the_report_shows_what_the_class_got_wrong(serial, tmp_path):
    page = (serial / "report.html").read_text()
    for part in ("<h2>01_neurons</h2>", "<h2>03_backprop</h2>", "4 handed in", "not attempted",
                 "% failed", "data:image/png;base64,", "<h2>Students</h2>"):
        assert part in page, part
    assert "hint" in page.lower() or "<i>" in page  # a failing sub-check's hint is quoted
    wide = (serial / "grades_wide.csv").read_text().splitlines()
    assert wide[0].startswith("student,01_neurons (") and len(wide) == 5
    out = tmp_path / "rebuilt"
    shutil.copytree(serial, out)
    (out / "report.html").unlink()
    rebuilt = subprocess.run([sys.executable, "-m", "coursekit.cli", "report", str(out)],
                             capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "% failed" in (out / "report.html").read_text()
