"""The course notebooks: template, single source, no leaks, executed and deterministic storage."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import course_notebooks

from coursekit.instructor import nbformat_utils as nbu
from coursekit.instructor.release import build_release, release
from coursekit.instructor.template import template_problems

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = course_notebooks()


def _blocks(text: str, begin: str, end: str) -> list[str]:
    return [m.strip() for m in re.findall(rf"### {begin}\n(.*?)### {end}", text, re.S)]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_notebook_follows_the_template(path):
    assert template_problems(nbu.read(path), path.stem) == []


_FAKE_PIP = """import json, os, sys
with open(os.environ["FAKE_PIP_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""
_RUN_SETUP_TWICE = """import sys
source = open(sys.argv[1]).read()
exec(compile(source, "setup", "exec"), {"__name__": "__main__"})   # a local Jupyter
print("--- now as in Colab ---", flush=True)
import google.colab  # noqa: F401 - the stand-in
exec(compile(source, "setup", "exec"), {"__name__": "__main__"})
"""


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_setup_cell_installs_coursekit_alone_in_colab_and_nothing_elsewhere(path, tmp_path):
    """Run the setup cell with a stand-in pip: outside Colab it installs nothing; in Colab exactly
    this release of coursekit from the repository in pyproject.toml, without its dependencies
    (so nothing Colab preinstalled is upgraded or reinstalled), and no other package."""
    from coursekit.instructor.course import identity, install_spec

    fakes = tmp_path / "fakes"
    (fakes / "pip").mkdir(parents=True)
    (fakes / "pip" / "__init__.py").write_text("")
    (fakes / "pip" / "__main__.py").write_text(_FAKE_PIP)
    (fakes / "google" / "colab").mkdir(parents=True)  # a namespace "google", as protobuf's is
    (fakes / "google" / "colab" / "__init__.py").write_text("")
    setup = next(c for c in nbu.read(path).cells if c.get("id") == "setup")
    (tmp_path / "setup.py").write_text(setup.source)
    (tmp_path / "run.py").write_text(_RUN_SETUP_TWICE)
    log = tmp_path / "pip.log"
    env = {**os.environ, "PYTHONPATH": str(fakes), "FAKE_PIP_LOG": str(log), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "setup.py")],
                            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    assert len(calls) == 1, calls  # once, in Colab only
    args = calls[0]
    assert args[0] == "install" and "--no-deps" in args
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(args)
    requirements = [a for a in args[1:] if not a.startswith("-")]
    assert requirements == [install_spec(*identity(ROOT))]


def test_setup_cells_install_the_version_this_checkout_is():
    import coursekit
    from coursekit.instructor.course import identity

    repository, version = identity(ROOT)
    assert version == coursekit.__version__ and repository == coursekit.REPOSITORY


def test_template_validator_catches_missing_parts():
    # 01's own cells (check_weighted_sum), whichever notebooks COURSEKIT_TEST_NOTEBOOKS selects
    path = ROOT / "solutions" / "01_neurons.ipynb"
    nb = nbu.read(path)
    nb.cells = [c for c in nb.cells if not c.source.startswith("## Learning objectives")
                and not c.source.lstrip().startswith("check_weighted_sum(")]
    problems = template_problems(nb, path.stem)
    assert any("Learning objectives" in p for p in problems)
    assert any("'weighted_sum' must be followed by its graded check" in p for p in problems)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_are_stored_executed_and_clean(path):
    nb = nbu.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "execute with `coursekit run --save`"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert path.read_text() == nbu.dumps(nbu.clean(nbu.read(path), keep_outputs=True)), \
        "stray metadata: save with `coursekit run --save`"
    assert not re.search(r"/(home|root|tmp|Users)/\w", path.read_text()), "machine-specific path"


def test_student_notebooks_are_in_sync_with_solutions(released):
    stale = [name for name, text in released.items()
             if (ROOT / "notebooks" / name).read_text(encoding="utf-8") != text]
    assert stale == [], f"run `coursekit release`: {stale}"
    if len(SOLUTIONS) == len(list((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))):
        assert sorted(released) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    from coursekit.instructor.release import sync_solutions

    assert sync_solutions(ROOT, check=True) == [], "run `coursekit release`"


def test_release_is_deterministic(released):
    first = SOLUTIONS[0].name
    assert build_release(ROOT, stems=[SOLUTIONS[0].stem]) == {first: released[first]}


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def test_release_check_names_a_stale_notebook_and_a_fork_s_repository(tmp_path):
    """An edit nobody released, then a fork's new repository: --check names both, release fixes."""
    name = SOLUTIONS[0].name
    for folder in ("solutions", "notebooks"):
        (tmp_path / folder).mkdir()
        shutil.copy(ROOT / folder / name, tmp_path / folder / name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(pyproject)
    shutil.copytree(ROOT / "imgs", tmp_path / "imgs")
    nb = nbu.read(tmp_path / "solutions" / name)
    nb.cells[0].source += "\n\nAn edit an instructor forgot to release."
    nbu.write(nb, tmp_path / "solutions" / name)
    result = _cli(tmp_path, "release", "--check")
    assert result.returncode == 1 and f"stale: notebooks/{name}" in result.stdout, result.stdout

    (tmp_path / "pyproject.toml").write_text(pyproject.replace(
        "https://github.com/dl-course/deep-learning-course", "https://github.com/a-fork/dl"))
    result = _cli(tmp_path, "release", "--check")
    assert f"stale: solutions/{name}" in result.stdout, result.stdout
    fixed = _cli(tmp_path, "release")
    assert fixed.returncode == 0 and release(tmp_path, check=True) == []
    text = (tmp_path / "notebooks" / name).read_text()
    assert "colab.research.google.com/github/a-fork/dl/blob/main/notebooks/" in text
    assert "git+https://github.com/a-fork/dl@v" in text
    assert "dl-course/deep-learning-course" not in text


@pytest.mark.slow
def test_run_takes_a_notebook_by_name_and_prints_its_metric(tmp_path):
    """`coursekit run 01_neurons` as `release` names it; a name that is no notebook says so."""
    path = SOLUTIONS[0]
    (tmp_path / "solutions").mkdir()
    shutil.copy(path, tmp_path / "solutions" / path.name)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = _cli(tmp_path, "run", "--quiet", path.stem)
    row = next((line for line in result.stdout.splitlines() if line.startswith(path.stem + " ")), "")
    assert result.returncode == 0 and " ok " in row and "=" in row, result.stdout + result.stderr
    assert path.read_text() == (tmp_path / "solutions" / path.name).read_text()  # no --save
    missing = _cli(tmp_path, "run", "99_nothing")
    assert missing.returncode == 2 and "not found" in missing.stderr, missing.stderr


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_no_solution_or_hidden_test_reaches_students(path):
    source = path.read_text()
    student_path = ROOT / "notebooks" / path.name
    student = student_path.read_text()
    assert nbu.find_markers(student) == []
    student_code = "\n".join(c.source for c in nbu.read(student_path).cells)
    src_nb = nbu.read(path)
    for cell in src_nb.cells:
        for block in (_blocks(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                      + _blocks(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 12 and not line.startswith("#"):
                    assert line not in student_code, f"leaked into {student_path.name}: {line}"
    assert all(not c.get("outputs") for c in nbu.read(student_path).cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" in source  # the source really has solutions to hide


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", str(ROOT), "-w", str(out)], check=True, timeout=600,
                   cwd=tmp_path_factory.mktemp("build-cwd"))
    return next(out.glob("coursekit-*.whl"))


@pytest.mark.slow
def test_built_wheel_has_no_solutions_or_hidden_tests(built_wheel):
    import zipfile

    with zipfile.ZipFile(built_wheel) as zf:
        names = zf.namelist()
        contents = "\n".join(zf.read(n).decode("utf-8", "replace") for n in names
                             if n.endswith((".py", ".txt", ".json", ".ipynb", ".md")))
    assert not any(n.endswith(".ipynb") or n.startswith(("solutions/", "notebooks/")) for n in names)
    # coursekit's own code names the markers in strings; a marker standing as a line is a leak
    marker_lines = re.findall(r"^\s*### (?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)\s*$", contents, re.M)
    assert marker_lines == []
    for path in SOLUTIONS:
        for cell in nbu.read(path).cells:
            for block in (_blocks(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                          + _blocks(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
                if block.count("\n") >= 1:  # multi-line blocks: a one-liner can coincide
                    assert block not in contents, block


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_figures_show_before_anything_runs(path):
    """The animated figures are attachments of markdown cells, in the student notebook too:
    JupyterLab, GitHub and Colab show them without running a cell, without the repository."""
    import base64

    student = nbu.read(ROOT / "notebooks" / path.name)
    shown = 0
    for cell in student.cells:
        for name in re.findall(r"\(attachment:([\w-]+\.gif)\)", cell.source):
            data = (cell.get("attachments") or {}).get(name, {}).get("image/gif", "")
            assert base64.b64decode(data) == (ROOT / "imgs" / name).read_bytes(), name
            shown += 1
    assert not any("show_figure(" in c.source for c in student.cells if c.cell_type == "code")
    assert shown == len(re.findall(r"attachment:[\w-]+\.gif", path.read_text()))


def _text(output) -> str:
    return str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_run_all_on_the_fresh_student_notebook_reaches_the_end(path, tmp_path):
    """What a student sees first (definition of done, 7): Run All on the untouched notebook runs
    to the last cell without an error; each check says "not attempted"; every plotting cell shows
    its figure, or says which unfinished exercise it waits for (a figure shown by plt.show()
    before that point stays: it was complete)."""
    from coursekit.instructor.runner import execute

    nb = nbu.read(ROOT / "notebooks" / path.name)
    execute(nb, tmp_path, progress=False)  # raises at the first cell that fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    for cell in code:
        images = sum("image/png" in o.get("data", {}) for o in cell.outputs)
        skipped = any("⏭ skipped: this cell needs" in _text(o) for o in cell.outputs)
        if re.search(r"^check_\w+\(", cell.source, re.M):
            assert any("not attempted yet" in _text(o) for o in cell.outputs), cell.source[:80]
        if "plt.show()" in cell.source:
            assert images > 0 or skipped, cell.source[:120]
