"""The install surface: pyproject, environment.yml, the setup script and the CI entry point."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.update(r for r in extra if not r.startswith("coursekit"))
    return {re.sub(r"\s+", "", r) for r in reqs}


def _environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = set()
    for line in lines[start + 1:]:
        item = line.strip()
        if not item.startswith("- "):
            break
        reqs.add(item[2:].strip())
    return reqs


def test_environment_yml_lists_the_same_packages_as_pyproject():
    env = _environment_requirements()
    assert "-e ." in env
    assert env - {"-e ."} == _pyproject_requirements()


def test_python_version_is_pinned_consistently():
    env_text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in env_text
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.14"


def test_framework_dependencies_stay_loose():
    # Colab must keep its preinstalled torch/TensorFlow: no == pins in the package itself.
    for req in _pyproject_requirements():
        assert "==" not in req, req
    assert "torch==" in (ROOT / "constraints.txt").read_text()


def test_this_environment_has_the_cpu_torch_and_no_cuda_packages():
    import importlib.metadata as md

    import torch

    assert torch.version.cuda is None
    assert not [d for d in md.distributions() if (d.metadata["Name"] or "").lower().startswith("nvidia-")]


def test_setup_script_is_idempotent_and_fast_when_up_to_date():
    # Run from the repository: the venv exists (the tests run in it), so setup only verifies.
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        import pytest

        pytest.skip("tests are not running from the repository's .venv")
    result = subprocess.run(["bash", "tools/setup.sh"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "CPU build" in result.stdout


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make course" in readme
    assert "set -euo pipefail" in ci
