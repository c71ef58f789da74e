"""coursekit: helpers and autograded checks for the deep-learning course.

``import coursekit`` stays light: submodules (and PyTorch or TensorFlow, which only
some of them need) load on first use of a name listed here.
"""

from __future__ import annotations

from coursekit._lazy import lazy_exports

__version__ = "0.1.0"

# The public repository: Colab badges, the Colab install line and raw figure URLs derive from it.
REPOSITORY = "dl-course/deep-learning-course"

# public name -> module that defines it (one definition of each thing)
_EXPORTS = {
    "get_device": "coursekit.device",
    "configure_threads": "coursekit.device",
    "seed_everything": "coursekit.seed",
    "show_figure": "coursekit.figures",
    "CheckFailed": "coursekit.checks.core",
}

__all__ = ["__version__", "REPOSITORY", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra=("__version__", "REPOSITORY"))
