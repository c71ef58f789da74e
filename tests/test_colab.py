"""Colab's package set: every notebook's setup cell installs coursekit and changes nothing else,
and notebooks 01 and 02 run there.

A fresh virtual environment (built once per session, in a temporary folder) holds Colab's current
versions of what coursekit touches (COLAB below) and a stand-in ``google.colab`` module that the
kernel imports at start, as Colab's does, so the setup cells take their Colab branch. PyTorch is
the local CPU wheel (COURSEKIT_WHEELS, default /opt/wheels; else PyTorch's CPU index) in place
of Colab's CUDA build.
Each solution notebook's setup cell then runs in a fresh kernel of that environment, its
``coursekit @ git+https://...`` requirement pointed at this checkout (the notebooks are not
changed), and ``pip freeze`` before and after must differ by coursekit alone. Notebooks 01 and
02 then execute there from top to bottom without an error.

Limits, stated: Colab runs Python 3.13, which is not available on these machines: the
environment uses the interpreter running the tests (3.11 here), so the wheels are the 3.11 builds
of the same versions. Colab's many other packages (and its older IPython, ipykernel, notebook)
are not reproduced: only what coursekit and the notebooks import. Building the environment
fetches about 800 MB of wheels (TensorFlow's alone is 590 MB; the 190 MB torch wheel is local)
and takes about a minute here, most of it unpacking: the build time is printed (and --durations).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
# Colab's versions (checked against a Colab runtime's `pip freeze`; update them together).
COLAB = [
    "numpy==2.1.3", "scipy==1.16.3", "scikit-learn==1.6.1", "pandas==2.2.3", "matplotlib==3.10.0",
    "tensorflow==2.20.0", "keras==3.13.2", "ipykernel", "tqdm", "pillow", "ipywidgets==7.7.1",
]
TORCH = "torch==2.13.0"  # Colab's version of PyTorch, as this repository's CPU wheel
KERNEL = "coursekit-colab"
INSTALL = re.compile(r"coursekit @ git\+https://[^\"']+")
EXECUTED = ("01_neurons", "02_activations")

pytestmark = pytest.mark.slow


def say(request, message: str) -> None:
    """Print past pytest's output capture: the timings belong in the test log."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\ncolab: {message}", flush=True)


def pip(python: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], check=True, capture_output=True, text=True,
                          env=kernel_env(python.parent.parent), **kwargs)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def freeze(python: Path) -> dict[str, str]:
    """``pip freeze --all``: name -> version (or the direct URL a package came from)."""
    out = pip(python, "freeze", "--all").stdout
    pins = {}
    for line in out.splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)\s*(?:==|@)\s*(.+)$", line.strip()):
            pins[canonical(m[1])] = m[2].strip()
    return pins


def kernel_env(venv: Path) -> dict[str, str]:
    """This process's environment, with ``venv`` first on PATH and nothing of .venv's."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(venv / "bin")] + [
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p).resolve() != (ROOT / ".venv" / "bin").resolve()])
    env["VIRTUAL_ENV"] = str(venv)
    env["COURSEKIT_PROGRESS"] = "0"
    return env


@pytest.fixture(scope="session")
def colab(tmp_path_factory, request):
    """The Colab-like environment: (its python, its freeze before any setup cell)."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    quiet = ["install", "--quiet", "--disable-pip-version-check"]
    wheels = os.environ.get("COURSEKIT_WHEELS") or "/opt/wheels"
    if any(Path(wheels).glob("torch-*.whl")):
        pip(python, *quiet, "--find-links", wheels, *COLAB, TORCH)
    else:  # PyPI's Linux torch is the CUDA build (GBs): PyTorch's CPU index, as tools/torch_source.py
        pip(python, *quiet, "--index-url", "https://download.pytorch.org/whl/cpu", TORCH)
        pip(python, *quiet, *COLAB)
    built = time.monotonic() - start

    # google.colab, as a module of a namespace package `google` (beside protobuf's google.protobuf)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (site / "google" / "colab" / "__init__.py").write_text(
        '"""A stand-in for Colab\'s google.colab (tests/test_colab.py): only its presence counts."""\n')
    # A kernel that imports it at start, as Colab's kernel does
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL,
                    "--display-name", "Python 3 (Colab stand-in)"], check=True, capture_output=True)
    spec = venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    kernel = json.loads(spec.read_text())
    kernel["argv"].append("--IPKernelApp.exec_lines=import google.colab")
    spec.write_text(json.dumps(kernel, indent=1))

    before = freeze(python)
    assert before["numpy"] == "2.1.3" and before["torch"].startswith("2.13.0"), before
    assert "coursekit" not in before
    say(request, f"environment built in {built:.0f} s ({len(before)} packages, "
                 f"Python {sys.version.split()[0]}; Colab's is 3.13, not available here)")
    return python, before


def colab_cells(stem: str, only_setup: bool) -> nbformat.NotebookNode:
    """The solution notebook (or only its setup cell) with its install pointed at this checkout."""
    nb = nbformat.read(str(ROOT / "solutions" / f"{stem}.ipynb"), as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert len(INSTALL.findall(setup.source)) == 1, f"{stem}: no `coursekit @ git+https://...` in setup"
    setup.source = INSTALL.sub(lambda _: f"coursekit @ {ROOT.as_uri()}", setup.source)
    if only_setup:
        nb.cells = [setup]
    return nb


def execute(python: Path, nb: nbformat.NotebookNode, workdir: Path, timeout: int) -> nbformat.NotebookNode:
    """Run ``nb`` in a fresh kernel of the Colab environment (nbclient from this process)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    venv = python.parent.parent
    specs = KernelSpecManager(kernel_dirs=[str(venv / "share" / "jupyter" / "kernels")])
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=km, kernel_name=KERNEL, timeout=timeout,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute(env=kernel_env(venv))
    return nb


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Every package added, removed or at another version, coursekit aside."""
    names = (before.keys() | after.keys()) - {"coursekit"}
    return sorted(f"{n}: {before.get(n, '-')} -> {after.get(n, '-')}" for n in names
                  if before.get(n) != after.get(n))


def outputs_text(nb) -> str:
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("stem", [p.stem for p in course_notebooks()])
def test_setup_cell_installs_coursekit_and_changes_no_colab_package(colab, stem, tmp_path, request):
    python, before = colab
    pip(python, "uninstall", "--yes", "coursekit")  # so that only this setup cell can install it
    start = time.monotonic()
    nb = execute(python, colab_cells(stem, only_setup=True), tmp_path, timeout=300)
    after = freeze(python)
    assert changed(before, after) == [], f"{stem}'s setup cell changed Colab's packages"
    assert after.get("coursekit", "").startswith("file:"), after.get("coursekit")  # it did install
    text = outputs_text(nb)
    assert "NumPy 2.1.3" in text, text  # it ran in the Colab environment
    say(request, f"{stem}: setup cell ran in {time.monotonic() - start:.1f} s, no package changed")


@pytest.mark.parametrize("stem", [s for s in EXECUTED if s in {p.stem for p in course_notebooks()}])
def test_notebook_runs_in_the_colab_environment(colab, stem, tmp_path, request):
    python, before = colab
    pip(python, "uninstall", "--yes", "coursekit")
    start = time.monotonic()
    nb = execute(python, colab_cells(stem, only_setup=False), tmp_path, timeout=300)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert changed(before, freeze(python)) == []
    say(request, f"{stem}: executed in {time.monotonic() - start:.1f} s")


def test_no_deps_install_changes_nothing_a_plain_install_would(colab, request):
    """What the setup cell's --no-deps avoids: `pip install --dry-run --report` of coursekit
    with and without it, in the untouched Colab environment's package set."""
    python, before = colab
    changes = {}
    for label, flags in (("--no-deps", ["--no-deps"]), ("plain", [])):
        out = pip(python, "install", "--dry-run", "--quiet", "--report", "-", *flags, str(ROOT)).stdout
        report = json.loads(out)
        changes[label] = sorted(
            f"{i['metadata']['name']} {before.get(canonical(i['metadata']['name']), '(new)')}"
            f" -> {i['metadata']['version']}" for i in report["install"]
            if canonical(i["metadata"]["name"]) != "coursekit")
    assert changes["--no-deps"] == []
    say(request, f"pip install --no-deps coursekit would change 0 packages; a plain install "
                 f"{len(changes['plain'])}: {', '.join(changes['plain'])}")
