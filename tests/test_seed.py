"""coursekit.seed: every generator repeats; TensorFlow is seeded only when already imported."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from coursekit.seed import seed_everything


def draw() -> tuple:
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def test_repeatable_and_returns_seed(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    assert seed_everything(123) == 123
    first = draw()
    seed_everything(123)
    assert draw() == first
    assert os.environ["PYTHONHASHSEED"] == "123"
    seed_everything(124)
    assert draw() != first


def test_default_seed_is_zero(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    assert seed_everything() == 0
    assert seed_everything(np.int64(5)) == 5


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", None, True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be"):
        seed_everything(bad)


def test_seeds_keras_and_tf_only_when_imported(monkeypatch):
    calls = []
    fake_keras = types.ModuleType("keras")
    fake_keras.utils = types.SimpleNamespace(set_random_seed=lambda s: calls.append(("keras", s)))
    fake_tf = types.ModuleType("tensorflow")
    fake_tf.random = types.SimpleNamespace(set_seed=lambda s: calls.append(("tf", s)))
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)

    seed_everything(7)
    assert calls == []
    monkeypatch.setitem(sys.modules, "keras", fake_keras)
    monkeypatch.setitem(sys.modules, "tensorflow", fake_tf)
    seed_everything(7)
    assert calls == [("keras", 7), ("tf", 7)]


def test_does_not_import_tensorflow():
    code = ("import sys; from coursekit.seed import seed_everything; seed_everything(1); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "assert 'torch' in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
def test_real_keras_is_seeded():
    """Imports TensorFlow (seconds), so marked slow."""
    code = (
        "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
        "import keras\n"
        "from coursekit.seed import seed_everything\n"
        "seed_everything(3); a = keras.random.normal((4,)).numpy().tolist()\n"
        "seed_everything(3); b = keras.random.normal((4,)).numpy().tolist()\n"
        "assert a == b, (a, b)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
