"""TensorFlow and Keras load without their start-up logs (coursekit.frameworks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SOLUTION_07 = Path(__file__).resolve().parents[1] / "solutions" / "07_cnn.ipynb"


def _stderr_of(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_keras_loads_and_trains_without_a_line_on_stderr():
    quiet = _stderr_of(
        "from coursekit.frameworks import import_keras\n"
        "import numpy as np\n"
        "keras = import_keras()\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
        "m.compile('adam', 'mse')\n"
        "m.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)\n")
    assert quiet == ""


def test_grading_a_keras_notebook_prints_no_tensorflow_lines():
    """The grader runs the locked cells' imports (07's `from keras import layers`) in its own
    process for every submission: the instructor's terminal stays clean."""
    quiet = _stderr_of(
        "from pathlib import Path\n"
        "import nbformat\n"
        "from coursekit.instructor.sandbox.grade import run_prelude\n"
        f"nb = nbformat.read({str(SOLUTION_07)!r}, as_version=4)\n"
        "ns = {}\n"
        "run_prelude(nb, ns, '07_cnn')\n"
        "assert 'layers' in ns and 'keras' in ns['layers'].__name__\n")
    assert quiet == ""
