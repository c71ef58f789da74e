"""Sandboxed grading against a batch of hostile submissions to notebook 01.

Every submission is graded by ``coursekit.instructor.sandbox.grade_submission`` (what ``coursekit grade``
does by default): the student's code runs in the bubblewrap sandbox, the test cells in this
process. Each attack is graded at what its real work deserves (an attack on a stub gets 0), the
honest submissions get full marks, and nothing of the instructor's is readable from inside.

Needs a working sandbox (``tools/setup-sandbox.sh``, run by ``tools/setup.sh`` as root); without
one these tests fail in CI or as root, naming the reason, and are skipped elsewhere or with
COURSEKIT_ALLOW_NO_SANDBOX=1.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from conftest import require_sandbox
from test_grading import _cell, _release, solved  # tests/ is on sys.path under pytest

from coursekit.instructor.results import graded_cells
from coursekit.instructor.sandbox import feedback_html, grade_submission

ROOT = Path(__file__).resolve().parents[1]
PILOT = "01_neurons"
SOURCE = ROOT / "solutions" / f"{PILOT}.ipynb"
TIMEOUT = 10
SECRET = "TOP-SECRET-GRADEBOOK-7f3a9c"
OTHER_SECRET = "OTHER-STUDENT-ANSWER-51c2e8"

pytestmark = pytest.mark.slow


def _points() -> dict[str, float]:
    return dict(graded_cells(SOURCE))


def _hidden_lines() -> list[str]:
    lines = []
    for cell in nbformat.read(str(SOURCE), as_version=4).cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            lines += [ln.strip() for ln in hidden.splitlines() if ln.strip()]
    return lines


def _with_cell(nb, source: str, after: str = "setup"):
    """``nb`` with a new unlocked code cell (the attack) right after the cell ``after``."""
    nb = nbformat.from_dict(nb)
    index = next(i for i, c in enumerate(nb.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb


def _replace(nb, grade_id: str, source: str):
    nb = nbformat.from_dict(nb)
    _cell(nb, grade_id).source = source
    return nb


DROP_TESTS = """\
ip = get_ipython()
def drop_tests(lines):
    return [ln for ln in lines if "check_" not in ln and "assert" not in ln] or ["pass\\n"]
ip.input_transformers_cleanup.append(drop_tests)
ip.input_transformers_post.append(drop_tests)
"""

PATCH_CHECKS = """\
import numpy as np
import coursekit.checks.core as core
import coursekit.checks.neurons as neurons
always = lambda *a, **k: True
np.allclose = np.isclose = np.array_equal = always
np.testing.assert_allclose = lambda *a, **k: None
core.Checker.close = core.Checker.true = lambda *a, **k: None
core.Checker.call = lambda self, fn, *a, **k: 0.0
for name in neurons.__all__:
    setattr(neurons, name, lambda *a, **k: print("✅ all checks passed"))
    globals()[name] = getattr(neurons, name)
"""

SNOOP = """\
import os, pathlib
paths = ("solutions", "gradebook.db", "submitted", "autograded", ".ipynb", "{other}")
words = {words!r}
found = []
for folder, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys", "/usr", "/dev")
               and "site-packages" not in folder and not folder.startswith("{python_home}")]
    for name in files + dirs:
        path = os.path.join(folder, name)
        if any(p in path for p in paths):
            found.append(path)
        if name in files:
            try:
                text = open(path, errors="replace").read(5_000_000)
            except OSError:
                continue
            found += [f"{{path}} contains {{w}}" for w in words if w in text]
print("FOUND:", found)
for path in {targets!r}:
    try:
        print("READ", path, open(path, errors="replace").read()[:200])
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
try:
    open("{root}/solutions/pwned.txt", "w").write("x")
    print("WROTE into solutions/")
except OSError as exc:
    print("WRITE DENIED", type(exc).__name__)
print("ENV", sorted(os.environ))
print("PROCS", sorted(p for p in os.listdir("/proc") if p.isdigit()))
import coursekit
print("CHECKOUT", sorted(os.listdir(pathlib.Path(coursekit.__file__).parents[1])))
print("SEARCH DONE")
"""

NETWORK = """\
import socket, urllib.request
for host, port in (("pypi.org", 443), ("1.1.1.1", 80), ("127.0.0.1", {port})):
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host, port)
    except OSError as exc:
        print("NET BLOCKED", host, port, type(exc).__name__)
try:
    urllib.request.urlopen("https://pypi.org/simple/", timeout=3)
    print("CONNECTED urllib")
except OSError as exc:
    print("NET BLOCKED urllib", type(exc).__name__)
"""

FORK_BOMB = """\
def count_parameters(layer_sizes):
    import os
    while True:
        os.fork()
"""

MEMORY_BOMB = """\
def mlp_forward(X, params, activation):
    hog = []
    while True:
        hog.append(bytearray(10**9))
"""

RIGGED = """\
class AlwaysEqual(float):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __float__(self):
        return 5.5
def weighted_sum(x, w, b):
    return AlwaysEqual(0.0)
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    require_sandbox()
    work = tmp_path_factory.mktemp("grading")
    # What an instructor's machine holds beside the grader: a gradebook and other submissions.
    (work / "gradebook.db").write_text(SECRET)
    other = work / "submitted" / "zoe" / f"{PILOT}.ipynb"
    other.parent.mkdir(parents=True)
    other.write_text(OTHER_SECRET)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()

    targets = [str(SOURCE), str(work / "gradebook.db"), str(other), "/proc/1/environ",
               "/etc/shadow", "/root/.bash_history", str(ROOT / "tests" / "test_grading.py")]
    stub, full = _release(PILOT), solved(PILOT)
    first_two = {c.removesuffix("_test") for c, _ in graded_cells(SOURCE)[:2]}
    tampered = nbformat.from_dict(full)
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    stub_tampered = nbformat.from_dict(stub)
    for cell in stub_tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    deleted = nbformat.from_dict(full)
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    stub_deleted = nbformat.from_dict(stub)
    stub_deleted.cells = [c for c in stub_deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    submissions = {
        "honest": full,
        "honest-partial": solved(PILOT, only=first_two),
        "stub": stub,
        "transformer-stub": _with_cell(stub, DROP_TESTS),
        "transformer-solved": _with_cell(full, DROP_TESTS),
        "patched-stub": _with_cell(stub, PATCH_CHECKS),
        "patched-solved": _with_cell(full, PATCH_CHECKS),
        "rigged-eq": _replace(full, "weighted_sum", RIGGED),
        "snoop-stub": _with_cell(stub, SNOOP.format(
            other=OTHER_SECRET, targets=targets, root=ROOT, python_home=sys.base_prefix,
            words=[SECRET, OTHER_SECRET, "### BEGIN HIDDEN TESTS\n", *_hidden_lines()])),
        "network-solved": _with_cell(full, NETWORK.format(port=listener.getsockname()[1])),
        "fork-bomb": _replace(full, "count_parameters", FORK_BOMB),
        "fork-bomb-cell": _with_cell(full, "import os\nwhile True:\n    os.fork()"),
        "memory-bomb": _replace(full, "mlp_forward", MEMORY_BOMB),
        "loop-cell": _replace(full, "weighted_sum", "while True:\n    pass"),
        "loop-call": _replace(full, "count_parameters",
                              "def count_parameters(layer_sizes):\n    while True:\n        pass"),
        "exit-cell": _replace(full, "neuron", "import os\nos._exit(1)"),
        "exit-call": _replace(full, "count_parameters",
                              "def count_parameters(layer_sizes):\n    import os\n    os._exit(3)"),
        "killed-call": _replace(full, "dense_layer", "def dense_layer(X, W, b, activation):\n"
                                "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)"),
        "tampered-solved": tampered,
        "tampered-stub": stub_tampered,
        "deleted-solved": deleted,
        "deleted-stub": stub_deleted,
        "flood-solved": _with_cell(full, "print('x' * 10_000_000)\nprint('y' * 1000)"),
        "syntax-error": _replace(full, "weighted_sum", "def weighted_sum(x, w, b)\n    return 0.0"),
    }
    results = {}
    for student, nb in submissions.items():
        rows, executed = grade_submission(SOURCE, nb, student=student, cell_timeout=TIMEOUT)
        results[student] = ({r.cell: r for r in rows}, executed)
    link = work / "mallory" / f"{PILOT}.ipynb"
    link.parent.mkdir()
    os.symlink(SOURCE, link)
    rows, executed = grade_submission(SOURCE, link, student="mallory", cell_timeout=TIMEOUT)
    results["symlink"] = ({r.cell: r for r in rows}, executed)
    listener.close()
    return results, accepted


def _score(batch, student) -> float:
    return sum(r.score for r in batch[0][student][0].values())


def _status(batch, student, cell) -> str:
    return batch[0][student][0][cell].status


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts += [o.get("text", ""), o.get("evalue", ""), *o.get("traceback", []),
                      str(o.get("data", {}).get("text/plain", ""))]
    return "\n".join(parts)


def _cell_text(nb, needle: str) -> str:
    cell = next(c for c in nb.cells if needle in c.source)
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)


TOTAL = sum(_points().values())


@pytest.mark.parametrize("student", ["honest", "transformer-solved", "patched-solved", "network-solved",
                                     "tampered-solved", "deleted-solved", "flood-solved"])
def test_honest_work_gets_full_marks_whatever_else_the_notebook_does(batch, student):
    assert _score(batch, student) == TOTAL, batch[0][student][0]
    assert all(r.status == "passed" for r in batch[0][student][0].values())


def test_partial_work_gets_partial_marks(batch):
    points = _points()
    assert _score(batch, "honest-partial") == sum(list(points.values())[:2])


@pytest.mark.parametrize("student", ["stub", "transformer-stub", "patched-stub", "snoop-stub",
                                     "tampered-stub", "deleted-stub"])
def test_a_stub_gets_zero_whatever_it_attacks(batch, student):
    assert _score(batch, student) == 0
    assert all(r.status == "not attempted" for r in batch[0][student][0].values()), batch[0][student][0]


def test_rigged_equality_gets_nothing_for_that_exercise(batch):
    assert batch[0]["rigged-eq"][0]["weighted_sum_test"].score == 0
    assert "returns a number' " in _status(batch, "rigged-eq", "weighted_sum_test")
    assert batch[0]["rigged-eq"][0]["dense_layer_test"].score == _points()["dense_layer_test"]


def test_the_filesystem_search_finds_nothing_of_the_instructors(batch):
    executed = batch[0]["snoop-stub"][1]
    out = _cell_text(executed, "SEARCH DONE")
    assert "SEARCH DONE" in out  # the search ran to the end
    assert "FOUND: []" in out, out
    assert not [ln for ln in out.splitlines() if ln.startswith(("READ ", "WROTE"))], out
    assert out.count("DENIED") >= 8
    for word in (SECRET, OTHER_SECRET, "BEGIN HIDDEN TESTS", "solutions", "gradebook"):
        assert word not in out.split("DENIED")[0], word  # before the explicit attempts
    assert "CHECKOUT ['.venv', 'coursekit', 'imgs', 'pyproject.toml']" in out
    assert "PROCS ['1', '2']" in out  # only the sandbox's own init and itself
    text = _text(executed)
    assert SECRET not in text and OTHER_SECRET not in text
    for line in _hidden_lines():
        assert line not in text, line
    assert not (ROOT / "solutions" / "pwned.txt").exists()


def test_the_environment_is_clean(batch):
    out = _cell_text(batch[0]["snoop-stub"][1], "SEARCH DONE")
    env = out.split("ENV ")[1].splitlines()[0]
    assert "VIRTUAL_ENV" not in env and "PYTEST" not in env and "SUDO" not in env
    assert "'HOME'" in env and "'PATH'" in env


def test_no_network_inside(batch):
    out = _cell_text(batch[0]["network-solved"][1], "NET BLOCKED")
    assert "CONNECTED" not in out, out
    assert out.count("NET BLOCKED") == 4
    assert batch[1] == []  # the listener in the grader's own network was never reached


def test_a_fork_bomb_costs_only_its_own_test(batch):
    rows = batch[0]["fork-bomb"][0]
    assert rows["count_parameters_test"].score == 0
    assert _score(batch, "fork-bomb") == TOTAL - _points()["count_parameters_test"]
    assert _score(batch, "fork-bomb-cell") == TOTAL
    bomb = next(c for c in batch[0]["fork-bomb-cell"][1].cells if c.source.startswith("import os\nwhile"))
    errors = {o.get("ename") for o in bomb.outputs if o.output_type == "error"}
    # stopped one way or another: processes left (killed), fork refused, replies garbled, timeout
    assert errors & {"ProcessesLeftRunning", "BlockingIOError", "SandboxError", "CellTimeoutError"}, errors


def test_a_memory_bomb_costs_only_its_own_test(batch):
    rows = batch[0]["memory-bomb"][0]
    assert rows["mlp_forward_test"].score == 0
    test_cell = next(c for c in batch[0]["memory-bomb"][1].cells if c.source.startswith("check_mlp_forward"))
    assert "MemoryError" in _text(nbformat.v4.new_notebook(cells=[test_cell]))
    assert _score(batch, "memory-bomb") == TOTAL - _points()["mlp_forward_test"]


def test_an_infinite_loop_costs_only_what_needs_it(batch):
    rows = batch[0]["loop-cell"][0]
    points = _points()
    assert rows["weighted_sum_test"].score == 0
    assert rows["neuron_test"].score == 0  # neuron calls weighted_sum
    assert "timed out" in rows["neuron_test"].status
    assert _score(batch, "loop-cell") == TOTAL - points["weighted_sum_test"] - points["neuron_test"]
    rows = batch[0]["loop-call"][0]
    assert rows["count_parameters_test"].status == f"failed: timed out after {TIMEOUT} s"
    assert _score(batch, "loop-call") == TOTAL - points["count_parameters_test"]


def test_a_dying_kernel_scores_zero_from_there_on_with_a_clear_status(batch):
    points = _points()
    rows = batch[0]["exit-cell"][0]
    assert rows["weighted_sum_test"].status == "passed"
    for cell in ("neuron_test", "dense_layer_test", "mlp_forward_test", "count_parameters_test"):
        assert rows[cell].score == 0 and "kernel died" in rows[cell].status, rows[cell]
    assert _score(batch, "exit-cell") == points["weighted_sum_test"]
    rows = batch[0]["exit-call"][0]
    assert "kernel died" in rows["count_parameters_test"].status
    assert _score(batch, "exit-call") == TOTAL - points["count_parameters_test"]
    rows = batch[0]["killed-call"][0]
    assert "kernel died" in rows["dense_layer_test"].status
    assert _score(batch, "killed-call") == points["weighted_sum_test"] + points["neuron_test"]


def test_the_status_names_the_first_real_error_not_the_name_error_it_causes(batch):
    rows = batch[0]["syntax-error"][0]
    for cell in ("weighted_sum_test", "neuron_test"):  # neuron calls weighted_sum
        assert rows[cell].status.startswith("failed: cell 'weighted_sum' raised SyntaxError"), rows[cell]
        assert "then " in rows[cell].status
    assert rows["dense_layer_test"].status == "passed"


def test_oversized_output_is_cut(batch):
    text = _text(batch[0]["flood-solved"][1])
    assert "output cut" in text and len(text) < 200_000


def test_a_symlink_is_refused(batch):
    rows = batch[0]["symlink"][0]
    assert all(r.status == "refused: a symbolic link, not a notebook file" for r in rows.values())
    assert _score(batch, "symlink") == 0


def test_every_submission_has_every_graded_cell(batch):
    for student, (rows, _) in batch[0].items():
        assert list(rows) == list(_points()), student


def test_feedback_shows_scores_first_figures_and_maths_without_the_network(batch):
    import re

    page = feedback_html(batch[0]["honest-partial"][1])
    text = re.sub(r"<[^>]+>", " ", page)
    points = _points()
    first_two = sum(list(points.values())[:2])
    assert f"Your score: {first_two:g} / {sum(points.values()):g}" in text
    assert text.index("Your score") < text.index("Neurons")  # the very top
    assert "weighted_sum_test: 1 / 1" in text and "not attempted" in text
    assert 'src="data:image/gif;base64,R0lG' in page  # the animated figures, as images
    assert "IPython.core.display.Image object" not in text
    assert "<math" in page and r"\sum_{i=1}" not in page  # maths as MathML, rendered offline
    # no script or stylesheet from the network (links in the notebook's text stay links)
    assert not re.findall(r'<(?:script[^>]*src|link[^>]*href)="https?://', page)


def test_feedback_shows_checks_but_no_hidden_tests(batch):
    html = feedback_html(batch[0]["honest"][1])
    assert "check_weighted_sum" in html and "✅ weighted_sum" in html
    assert "HIDDEN TESTS" not in html
    for line in _hidden_lines():
        assert line not in html, line
    assert "not attempted yet" in feedback_html(batch[0]["stub"][1])


def test_ctrl_c_while_a_sandbox_starts_stops_the_run_not_as_a_setup_problem():
    """Ctrl-C that lands while the sandboxed Python is starting is the instructor stopping the
    run: KeyboardInterrupt, the half-started sandbox killed; never "sandbox unavailable", which
    would grade the submission 0 and go on with the batch."""
    import signal
    import time

    from coursekit.instructor.sandbox.runner import Sandbox

    require_sandbox()
    sandbox = Sandbox()

    def interrupt_once_it_is_launched():  # then start() is waiting for the sandbox's first answer
        while sandbox.proc is None:
            time.sleep(0.0002)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_once_it_is_launched)
    thread.start()
    with pytest.raises(KeyboardInterrupt):
        sandbox.start()
        time.sleep(10)  # only if the start won the race: then the check below fails
    thread.join()
    assert sandbox.proc is not None and sandbox.proc.poll() is not None, "start was not interrupted"
