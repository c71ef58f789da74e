"""Reporting a notebook's key result in a form `coursekit run` can read back."""

from __future__ import annotations

import re

METRIC_LINE = re.compile(r"^📊 (?P<name>.+?) = (?P<value>\S+)\s*$", re.MULTILINE)


def report_metric(name: str, value: float) -> None:
    """Print the notebook's headline result, e.g. ``📊 test accuracy = 0.981``.

    `coursekit run` shows the last such line of each notebook in its table.
    """
    print(f"📊 {name} = {float(value):.4g}")
