"""A student's progress: recorded by the checks in a local file, shown as a table and a chart."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from coursekit import tracking
from coursekit.checks.core import GRADING_ENV
from coursekit.checks.neurons import check_count_parameters, check_weighted_sum


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "data" / "progress.jsonl"
    monkeypatch.setenv("COURSEKIT_PROGRESS", "1")
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(path))
    monkeypatch.delenv(GRADING_ENV, raising=False)
    return path


def _stub(*args):
    raise NotImplementedError()


def test_checks_record_their_latest_outcome_per_exercise(progress_file):
    check_weighted_sum(_stub)
    with pytest.raises(AssertionError):
        check_weighted_sum(lambda x, w, b: 0.0)
    check_weighted_sum(lambda x, w, b: float(np.dot(x, w) + b))
    check_count_parameters(_stub)
    latest = tracking.load()["01_neurons"]
    assert latest["weighted_sum"]["outcome"] == "passed"
    assert latest["count_parameters"]["outcome"] == "not attempted"
    assert tracking.summary() == [("01_neurons", 1, 0, 5)]
    assert "01_neurons" in tracking.table()


def test_nothing_is_recorded_when_grading_or_turned_off(progress_file, monkeypatch):
    monkeypatch.setenv(GRADING_ENV, "1")
    check_weighted_sum(lambda x, w, b: float(np.dot(x, w) + b))
    monkeypatch.delenv(GRADING_ENV)
    monkeypatch.setenv("COURSEKIT_PROGRESS", "0")
    check_weighted_sum(lambda x, w, b: float(np.dot(x, w) + b))
    assert not progress_file.exists()


def test_a_corrupt_or_unwritable_file_never_breaks_a_check(progress_file, capsys):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_bytes(b"\xff\xfe not json\n{\"notebook\": 3}\n")
    check_weighted_sum(lambda x, w, b: float(np.dot(x, w) + b))
    assert tracking.summary() == [("01_neurons", 1, 0, 5)]
    progress_file.unlink()
    progress_file.mkdir()  # a folder where the file should be: writing fails, quietly
    check_weighted_sum(lambda x, w, b: float(np.dot(x, w) + b))
    assert "✅ weighted_sum" in capsys.readouterr().out
    assert tracking.load() == {}


def test_the_command_and_the_chart(progress_file):
    check_weighted_sum(lambda x, w, b: float(np.dot(x, w) + b))
    out = subprocess.run([sys.executable, "-m", "coursekit.cli", "progress"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "01_neurons" in out.stdout and str(progress_file) in out.stdout
    import matplotlib

    matplotlib.use("Agg")
    import coursekit

    fig = coursekit.progress()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["01_neurons"]
