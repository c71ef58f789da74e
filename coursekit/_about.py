"""Where the course lives: the repository (``owner/name`` on GitHub), written in one place.

That place is ``[project.urls] Repository`` in pyproject.toml. An installed coursekit reads it
from its own package metadata (Colab, a wheel); a checkout run without installing reads
pyproject.toml itself. `coursekit release` writes it into every notebook's Colab badge and
setup cell, so a fork edits pyproject.toml and runs `coursekit release`.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

_GITHUB = re.compile(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def repository_from_url(url: str) -> str:
    m = _GITHUB.match(url.strip())
    if not m:
        raise ValueError(f"the Repository URL must be https://github.com/OWNER/NAME, got {url!r}")
    return m[1]


def repository() -> str:
    """``owner/name`` of the course's GitHub repository."""
    try:
        for entry in importlib.metadata.metadata("coursekit").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "repository":
                return repository_from_url(url)
    except importlib.metadata.PackageNotFoundError:
        pass
    import tomllib

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    urls = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["urls"]
    return repository_from_url(urls["Repository"])


REPOSITORY = repository()
