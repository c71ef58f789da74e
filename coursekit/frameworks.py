"""TensorFlow and Keras, imported without the wall of start-up logs.

TensorFlow's C++ core writes several lines to the process's stderr when it loads (oneDNN notes,
"could not find cuda drivers", absl's "log messages before InitializeLog"), before any Python
setting can silence them, and a notebook shows them in red under the cell. ``import_keras()``
loads TensorFlow with the process's stderr pointed at /dev/null for the length of the import
(and TF_CPP_MIN_LOG_LEVEL=3 for what comes later, unless set already); errors still raise as
usual. PyTorch users never pay for any of it: nothing here runs until called.

    from coursekit.frameworks import import_keras
    keras = import_keras()
"""

from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType


@contextlib.contextmanager
def silenced_stderr():
    """The process's stderr (file descriptor 2, where C++ libraries write) pointed at /dev/null
    for the block; Python's exceptions still raise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> ModuleType:
    """``import tensorflow``, quietly (see the module docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with silenced_stderr():
        import tensorflow
    return tensorflow


def import_keras() -> ModuleType:
    """``import keras`` (Keras 3 on TensorFlow), quietly (see the module docstring)."""
    import_tensorflow()
    with silenced_stderr():
        import keras
    return keras
