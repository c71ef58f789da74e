"""Shared test helpers."""

from __future__ import annotations

import os

import pytest


def require_sandbox() -> None:
    """Skip or fail when no grading sandbox can start here.

    CI and root runs of `make test` set the sandbox up (tools/setup.sh), so there a missing
    sandbox is a failure; a student's non-root checkout cannot create the sandbox user, so the
    sandbox tests are skipped there (or anywhere with COURSEKIT_ALLOW_NO_SANDBOX=1).
    """
    from coursekit.instructor.sandbox import sandbox_problem

    problem = sandbox_problem()
    if not problem:
        return
    can_set_up = os.environ.get("CI") or os.geteuid() == 0
    if os.environ.get("COURSEKIT_ALLOW_NO_SANDBOX") == "1" or not can_set_up:
        pytest.skip(problem)
    pytest.fail(f"{problem} (set COURSEKIT_ALLOW_NO_SANDBOX=1 to skip these tests)")
