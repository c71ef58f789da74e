"""Sandboxed grading: the student's code in a locked-down process, the tests outside it.

    from coursekit.sandbox import grade_submission, sandbox_problem
    rows, executed = grade_submission(source_nb, submitted_nb, student="alice", cell_timeout=120)

See docs/sandbox.md for what the sandbox guarantees and what it does not. Names load on first
use, so that the process inside the sandbox imports only what it needs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "grade_submission": "coursekit.sandbox.grade",
    "feedback_html": "coursekit.sandbox.grade",
    "read_submission": "coursekit.submissions",
    "submission_problem": "coursekit.submissions",
    "Limits": "coursekit.sandbox.runner",
    "SandboxUnavailable": "coursekit.sandbox.runner",
    "sandbox_problem": "coursekit.sandbox.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'coursekit.sandbox' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
