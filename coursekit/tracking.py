"""A student's progress, tracked: every check records its outcome in a small local file.

    coursekit progress          # in a terminal: a table per notebook
    coursekit.progress()        # in a notebook: the same as a bar chart

Each run of a public check appends one line to ``progress.jsonl`` in the user's data folder
(``$XDG_DATA_HOME/coursekit`` or ``~/.local/share/coursekit`` on Linux, ``~/Library/Application
Support/coursekit`` on macOS, ``%APPDATA%\\coursekit`` on Windows): the notebook, the exercise,
the outcome ("passed", "failed", "not attempted") and the time. Nothing is ever sent anywhere.
``COURSEKIT_PROGRESS=0`` turns recording off; ``COURSEKIT_PROGRESS_FILE`` puts the file
elsewhere. Nothing is recorded while grading. A missing, unwritable or corrupt file never breaks
a check: recording is best effort, and unreadable lines are skipped.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

OUTCOMES = ("passed", "failed", "not attempted")


def progress_file() -> Path:
    override = os.environ.get("COURSEKIT_PROGRESS_FILE")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "coursekit" / "progress.jsonl"


def enabled() -> bool:
    from coursekit.checks.core import grading

    return os.environ.get("COURSEKIT_PROGRESS", "1") != "0" and not grading()


def notebook_of(module: str) -> str:
    """The notebook a check module belongs to: ``coursekit.checks.cnn`` -> ``07_cnn``."""
    from coursekit.checks import TOPICS

    topic = module.rsplit(".", 1)[-1]
    return f"{TOPICS.index(topic) + 1:02d}_{topic}" if topic in TOPICS else topic


def record(notebook: str, exercise: str, outcome: str) -> None:
    """Append one outcome; never raises."""
    if not enabled():
        return
    try:
        path = progress_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"notebook": notebook, "exercise": exercise, "outcome": outcome,
                           "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
        with path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
    except Exception:  # noqa: BLE001 - progress is a convenience; a check must never fail on it
        pass


def _exercises(notebook: str) -> list[str]:
    """Every graded exercise of a notebook, from its check module's public checks."""
    import importlib

    topic = notebook.split("_", 1)[-1]
    try:
        module = importlib.import_module(f"coursekit.checks.{topic}")
    except ImportError:
        return []
    return [name.removeprefix("check_") for name in getattr(module, "__all__", [])
            if name.startswith("check_")]


def load() -> dict[str, dict[str, dict[str, Any]]]:
    """notebook -> exercise -> its latest record (unreadable lines skipped)."""
    latest: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        lines = progress_file().read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return latest
    for line in lines:
        try:
            item = json.loads(line)
            notebook, exercise = str(item["notebook"]), str(item["exercise"])
            if item["outcome"] not in OUTCOMES:
                continue
        except (ValueError, KeyError, TypeError):
            continue
        latest.setdefault(notebook, {})[exercise] = item
    return latest


def summary() -> list[tuple[str, int, int, int]]:
    """(notebook, passed, attempted but not passed, exercises) per notebook with any record."""
    rows = []
    for notebook, done in sorted(load().items()):
        exercises = _exercises(notebook) or sorted(done)
        passed = sum(done.get(e, {}).get("outcome") == "passed" for e in exercises)
        failing = sum(done.get(e, {}).get("outcome") == "failed" for e in exercises)
        rows.append((notebook, passed, failing, len(exercises)))
    return rows


def table() -> str:
    rows = summary()
    if not rows:
        return (f"no progress recorded yet ({progress_file()}): run a notebook's checks first")
    lines = [f"{'notebook':<20} {'passed':>7} {'failing':>8} {'of':>4}"]
    for notebook, passed, failing, total in rows:
        bar = "█" * passed + "▒" * failing + "·" * max(total - passed - failing, 0)
        lines.append(f"{notebook:<20} {passed:>7} {failing:>8} {total:>4}  {bar}")
    return "\n".join(lines)


def progress():
    """In a notebook: a bar chart of exercises passed per notebook. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = summary()
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(rows), 1) + 1))
    if not rows:
        ax.text(0.5, 0.5, "no progress recorded yet: run a notebook's checks first",
                ha="center", va="center")
        ax.set_axis_off()
        return fig
    names = [r[0] for r in rows][::-1]
    passed = [r[1] / max(r[3], 1) for r in rows][::-1]
    failing = [r[2] / max(r[3], 1) for r in rows][::-1]
    ax.barh(names, passed, color="#2a9d8f", label="passed")
    ax.barh(names, failing, left=passed, color="#e76f51", label="attempted, failing")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the notebook's graded exercises")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("Your progress")
    fig.tight_layout()
    return fig
