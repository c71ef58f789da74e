"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Checks run by the tests (here, in nbval's kernels, in subprocesses) record no student progress.
os.environ["COURSEKIT_PROGRESS"] = "0"


def course_notebooks() -> list[Path]:
    """The solution notebooks the per-notebook tests cover: all of them, or, while working on
    some, those named in COURSEKIT_TEST_NOTEBOOKS (e.g. "04_losses,05_optimizers")."""
    from coursekit.instructor.course import solution_notebooks

    wanted = [w.strip() for w in os.environ.get("COURSEKIT_TEST_NOTEBOOKS", "").split(",") if w.strip()]
    found = solution_notebooks(ROOT)
    return [p for p in found if not wanted or p.stem in wanted]


def require_sandbox() -> None:
    """Skip or fail when no grading sandbox can start here.

    CI and root runs of `make test` set the sandbox up (tools/setup.sh), so there a missing
    sandbox is a failure; a student's non-root checkout cannot create the sandbox user, so the
    sandbox tests are skipped there (or anywhere with COURSEKIT_ALLOW_NO_SANDBOX=1).
    """
    from coursekit.instructor.sandbox import sandbox_problem

    skip_or_fail(sandbox_problem(), "COURSEKIT_ALLOW_NO_SANDBOX")


def skip_or_fail(problem: str | None, allow_variable: str) -> None:
    """Nothing without a ``problem``; else a failure where the setup can install what is missing
    (CI, root), a skip elsewhere or when ``allow_variable`` is 1."""
    if not problem:
        return
    can_set_up = os.environ.get("CI") or os.geteuid() == 0
    if os.environ.get(allow_variable) == "1" or not can_set_up:
        pytest.skip(problem)
    pytest.fail(f"{problem} (set {allow_variable}=1 to skip these tests)")


def pytest_generate_tests(metafunc):
    """Parametrize the shared check tests (tests/check_harness.py) from the test module's
    CORRECT ({check: [implementations]}), WRONG ([(check, implementation, hint)]) and MODULE."""
    module = metafunc.module
    if "correct_case" in metafunc.fixturenames:
        cases = list(module.CORRECT.items())
        metafunc.parametrize("correct_case", cases, ids=[c.exercise for c, _ in cases])
    if "wrong_case" in metafunc.fixturenames:
        counts: dict[str, int] = {}
        ids = []
        for check, _, _ in module.WRONG:
            counts[check.exercise] = counts.get(check.exercise, 0) + 1
            ids.append(f"{check.exercise}-{counts[check.exercise]}")
        metafunc.parametrize("wrong_case", module.WRONG, ids=ids)
    if "check_module" in metafunc.fixturenames:
        metafunc.parametrize("check_module", [(module.MODULE, module.CORRECT, module.WRONG)],
                             ids=[module.MODULE.__name__.rsplit(".", 1)[-1]])


@pytest.fixture(scope="session")
def released() -> dict[str, str]:
    """The student notebooks as `coursekit release` generates them now: built once per session."""
    from coursekit.instructor.release import build_release

    return build_release(ROOT, [p.stem for p in course_notebooks()])


def pytest_collection_modifyitems(items):
    """nbval's cells (every solution executed top to bottom) are slow tests too: `-m 'not slow'`
    is the quick subset for development."""
    for item in items:
        if ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.slow)
