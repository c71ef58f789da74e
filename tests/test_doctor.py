"""coursekit.instructor.doctor: the report, the exit code and the fix commands."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from coursekit.instructor import doctor

ROOT = Path(__file__).resolve().parents[1]


def fake_versions(monkeypatch, **overrides):
    """Make ``installed_version`` report ``overrides`` (dist -> version or None)."""
    real = doctor.installed_version

    def version(dists):
        for dist in dists:
            if dist in overrides:
                return overrides[dist]
        return real(dists)

    monkeypatch.setattr(doctor, "installed_version", version)


def test_everything_installed(capsys):
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    for req in doctor.REQUIREMENTS:
        assert req.label in out
    assert "Python" in out and "device: cpu" in out
    assert "OK: the course can run here." in out
    assert "To fix" not in out


def test_missing_optional_tensorflow_still_ok(monkeypatch, capsys):
    fake_versions(monkeypatch, tensorflow=None, **{"tensorflow-cpu": None, "tensorflow-macos": None})
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    assert "optional: missing" in out
    assert "TensorFlow (pip install 'coursekit[tf]') is needed for the Keras parts" in out


def test_missing_torch_fails_with_the_command(monkeypatch, capsys):
    fake_versions(monkeypatch, torch=None)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert "PyTorch: pip install 'coursekit[torch]'" in out
    assert "MISSING" in out and "NOT READY" in out
    assert "device: - (needs PyTorch)" in out


def test_missing_torch_in_colab_says_not_to_pip_install(monkeypatch, capsys):
    fake_versions(monkeypatch, torch=None)
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    assert doctor.main([]) == 1
    assert "Colab preinstalls it; do not pip install it" in capsys.readouterr().out


def test_old_core_package(monkeypatch, capsys):
    fake_versions(monkeypatch, numpy="1.21.6")
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert "TOO OLD" in out and "NumPy: pip install 'numpy>=1.24'" in out


def test_unsupported_python(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "PYTHON_MIN", (3, 99))
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert "UNSUPPORTED" in out and "Use Python 3.11, 3.12 or 3.13" in out


def test_broken_torch_does_not_crash_the_report(monkeypatch, capsys):
    import coursekit.device

    def broken(prefer=None):
        raise RuntimeError("libtorch missing")

    monkeypatch.setattr(coursekit.device, "get_device", broken)
    assert doctor.main([]) == 0
    assert "device: unknown (RuntimeError: libtorch missing)" in capsys.readouterr().out


def test_help_and_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        doctor.main(["--help"])
    assert exc.value.code == 0
    assert "coursekit doctor" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        doctor.main(["--bogus"])
    assert exc.value.code == 2


@pytest.mark.parametrize("installed, minimum, ok", [
    ("2.13.0+cpu", "2.2", True), ("2.2", "2.2.0", True), ("1.9.1", "1.10", False),
    ("0.9.6", "0.9", True), ("3.0.0rc1", "3.0", True), ("garbage", "1.0", False),
])
def test_version_at_least(installed, minimum, ok):
    assert doctor.version_at_least(installed, minimum) is ok


def test_minimums_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    declared = {}
    for spec in specs:
        name, _, rest = spec.partition(">=")
        if rest:
            declared[name.strip()] = rest.split(",")[0].strip()
    for req in doctor.REQUIREMENTS:
        assert declared.get(req.dists[0]) == req.minimum, req.label
    assert project["requires-python"] == ">=3.11,<3.14"
    assert (doctor.PYTHON_MIN, doctor.PYTHON_MAX) == ((3, 11), (3, 13))


def test_does_not_import_tensorflow():
    code = ("import sys; from coursekit.instructor.doctor import main; rc = main([]); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "raise SystemExit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
