"""Grade one submission: the student's cells in the sandbox, the test cells outside it.

The run follows the instructor's notebook. Cells the student may edit (solutions, their own
cells) come from the submission; locked cells (setup, given helpers, figures) and every graded
test cell come from the instructor's source, so editing or deleting them changes nothing.
Code cells run in order: the student's and the locked ones inside the sandbox, each test cell
in this (trusted) process, in a namespace holding the source's imports and given definitions;
any other name a test uses is fetched from the student's process as data or a proxy
(:mod:`coursekit.instructor.sandbox.proxy`). A test cell scores its points when it raises nothing.
Cells after the last test cell are not run: they cannot change a score, and they are usually the
notebook's experiment, which would only cost grading time.

Hostile or broken code costs only what it touches: a cell or call that runs past the timeout, or
that leaves processes behind, is stopped, the sandbox restarted and the student's earlier cells
replayed; if the student's process dies (``os._exit``, a kill, a crash), the tests from there
on score 0 with a status that says so.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import contextlib
import copy
import io
import os
import re
import time
from pathlib import Path
from typing import Any

import nbformat

from coursekit.checks.core import GRADING_ENV
from coursekit.instructor.course import CELL_TIMEOUT_S
from coursekit.instructor.results import CellGrade, cell_problem, failure_status
from coursekit.instructor.sandbox.proxy import SandboxBroken
from coursekit.instructor.sandbox.runner import Limits, Sandbox, SandboxUnavailable
from coursekit.instructor.submissions import first_line, load_submission

MAX_TEXT = 20_000          # characters of text output kept per cell in the feedback
MAX_IMAGE = 2 * 1024**2    # base64 characters per image
MAX_RESTARTS = 5
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_PRELUDE_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


# --------------------------------------------------------------------------------------------
# which cell runs where
# --------------------------------------------------------------------------------------------
def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_test(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def _is_fixed(cell) -> bool:
    """A cell whose content comes from the instructor's source: locked or an autograded test."""
    m = _meta(cell)
    return bool(m.get("locked")) or is_test(cell)


def plan(source: nbformat.NotebookNode, submission: nbformat.NotebookNode) -> list[tuple[str, Any]]:
    """The cells to run, in order: ``("student", cell)`` (the submission's code, run in the
    sandbox), ``("locked", cell)`` (the source's locked code, run in the sandbox), ``("test",
    cell)`` (the source's test cell, run here) and ``("markdown", cell)``.

    The submission's order is kept; its copies of fixed cells are replaced by the source's, and
    fixed cells it lacks are put back after the cell that precedes them in the source."""
    fixed = {_meta(c)["grade_id"]: c for c in source.cells if _is_fixed(c) and _meta(c).get("grade_id")}
    order = [_meta(c).get("grade_id") for c in source.cells]
    out: list[tuple[str, Any]] = []
    placed: set[str] = set()
    for cell in submission.cells:
        gid = _meta(cell).get("grade_id")
        if gid in fixed:
            if gid not in placed:  # a duplicated fixed cell runs once, as the source has it
                placed.add(gid)
                out.append(_role(fixed[gid]))
            continue
        if cell.cell_type == "code":
            out.append(("student", cell))
        elif cell.cell_type == "markdown":
            out.append(("markdown", cell))
    for index, gid in enumerate(order):
        if gid in fixed and gid not in placed:
            before = {g for g in order[:index] if g}
            at = 0
            for i, (_, cell) in enumerate(out):
                if _meta(cell).get("grade_id") in before:
                    at = i + 1
            out.insert(at, _role(fixed[gid]))
            placed.add(gid)
    return out


def _role(cell) -> tuple[str, Any]:
    if is_test(cell):
        return "test", cell
    return ("locked" if cell.cell_type == "code" else "markdown"), cell


def trusted_prelude(source: nbformat.NotebookNode) -> str:
    """The imports, functions and classes of the source's locked, ungraded code cells: what a
    test cell may use besides the student's names (checks, numpy, given helpers)."""
    parts = []
    for cell in source.cells:
        if cell.cell_type != "code" or is_test(cell) or not _meta(cell).get("locked"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, _PRELUDE_NODES):
                parts.append(ast.get_source_segment(cell.source, node) or "")
    return "\n".join(parts)


def run_prelude(source: nbformat.NotebookNode, ns: dict[str, Any], stem: str = "notebook") -> None:
    """Run :func:`trusted_prelude` into ``ns``. TensorFlow's C++ start-up lines (a locked cell's
    ``from keras import layers``) would land in the instructor's terminal once per submission:
    the prelude runs with stderr silenced, and later TensorFlow logs are off."""
    from coursekit.frameworks import silenced_stderr

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    code = compile(trusted_prelude(source), f"<{stem}: locked cells>", "exec")
    with silenced_stderr():
        exec(code, ns)  # noqa: S102 - the instructor's own locked cells


def names_to_fetch(code: str) -> list[str]:
    """Names a test cell reads but never assigns: the student's functions, classes and data."""
    tree = ast.parse(code)
    loaded, stored = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                stored.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stored.add(node.name)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
    return list(dict.fromkeys(n for n in loaded if n not in stored))


# --------------------------------------------------------------------------------------------
# outputs (everything from the sandbox is untrusted: kept only if well-formed, and cut)
# --------------------------------------------------------------------------------------------
def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else (
        text[:limit] + f"\n... (output cut: {len(text) - limit} more characters)\n")


def clean_outputs(raw: Any) -> list:
    outputs: list = []
    budget = MAX_TEXT
    for o in raw[:100] if type(raw) is list else []:
        if type(o) is not dict or budget <= 0:
            continue
        kind = o.get("output_type")
        if kind == "stream" and o.get("name") in ("stdout", "stderr") and type(o.get("text")) is str:
            text = _cut(o["text"], budget)
            budget -= len(text)
            outputs.append(nbformat.v4.new_output("stream", name=o["name"], text=text))
        elif kind in ("display_data", "execute_result") and type(o.get("data")) is dict:
            data = {}
            if type(o["data"].get("text/plain")) is str:
                data["text/plain"] = _cut(o["data"]["text/plain"], max(budget, 0))
                budget -= len(data["text/plain"])
            for mime in ("image/png", "image/jpeg", "image/gif"):
                value = o["data"].get(mime)
                if type(value) is str and len(value) <= MAX_IMAGE and _BASE64.fullmatch(value):
                    try:
                        base64.b64decode(value, validate=False)
                    except (binascii.Error, ValueError):
                        continue
                    data[mime] = value
            if data:
                outputs.append(nbformat.v4.new_output("display_data", data=data))
    return outputs


def _error_output(ename: str, evalue: str, traceback: list[str] | None = None):
    return nbformat.v4.new_output("error", ename=_cut(str(ename), 200), evalue=_cut(str(evalue), 2000),
                                  traceback=[_cut(str(t), 4000) for t in (traceback or [])][-40:]
                                  or [f"{ename}: {evalue}"])


# --------------------------------------------------------------------------------------------
# the student's process, restarted when it must be
# --------------------------------------------------------------------------------------------
class _Student:
    """The sandboxed process, the cells it has run (replayed after a restart) and its fate."""

    def __init__(self, limits: Limits, cell_timeout: int):
        self.limits, self.cell_timeout = limits, cell_timeout
        self.sandbox: Sandbox | None = None
        self.history: list[str] = []
        self.restarts = 0
        self.dead: str | None = None  # why no more tests can run
        self.fetched: list[str] = []   # names the last test cell took from the student

    @property
    def session(self):
        if self.sandbox is None:
            self.sandbox = Sandbox(self.limits)
            self.sandbox.start()
        return self.sandbox.session

    def run(self, source: str) -> tuple[dict | None, str | None]:
        """Run a cell: (``{"outputs", "error"}`` or None, a problem: None, "timeout", "died",
        "protocol" or "processes")."""
        session = self.session
        session.endpoint.deadline = time.monotonic() + self.cell_timeout
        try:
            result = session.request("run", source=source)
        except SandboxBroken as exc:
            return None, exc.reason
        finally:
            session.endpoint.deadline = None
        if type(result) is not dict:
            return None, "protocol"
        if self.sandbox.stray_processes():
            return result, "processes"
        self.history.append(source)
        return result, None

    def restart(self, why: str) -> None:
        """A new sandbox with the student's state rebuilt from the cells run so far."""
        self.close()
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.dead = f"error: stopped after {MAX_RESTARTS} restarts of the student's process ({why})"
            return
        history, self.history = self.history, []
        for source in history:
            try:
                _, problem = self.run(source)
            except SandboxUnavailable as exc:
                problem = str(exc)
            if problem is not None:
                self.close()
                self.dead = f"error: the student's state could not be rebuilt after {why} ({problem})"
                return

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.kill()
            self.sandbox = None


def _died(where: str) -> str:
    return (f"error: the kernel died while running {where} (os._exit, a crash, "
            "or a resource limit such as memory)")


# --------------------------------------------------------------------------------------------
# test cells, in this process
# --------------------------------------------------------------------------------------------
def _run_test(code: str, ns: dict, student: _Student, timeout: int) -> tuple[list, BaseException | None]:
    """Execute one test cell here; returns its outputs and the exception it raised (or None)."""
    session = student.session
    for name in student.fetched:  # the last test's proxies may belong to a stopped process
        ns.pop(name, None)
    student.fetched = [n for n in names_to_fetch(code) if n not in ns and not hasattr(builtins, n)]
    for name in student.fetched:
        session.endpoint.deadline = time.monotonic() + timeout
        try:
            ns[name] = session.get(name)
        except NameError:
            pass  # not defined by the student: the test will say so
        except SandboxBroken as exc:
            return [], exc
        finally:
            session.endpoint.deadline = None
    out = io.StringIO()
    failure: BaseException | None = None
    session.endpoint.deadline = time.monotonic() + timeout
    was = os.environ.get(GRADING_ENV)
    os.environ[GRADING_ENV] = "1"  # a stub's check fails the cell (in a notebook it only says so)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(code, "<test cell>", "exec"), ns)  # noqa: S102 - the instructor's test
    except (Exception, SandboxBroken) as exc:  # noqa: BLE001 - any failure is a failed test
        failure = exc
    finally:
        session.endpoint.deadline = None
        if was is None:
            os.environ.pop(GRADING_ENV, None)
        else:
            os.environ[GRADING_ENV] = was
    outputs = []
    if out.getvalue():
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=_cut(out.getvalue())))
    return outputs, failure


def _status(failure: BaseException | None, timeout: int, earlier: str) -> str:
    if failure is None:
        return "passed"
    if isinstance(failure, SandboxBroken):
        if failure.reason == "timeout":
            return f"failed: timed out after {timeout} s"
        return f"failed: {failure.detail}"
    return failure_status(type(failure).__name__, first_line(str(failure)), earlier, str(failure))


# --------------------------------------------------------------------------------------------
# the whole notebook
# --------------------------------------------------------------------------------------------
def grade_submission(source: Path | nbformat.NotebookNode, submission: Path | nbformat.NotebookNode,
                     *, student: str = "", stem: str = "", cell_timeout: int = CELL_TIMEOUT_S,
                     limits: Limits | None = None) -> tuple[list[CellGrade], nbformat.NotebookNode]:
    """Grade ``submission`` against the instructor notebook ``source`` (a path, or the notebook
    itself with its name in ``stem``) with the sandbox.

    Returns one :class:`coursekit.instructor.results.CellGrade` per autograded test cell of the
    source, in order, and the executed notebook for feedback (the student's outputs and the tests'
    outputs; render it with :func:`feedback_html`).
    Raises :class:`coursekit.instructor.sandbox.SandboxUnavailable` when no sandbox can start here.
    """
    if isinstance(source, nbformat.NotebookNode):
        src = source
    else:
        src = nbformat.read(str(source), as_version=4)
        stem = stem or Path(source).stem
    tests = [(_meta(c)["grade_id"], float(_meta(c).get("points", 0))) for c in src.cells if is_test(c)]
    feedback = nbformat.v4.new_notebook(metadata=copy.deepcopy(src.metadata))
    if isinstance(submission, nbformat.NotebookNode):
        sub = submission
    else:
        sub, problem = load_submission(Path(submission))
        if problem is not None:
            return [CellGrade(student, stem, gid, 0.0, pts, problem) for gid, pts in tests], feedback

    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    run_prelude(src, ns, stem)
    run = _Student(limits or Limits(), cell_timeout)
    statuses: dict[str, tuple[float, str, str]] = {}
    earlier = ""  # the first failure of a non-test cell: named by the tests that it breaks
    try:
        run.session  # start now: SandboxUnavailable is raised before any grade is given  # noqa: B018
        cells = plan(src, sub)
        figures = {name: data for c in src.cells if c.cell_type == "markdown"
                   for name, data in (c.get("attachments") or {}).items()}
        # Cells after the last graded test cannot change a score (the experiment, usually: the
        # training a student ran already): they go into the feedback as written, not run.
        last_test = max((i for i, (role, _) in enumerate(cells) if role == "test"), default=-1)
        for index, (role, cell) in enumerate(cells):
            gid = _meta(cell).get("grade_id") or f"cell {index + 1}"
            if role == "markdown":
                text = nbformat.v4.new_markdown_cell(cell.source)
                # the course's own figures only: an attachment the source notebook has, unchanged
                kept = {name: data for name, data in (cell.get("attachments") or {}).items()
                        if figures.get(name) == data}
                if kept:
                    text.attachments = copy.deepcopy(kept)
                feedback.cells.append(text)
                continue
            out = nbformat.v4.new_code_cell(cell.source, metadata=copy.deepcopy(cell.get("metadata", {})))
            feedback.cells.append(out)
            if index > last_test:
                continue
            if run.dead:
                if role == "test":
                    statuses[gid] = (0.0, run.dead, "")
                    out.outputs.append(_error_output("KernelDied", run.dead))
                continue
            if role == "test":
                points = dict(tests).get(gid, 0.0)
                outputs, failure = _run_test(cell.source, ns, run, cell_timeout)
                status = _status(failure, cell_timeout, earlier)
                broken = run.session.broken if run.sandbox else None
                if broken is not None and broken.reason == "died":
                    run.dead = _died(f"the test '{gid}'")
                    status = run.dead
                elif broken is not None:
                    run.restart(f"a {broken.reason} in the test '{gid}'")
                elif run.sandbox.stray_processes():
                    n = run.sandbox.stray_processes()
                    status = f"failed: the student's code left {n} processes running (stopped)"
                    run.restart("processes left running")
                out.outputs = outputs
                if failure is not None:
                    out.outputs.append(_error_output(type(failure).__name__, str(failure)))
                score = points if status == "passed" else 0.0
                detail = str(failure)[:4000] if isinstance(failure, Exception) else ""
                statuses[gid] = (score, status, detail)
                out.metadata.setdefault("coursekit", {}).update(score=score, max_score=points,
                                                                status=status)
                continue
            result, problem = run.run(cell.source)
            if result is not None:
                out.outputs = clean_outputs(result.get("outputs"))
                err = result.get("error")
                if type(err) is dict:
                    tb = err.get("traceback") if type(err.get("traceback")) is list else None
                    out.outputs.append(_error_output(err.get("ename", "Error"), err.get("evalue", ""),
                                                     [str(t) for t in tb or []]))
                    earlier = earlier or cell_problem(gid, str(err.get("ename", "Error")),
                                                      str(err.get("evalue", "")), cell_timeout)
            if problem == "died":
                run.dead = _died(f"cell '{gid}'")
                out.outputs.append(_error_output("KernelDied", run.dead))
            elif problem == "timeout":
                earlier = earlier or cell_problem(gid, "CellTimeoutError", "", cell_timeout)
                out.outputs.append(_error_output("CellTimeoutError",
                                                 f"cell timed out after {cell_timeout} s and was stopped"))
                run.restart(f"cell '{gid}' timed out")
            elif problem == "processes":
                out.outputs.append(_error_output("ProcessesLeftRunning",
                                                 "this cell left processes running; they were stopped"))
                run.restart(f"cell '{gid}' left processes running")
            elif problem == "protocol":
                out.outputs.append(_error_output("SandboxError", "invalid answer from the student's process"))
                run.restart(f"cell '{gid}' broke the channel")
    finally:
        run.close()
    missing = (0.0, "failed: graded cell missing", "")
    rows = [CellGrade(student, stem, gid, statuses.get(gid, missing)[0], pts,
                      statuses.get(gid, missing)[1], statuses.get(gid, missing)[2])
            for gid, pts in tests]
    for i, cell in enumerate(feedback.cells):
        cell["id"] = f"cell-{i}"
    return rows, feedback


def feedback_html(nb: nbformat.NotebookNode) -> str:
    """HTML for the student: scores first, figures and maths rendered offline, hidden tests and
    the tracebacks that would quote them removed (coursekit.instructor.feedback)."""
    from coursekit.instructor.feedback import feedback_exporter

    html, _ = feedback_exporter().from_notebook_node(copy.deepcopy(nb))
    return html
