"""What may be graded: one regular notebook file per student and notebook, read safely.

Shared by both graders (nbgrader's, and the sandbox's) so a submission is refused the same way
whichever grades it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 1024**2


def first_line(text: object, limit: int = 160) -> str:
    """The first non-blank line of ``text``, without ANSI colours, cut to ``limit`` characters."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def submission_problem(path: Path, expected_name: str | None = None) -> str | None:
    """Why ``path`` cannot be graded (a symlink, not a regular file, too large, another name),
    or None. Looked at without following links (nbgrader itself would follow them)."""
    path = Path(path)
    if expected_name is not None and path.name != expected_name:
        return f"refused: expected a file named {expected_name}, got {path.name}"
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return "refused: a symbolic link, not a notebook file"
    if not stat.S_ISREG(info.st_mode):
        return "refused: not a regular file"
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return f"refused: {info.st_size} bytes, over the {MAX_NOTEBOOK_BYTES} byte limit"
    return None


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, opened without following a symlink (no race with a swap)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "r", encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    nbformat.validate(nb)
    return nb


def load_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """(notebook, None) for a gradable file, else (None, the reason as a grade status)."""
    if problem := submission_problem(path):
        return None, problem
    try:
        return read_submission(path), None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        return None, f"unreadable: not a valid notebook ({first_line(exc)})"
