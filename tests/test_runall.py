"""Run All goes on past unfinished exercises (coursekit.runall), and nothing else changes."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from coursekit import runall
from coursekit.checks.core import GRADING_ENV


@pytest.fixture
def shell(monkeypatch):
    monkeypatch.delenv(GRADING_ENV, raising=False)
    ip = InteractiveShell.instance()
    ip.ast_transformers[:] = [t for t in ip.ast_transformers if not isinstance(t, runall._Guard)]
    assert runall.enable()
    yield ip
    ip.ast_transformers[:] = [t for t in ip.ast_transformers if not isinstance(t, runall._Guard)]


def _run(ip, code: str):
    return ip.run_cell(code, store_history=True)


def test_a_cell_needing_a_stub_is_skipped_and_says_which(shell, capsys):
    _run(shell, "def dense_layer(X):\n    raise NotImplementedError()")
    result = _run(shell, "out = dense_layer(3)\nmodel = out * 2")
    assert result.success
    assert "⏭ skipped: this cell needs your dense_layer, not attempted yet" in capsys.readouterr().out
    result = _run(shell, "print(model)")  # needs a name the skipped cell would have defined
    assert result.success
    assert "needs your dense_layer" in capsys.readouterr().out


def test_a_skipped_cell_shows_no_half_drawn_figure(shell, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _run(shell, "def train(X):\n    raise NotImplementedError()")
    _run(shell, "history = train(3)")
    result = _run(shell, "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
                         "ax.plot([1, 2])\nax.plot(history)")
    assert result.success and "needs your train" in capsys.readouterr().out
    assert plt.get_fignums() == []  # nothing left for the inline backend to show
    result = _run(shell, "fig, ax = plt.subplots()\nax.plot([1, 2])")  # a plot that works stays
    assert result.success and len(plt.get_fignums()) == 1
    plt.close("all")


def test_real_errors_still_stop_the_run_and_values_still_display(shell, capsys):
    assert not _run(shell, "1 / 0").success
    assert not _run(shell, "print(undefined_name_xyz)").success
    result = _run(shell, "x = 20\nx + 1")
    assert result.success and result.result == 21
    assert not _run(shell, "raise NotImplementedError('library feature missing')").success


def test_nothing_changes_when_grading(monkeypatch):
    monkeypatch.setenv(GRADING_ENV, "1")
    assert runall.enable() is False
