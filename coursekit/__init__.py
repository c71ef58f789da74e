"""coursekit: helpers and autograded checks for the deep-learning course.

``import coursekit`` stays light: submodules (and PyTorch or TensorFlow, which only
some of them need) load on first use of a name listed here.
"""

from __future__ import annotations

from coursekit._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it (one definition of each thing)
_EXPORTS = {
    "get_device": "coursekit.device",
    "configure_threads": "coursekit.device",
    "seed_everything": "coursekit.seed",
    "show_figure": "coursekit.figures",
    "CheckFailed": "coursekit.checks.core",
    "progress": "coursekit.tracking",
    # "owner/name" on GitHub, from pyproject.toml's [project.urls] (read when first asked for)
    "REPOSITORY": "coursekit._about",
}

__all__ = ["__version__", "REPOSITORY", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra=("__version__",))
