"""Sandboxed grading: the student's code in a locked-down process, the tests outside it.

    from coursekit.instructor.sandbox import grade_submission, sandbox_problem
    rows, executed = grade_submission(source_nb, submitted_nb, student="alice", cell_timeout=120)

See docs/sandbox.md for what the sandbox guarantees and what it does not. Names load on first
use, so that the process inside the sandbox imports only what it needs.
"""

from __future__ import annotations

from coursekit._lazy import lazy_exports

_EXPORTS = {
    "grade_submission": "coursekit.instructor.sandbox.grade",
    "feedback_html": "coursekit.instructor.sandbox.grade",
    "read_submission": "coursekit.instructor.submissions",
    "submission_problem": "coursekit.instructor.submissions",
    "Limits": "coursekit.instructor.sandbox.runner",
    "SandboxUnavailable": "coursekit.instructor.sandbox.runner",
    "sandbox_problem": "coursekit.instructor.sandbox.runner",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
