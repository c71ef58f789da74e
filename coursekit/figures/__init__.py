"""The course's figures: animated GIFs drawn by code, and one helper that shows them anywhere.

In a notebook::

    from coursekit import show_figure
    show_figure("neuron")          # or "neuron.gif"

To regenerate ``imgs/`` after changing a figure's code (``python -m coursekit.figures`` works
too)::

    coursekit figures                      # every figure
    coursekit figures neuron layers        # only these
    coursekit figures --check              # exit 1 if imgs/ is out of date

Each figure lives in one module (``neuron``, ``activation``, ``network``, ``convolution``,
``attention``) as a ``draw(fig, step)`` function and a timeline of steps; ``_gif`` renders the
frames with Agg and writes them with Pillow. Importing this package does not import
matplotlib: ``show_figure`` only reads bytes.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from pathlib import Path

from coursekit import REPOSITORY

__all__ = ["FIGURES", "RAW_BASE_URL", "build", "check", "figure_bytes", "generate", "main",
           "repository_imgs", "show_figure"]

# Figures in the wheel: setuptools maps the package coursekit._imgs to the top-level imgs/.
PACKAGE_DATA = "coursekit._imgs"
RAW_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/imgs/"
FETCH_TIMEOUT_S = 15

# figure name -> (module, function returning its Animation)
FIGURES = {
    "neuron": ("coursekit.figures.neuron", "build"),
    "activation": ("coursekit.figures.activation", "build"),
    "layers": ("coursekit.figures.network", "build_layers"),
    "backprop": ("coursekit.figures.network", "build_backprop"),
    "convolution": ("coursekit.figures.convolution", "build"),
    "attention": ("coursekit.figures.attention", "build"),
}

# With other library versions than the committed GIFs were drawn with, text may rasterise
# a little differently: then up to this fraction of a frame's pixels may differ.
OTHER_VERSIONS_TOLERANCE = 0.10


def _filename(name: str) -> str:
    """'neuron' or 'neuron.gif' -> 'neuron.gif' (a bare name, never a path)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+(\.(gif|png))?", name):
        raise ValueError(f"figure name {name!r}: expected a bare name such as 'neuron' or "
                         "'neuron.gif' (letters, digits, '-' and '_', no folders)")
    return name if "." in name else f"{name}.gif"


def repository_imgs() -> Path | None:
    """The checkout's ``imgs/`` folder when coursekit runs from a checkout, else None."""
    import coursekit

    root = Path(coursekit.__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "imgs").is_dir():
        return root / "imgs"
    return None


def _package_bytes(filename: str) -> bytes | None:
    """The copy shipped in the installed package, or None."""
    from importlib import resources

    try:
        resource = resources.files(PACKAGE_DATA) / filename
    except ModuleNotFoundError:  # a checkout that was never pip-installed
        return None
    return resource.read_bytes() if resource.is_file() else None


def _fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        data = response.read()
    if not data.startswith((b"GIF87a", b"GIF89a", b"\x89PNG\r\n\x1a\n")):
        raise ValueError(f"the server answered with {len(data)} bytes that are not an image")
    return data


def figure_bytes(name: str) -> tuple[bytes, str]:
    """The bytes of ``imgs/<name>`` and where they came from.

    Looks in (1) the repository checkout's ``imgs/``, (2) the copy inside the installed
    package, (3) ``RAW_BASE_URL`` (the network only when neither local copy exists).
    Raises FileNotFoundError, saying where it looked, when all three fail.
    """
    filename = _filename(name)
    tried = []
    imgs = repository_imgs()
    if imgs is not None and (imgs / filename).is_file():
        return (imgs / filename).read_bytes(), str(imgs / filename)
    tried.append(f"{imgs / filename if imgs else 'imgs/'} (repository checkout): "
                 + ("no such file" if imgs else "coursekit is not running from a checkout"))
    data = _package_bytes(filename)
    if data is not None:
        return data, f"{PACKAGE_DATA}/{filename}"
    tried.append(f"{PACKAGE_DATA}/{filename} (installed package): no such file")
    url = RAW_BASE_URL + filename
    try:
        return _fetch(url), url
    except (OSError, ValueError) as err:  # URLError and HTTPError are OSErrors
        tried.append(f"{url}: {err}")
    known = ", ".join(FIGURES)
    raise FileNotFoundError(
        f"figure {filename!r} not found. Looked in:\n"
        + "".join(f"  {i}. {t}\n" for i, t in enumerate(tried, 1))
        + f"Known figures: {known}. In a checkout, `coursekit figures` regenerates imgs/; "
        "in Colab, rerun the setup cell (it installs coursekit with its figures) or check "
        "that the runtime is connected to the internet."
    )


def show_figure(name: str):
    """Display ``imgs/<name>.gif`` in a notebook (JupyterLab, Colab, nbval): an embedded Image.

    The bytes are embedded in the output, so the figure also shows in Colab and in saved
    notebooks. ``name`` is 'neuron' or 'neuron.gif'; see ``figure_bytes`` for where it looks.
    """
    from IPython.display import Image

    data, _ = figure_bytes(name)
    return Image(data=data, format=_filename(name).rsplit(".", 1)[1])


# --- generating imgs/ ---------------------------------------------------------------------


def build(name: str):
    """The Animation of figure ``name`` (imports matplotlib)."""
    stem = _filename(name).rsplit(".", 1)[0]
    if stem not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
    module, function = FIGURES[stem]
    return getattr(importlib.import_module(module), function)()


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def generate(names=None, out_dir: Path | str | None = None, log=print) -> dict[str, Path]:
    """Render figures (all by default) into ``out_dir`` (default: the checkout's imgs/)."""
    from coursekit.figures import _gif

    out = Path(out_dir) if out_dir is not None else repository_imgs()
    if out is None:
        raise FileNotFoundError("coursekit is not running from a repository checkout, so there "
                                "is no imgs/ folder to write; pass an output folder (--out DIR)")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in names or FIGURES:
        start = time.perf_counter()
        anim = build(name)
        path = out / f"{anim.name}.gif"
        data = _gif.write(anim, path)
        written[anim.name] = path
        if log:
            log(f"{_shown(path):<24} {anim.n_frames:3d} frames  {len(data) / 1024:6.1f} KB  "
                f"{time.perf_counter() - start:5.1f} s")
    return written


def difference(committed: bytes, fresh: bytes) -> str | None:
    """None when two GIFs of a figure show the same thing, else what differs.

    Same library versions (read from the GIF comments): every pixel must match. Other
    versions: frame count and durations must match, and at most OTHER_VERSIONS_TOLERANCE of
    each frame's pixels may differ (text rasterises differently across freetype releases).
    """
    import numpy as np

    from coursekit.figures._gif import decode

    if committed == fresh:
        return None
    try:
        old, old_ms, old_comment = decode(committed)
    except (OSError, ValueError, EOFError) as err:
        return f"it cannot be read as a GIF ({err})"
    new, new_ms, new_comment = decode(fresh)
    if len(old) != len(new):
        return f"{len(old)} frames, the code now draws {len(new)}"
    if old_ms != new_ms:
        return "the frame durations changed"
    changed = max(float(np.mean(np.any(a != b, axis=-1))) for a, b in zip(old, new, strict=True))
    if changed == 0:
        return None
    if old_comment == new_comment:
        return f"the pixels changed (up to {changed:.1%} of a frame)"
    if changed > OTHER_VERSIONS_TOLERANCE:
        return (f"up to {changed:.1%} of a frame's pixels changed (drawn with "
                f"{old_comment!r}, now {new_comment!r})")
    return None


def check(imgs_dir: Path | str | None = None, names=None, log=print) -> list[str]:
    """Problems with ``imgs_dir`` (default: the checkout's imgs/): stale, missing or stray files."""
    import tempfile

    imgs = Path(imgs_dir) if imgs_dir is not None else repository_imgs()
    if imgs is None:
        raise FileNotFoundError("no imgs/ folder to check: pass one")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(names, tmp, log=None)
        for path in fresh.values():
            committed = imgs / path.name
            if not committed.is_file():
                problems.append(f"{committed} is missing")
            elif (why := difference(committed.read_bytes(), path.read_bytes())) is not None:
                problems.append(f"{committed} is out of date: {why}")
    if names is None:
        made = {f"{name}.gif" for name in FIGURES}
        problems += [f"{p} is not drawn by any figure in coursekit.figures (add one, or delete it)"
                     for p in sorted(imgs.iterdir()) if p.is_file() and p.name not in made]
    for problem in problems:
        if log:
            log(problem)
    return problems


def main(argv: list[str] | None = None) -> int:
    """``coursekit figures [NAME ...] [--out DIR] [--check]``: regenerate (or check) imgs/."""
    parser = argparse.ArgumentParser(
        prog="coursekit figures",
        description="Regenerate the course's animated figures in imgs/ (deterministic: "
                    "same code and library versions give the same bytes).")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"figures to draw (default: all): {', '.join(FIGURES)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="write here instead of the repository's imgs/")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the GIFs in imgs/ (or --out) are out "
                             "of date, missing or not drawn by any figure")
    args = parser.parse_args(argv)
    try:
        names = [_filename(n).rsplit(".", 1)[0] for n in args.names] or None
        for name in names or ():
            if name not in FIGURES:
                raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
        if args.check:
            problems = check(args.out, names)
            if problems:
                print(f"{len(problems)} problem(s); run `coursekit figures` to regenerate.",
                      file=sys.stderr)
                return 1
            print("imgs/ is up to date.")
            return 0
        start = time.perf_counter()
        written = generate(names, args.out)
        print(f"{len(written)} figure(s) in {time.perf_counter() - start:.1f} s")
        return 0
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
