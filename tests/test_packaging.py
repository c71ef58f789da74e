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


def _torch_source(tmp_path, *args: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "torch_source.py"), *args],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    source, pip_args = out.rstrip("\n").split("\t")
    return source, pip_args


def test_setup_gets_pytorch_from_the_source_that_fits_the_machine(tmp_path):
    """What setup would run on each kind of laptop (this machine cannot reach PyTorch's index):
    the decision is the script setup.sh calls, with the machine's facts given."""
    version = (ROOT / "constraints.txt").read_text().split("torch==")[1].split()[0]
    cpu_linux = _torch_source(tmp_path, "--system", "Linux", "--gpu", "none", "--wheels", "")
    assert cpu_linux == ("pytorch-cpu-index",
                         f"--index-url https://download.pytorch.org/whl/cpu torch=={version}")
    assert _torch_source(tmp_path, "--system", "Linux", "--gpu", "nvidia", "--wheels", "") == (
        "pypi-cuda", f"torch=={version}")
    for system in ("Darwin", "Windows"):
        assert _torch_source(tmp_path, "--system", system, "--gpu", "none", "--wheels", "") == (
            "pypi", f"torch=={version}")
    empty = tmp_path / "no-torch-here"
    empty.mkdir()
    assert _torch_source(tmp_path, "--system", "Linux", "--gpu", "none",
                         "--wheels", str(empty))[0] == "pytorch-cpu-index"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / f"torch-{version}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    assert _torch_source(tmp_path, "--system", "Linux", "--gpu", "nvidia", "--wheels", str(wheels)) == (
        "wheels", f"--find-links {wheels} torch=={version}")


def test_setup_script_uses_the_decision_and_checks_the_build():
    setup = (ROOT / "tools" / "setup.sh").read_text()
    assert "tools/torch_source.py" in setup and '"pypi-cuda"' in setup
    assert "/opt/wheels" not in setup  # nothing of this machine's in the laptop path
