"""``coursekit doctor``: can this Python run the course? Prints versions and fixes.

Versions are read with ``importlib.metadata`` (from the installed package metadata), so
TensorFlow is never imported and the check takes well under a second apart from PyTorch,
which is imported once to find the device.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata

PYTHON_MIN = (3, 11)
PYTHON_MAX = (3, 13)  # newest supported minor version (pyproject: <3.14)


@dataclass(frozen=True)
class Requirement:
    """One component the course uses."""

    label: str  # shown in the table
    dists: tuple[str, ...]  # distribution names that provide it (first found wins)
    minimum: str  # lowest supported version
    group: str  # "core", "torch", "tf", "grading" or "dev" (pyproject extras)
    fix: str  # the command that installs it
    needed_for: str  # said when an optional one is missing


REQUIREMENTS = (
    Requirement("NumPy", ("numpy",), "1.24", "core", "pip install 'numpy>=1.24'", "everything"),
    Requirement("PyTorch", ("torch",), "2.2", "torch", "pip install 'coursekit[torch]'",
                "every notebook's models and checks"),
    Requirement("TensorFlow", ("tensorflow", "tensorflow-cpu", "tensorflow-macos"), "2.16", "tf",
                "pip install 'coursekit[tf]'",
                "the Keras parts (notebooks 04, 06 and 07); the rest runs without it"),
    Requirement("Keras", ("keras",), "3.0", "tf", "pip install 'coursekit[tf]'",
                "the Keras parts (notebooks 04, 06 and 07); the rest runs without it"),
    Requirement("scikit-learn", ("scikit-learn",), "1.3", "core",
                "pip install 'scikit-learn>=1.3'", "the bundled datasets and metric checks"),
    Requirement("matplotlib", ("matplotlib",), "3.7", "core", "pip install 'matplotlib>=3.7'",
                "every plot"),
    Requirement("tqdm", ("tqdm",), "4.65", "core", "pip install 'tqdm>=4.65'",
                "progress bars in coursekit.train"),
    Requirement("ipywidgets", ("ipywidgets",), "7.6", "core", "pip install 'ipywidgets>=7.6'",
                "progress bars in notebooks"),
    Requirement("nbgrader", ("nbgrader",), "0.9", "grading", "pip install 'coursekit[grading]'",
                "instructors only: generating and grading assignments"),
    Requirement("JupyterLab", ("jupyterlab",), "4", "grading", "pip install 'coursekit[grading]'",
                "running the notebooks locally (Colab and VS Code do not need it)"),
    Requirement("nbval", ("nbval",), "0.11", "dev", "pip install 'coursekit[dev]'",
                "developers only: testing the notebooks"),
)
REQUIRED_GROUPS = ("core", "torch")


def parse_version(text: str) -> tuple[int, ...]:
    """Leading numeric release of a version string: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    match = re.match(r"\d+(\.\d+)*", text.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def version_at_least(installed: str, minimum: str) -> bool:
    """``installed >= minimum`` comparing release numbers (``"2.2"`` equals ``"2.2.0"``)."""
    a, b = parse_version(installed), parse_version(minimum)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) >= b + (0,) * (width - len(b))


def installed_version(dists: tuple[str, ...]) -> str | None:
    """Version of the first installed distribution among ``dists``, else None."""
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def in_colab() -> bool:
    """True inside Google Colab (where frameworks are preinstalled)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _device_line() -> str:
    try:
        from coursekit.device import get_device

        device = get_device()
    except Exception as err:  # a broken torch install must not crash the report
        return f"unknown ({type(err).__name__}: {err})"
    if device.type == "cpu":
        hint = ("in Colab: Runtime > Change runtime type > GPU" if in_colab()
                else "no GPU found; the notebooks' small CPU configurations run fine")
        return f"cpu ({hint}; {os.cpu_count()} CPU cores)"
    return str(device)


def main(argv: list[str] | None = None) -> int:
    """Print what is installed and what to fix; return 0 when the course can run.

    Args:
        argv: arguments after ``coursekit doctor`` (none are needed; ``--help`` works).

    Returns:
        0 if Python is supported and every core package and PyTorch are installed and
        recent enough (TensorFlow/Keras and the grading tools are optional: missing ones
        are listed with the notebooks that need them), else 1.
    """
    parser = argparse.ArgumentParser(prog="coursekit doctor", description=main.__doc__.splitlines()[0])
    parser.parse_args(argv if argv is not None else [])  # never sys.argv: a kernel's argv is not ours

    rows: list[tuple[str, str, str, str]] = []
    fixes: list[str] = []
    notes: list[str] = []
    ok = True

    py = platform.python_version()
    py_ok = PYTHON_MIN <= sys.version_info[:2] <= PYTHON_MAX
    rows.append(("Python", py, "3.11-3.13", "ok" if py_ok else "UNSUPPORTED"))
    if not py_ok:
        ok = False
        fixes.append("Use Python 3.11, 3.12 or 3.13 (e.g. a new virtual environment: "
                     "python3.12 -m venv .venv)")

    for req in REQUIREMENTS:
        version = installed_version(req.dists)
        required = req.group in REQUIRED_GROUPS
        if version is not None and version_at_least(version, req.minimum):
            status = "ok"
        elif required:
            status = "MISSING" if version is None else "TOO OLD"
            ok = False
            if in_colab() and req.group == "torch":
                fixes.append(f"{req.label}: Colab preinstalls it; do not pip install it: "
                             "Runtime > Disconnect and delete runtime, then run the setup cell again")
            else:
                fixes.append(f"{req.label}: {req.fix}")
        else:
            status = "optional: missing" if version is None else "optional: too old"
            notes.append(f"{req.label} ({req.fix}) is needed for {req.needed_for}")
        rows.append((req.label, version or "-", f">={req.minimum}", status))

    torch_ok = all(r[3] == "ok" for r in rows if r[0] == "PyTorch")
    widths = [max(len(r[i]) for r in [("component", "installed", "needs", "status"), *rows])
              for i in range(4)]
    for row in [("component", "installed", "needs", "status"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\ndevice: {_device_line() if torch_ok else '- (needs PyTorch)'}")

    if fixes:
        print("\nTo fix (then restart the kernel):")
        for line in fixes:
            print(f"  - {line}")
    if notes:
        print("\nOptional:")
        for line in notes:
            print(f"  - {line}")
    print("\n" + ("OK: the course can run here." if ok
                  else "NOT READY: fix the items above, then run `coursekit doctor` again."))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
