"""`coursekit grade --no-sandbox` end to end, with real nbgrader and real kernels, on notebook 01.

One batch graded by plain nbgrader: the solution gets full marks, the untouched release gets 0,
a partly solved one gets partial marks; broken or tampered submissions are graded sensibly
while the honest ones beside them keep their right scores. The default path, the sandbox, is
tested on every notebook in tests/test_course_grading.py and against attacks in
tests/test_sandbox.py. Also `coursekit validate`.
"""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit.instructor.course import answered_notebook
from coursekit.instructor.results import graded_cells

ROOT = Path(__file__).resolve().parents[1]
PILOT = "01_neurons"
CELL_TIMEOUT = 15

pytestmark = pytest.mark.slow


def _release(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4)


def solved(stem: str, only: set[str] | None = None) -> nbformat.NotebookNode:
    """What an honest student would submit (see coursekit.instructor.course.answered_notebook)."""
    return answered_notebook(ROOT, stem, only)


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _write(folder: Path, student: str, stem: str, nb) -> None:
    (folder / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / student / f"{stem}.ipynb"))


def _points(stem: str) -> dict[str, float]:
    return dict(graded_cells(ROOT / "solutions" / f"{stem}.ipynb"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one batch through the real CLI; returns (rows by (student, notebook), out dir, stdout)."""
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("graded")
    _write(subs, "alice", PILOT, solved(PILOT))         # honest, complete
    _write(subs, "bob", PILOT, _release(PILOT))         # untouched release
    first_two = [c for c, _ in graded_cells(ROOT / "solutions" / f"{PILOT}.ipynb")][:2]
    first_two_solutions = {c.removesuffix("_test") for c in first_two}
    _write(subs, "carol", PILOT, solved(PILOT, only=first_two_solutions))  # partly solved

    tampered = solved(PILOT)                            # locked test cells rewritten to pass
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    _write(subs, "dave", PILOT, tampered)
    stub_tampered = _release(PILOT)
    for cell in stub_tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    _write(subs, "dave2", PILOT, stub_tampered)

    looping = solved(PILOT)                             # hangs in the first exercise
    _cell(looping, "weighted_sum").source = "while True:\n    pass"
    _write(subs, "erin", PILOT, looping)

    exiting = solved(PILOT)                             # kills its own kernel
    _cell(exiting, "neuron").source = "import os\nos._exit(1)"
    _write(subs, "frank", PILOT, exiting)

    deleted = solved(PILOT)                             # deletes a graded test cell
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != "count_parameters_test"]
    _write(subs, "grace", PILOT, deleted)

    rigged = solved(PILOT)                              # an object that equals everything
    _cell(rigged, "weighted_sum").source = (
        "class AlwaysEqual(float):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "def weighted_sum(x, w, b):\n    return AlwaysEqual(0.0)")
    _write(subs, "heidi", PILOT, rigged)

    (subs / "ivan").mkdir()
    (subs / "ivan" / f"{PILOT}.ipynb").write_text("{ this is not json")

    (subs / "mallory").mkdir()
    os.symlink(ROOT / "solutions" / f"{PILOT}.ipynb", subs / "mallory" / f"{PILOT}.ipynb")

    result = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade", str(subs),
         "--out", str(out), "--timeout", str(CELL_TIMEOUT), "--no-sandbox"],
        capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "graded WITHOUT the sandbox" in result.stdout  # the loud warning, in the summary
    with (out / "grades.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_key: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_key.setdefault((row["student"], row["notebook"]), []).append(row)
    return by_key, out, result.stdout


def _score(rows) -> float:
    return sum(float(r["score"]) for r in rows)


def test_solution_gets_full_marks(graded):
    rows = graded[0][("alice", PILOT)]
    assert _score(rows) == sum(_points(PILOT).values()) > 0, rows
    assert all(r["status"] == "passed" for r in rows)


def test_untouched_release_gets_zero_and_says_not_attempted(graded):
    rows = graded[0][("bob", PILOT)]
    assert _score(rows) == 0
    assert all(r["status"] == "not attempted" for r in rows), rows


def test_partly_solved_gets_partial_marks(graded):
    rows = graded[0][("carol", PILOT)]
    points = _points(PILOT)
    first_two = list(points)[:2]
    assert _score(rows) == sum(points[c] for c in first_two)
    assert 0 < _score(rows) < sum(points.values())


def test_tampered_test_cells_are_restored(graded):
    assert _score(graded[0][("dave", PILOT)]) == sum(_points(PILOT).values())
    assert _score(graded[0][("dave2", PILOT)]) == 0


def test_infinite_loop_costs_only_its_exercise(graded):
    rows = {r["cell"]: r for r in graded[0][("erin", PILOT)]}
    assert float(rows["weighted_sum_test"]["score"]) == 0
    # neuron builds on weighted_sum, so it fails too; the rest are independent
    assert float(rows["dense_layer_test"]["score"]) == _points(PILOT)["dense_layer_test"]
    assert float(rows["count_parameters_test"]["score"]) == _points(PILOT)["count_parameters_test"]


def test_kernel_exit_is_a_readable_zero(graded):
    rows = graded[0][("frank", PILOT)]
    assert _score(rows) == 0
    assert all("kernel died" in r["status"] for r in rows), rows


def test_deleted_test_cell_is_readded_and_graded(graded):
    rows = {r["cell"]: r for r in graded[0][("grace", PILOT)]}
    assert float(rows["count_parameters_test"]["score"]) == _points(PILOT)["count_parameters_test"]


def test_rigged_equality_gets_no_points_for_that_exercise(graded):
    rows = {r["cell"]: r for r in graded[0][("heidi", PILOT)]}
    assert float(rows["weighted_sum_test"]["score"]) == 0
    assert float(rows["dense_layer_test"]["score"]) == _points(PILOT)["dense_layer_test"]


def test_invalid_json_and_symlink_are_reported_not_crashed(graded):
    assert all(r["status"].startswith("unreadable") for r in graded[0][("ivan", PILOT)])
    assert all(r["status"].startswith("refused: a symbolic link") for r in graded[0][("mallory", PILOT)])
    assert _score(graded[0][("mallory", PILOT)]) == 0


def test_every_student_has_a_row_per_graded_cell(graded):
    rows, _, stdout = graded
    for (student, stem), cells in rows.items():
        assert [r["cell"] for r in cells] == list(_points(stem)), (student, stem)
    assert "alice" in stdout and "score" in stdout  # the summary table


def test_feedback_hides_hidden_tests(graded):
    import html as html_lib
    import re

    _, out, _ = graded
    raw = (out / "feedback" / "alice" / f"{PILOT}.html").read_text()
    # compare against the text a student reads: syntax highlighting splits code into tags
    html = html_lib.unescape(re.sub(r"<[^>]+>", "", raw))
    assert "check_weighted_sum" in html
    source = nbformat.read(str(ROOT / "solutions" / f"{PILOT}.ipynb"), as_version=4)
    for cell in source.cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            for line in filter(None, (ln.strip() for ln in hidden.splitlines())):
                assert line not in html, line
    assert "HIDDEN TESTS" not in html


def test_feedback_for_a_stub_says_not_attempted(graded):
    _, out, _ = graded
    html = (out / "feedback" / "bob" / f"{PILOT}.html").read_text()
    assert "not attempted yet" in html


def test_missing_submissions_folder_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade",
         str(tmp_path / "nope"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "submissions folder not found" in result.stderr


def test_validate_reports_gradability_and_checks(tmp_path):
    good = tmp_path / f"{PILOT}.ipynb"
    nbformat.write(solved(PILOT), str(good))
    ok = subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "validate",
                         str(good), "--quiet"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    broken = copy.deepcopy(solved(PILOT))
    broken.cells = [c for c in broken.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") != "neuron_test"]
    _cell(broken, "dense_layer").source = "def dense_layer(X, W, b, activation):\n    return X @ W"
    bad = tmp_path / "bad" / f"{PILOT}.ipynb"
    bad.parent.mkdir()
    nbformat.write(broken, str(bad))
    fail = subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "validate",
                           str(bad), "--quiet"], capture_output=True, text=True, timeout=300)
    assert fail.returncode == 1
    assert "cell 'neuron_test' is missing" in fail.stdout
    assert "dense_layer_test: failed" in fail.stdout
    assert "    hint: " in fail.stdout and "expected" in fail.stdout  # the check's whole message


def test_grading_stops_with_the_fix_when_no_sandbox_can_start(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write(subs, "alice", PILOT, solved(PILOT))
    no_bwrap = dict(os.environ, PATH=str(tmp_path))  # bubblewrap cannot be found
    result = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade", str(subs),
         "--out", str(out)], capture_output=True, text=True, timeout=300, env=no_bwrap)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "bubblewrap (bwrap) is not installed" in message
    assert "sudo bash tools/setup-sandbox.sh" in message and "--no-sandbox" in message
    assert "Traceback" not in message
    assert not (out / "grades.csv").exists()  # never a silent fallback to unsandboxed grading
